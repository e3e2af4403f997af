"""Device-side interrupt causes of QEMU device models, declared per model.

Each model says which functions it drives (vendor:device ids), what a driver would set up at start so
its causes reach MSI-X vectors, which causes exist and which vector each raises, and how to make the
device raise one: a register write (e1000e ICS, edu's raise register), a real command through a
queue in guest RAM (an NVMe Identify on the admin queue, a command on an I/O queue pair, a virtio
request), or a host-side event through QMP (a virtio-net link change, a balloon target).

`vector:N` (the MSI-X model's generic cause) maps to whichever named cause raises vector N.
Register offsets and bits: Intel 82574 datasheet (e1000e), NVMe 1.4 base specification, virtio 1.1
(section 4.1 for PCI), QEMU's docs/specs/edu.rst.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ...decode import walk_standard
from ...regs import virtio as V
from ...regs.caps.vndr import PCI_CAP_ID_VNDR
from .qtest import QemuError, read_cmd, write_cmd

if TYPE_CHECKING:
    from ...address import Address
    from .source import QemuSource


class DeviceContext:
    """What a model may touch of one function: its BARs (raw, no shadowing), config, guest RAM."""

    def __init__(self, source: QemuSource, address: Address, dma: int) -> None:
        self.source = source
        self.address = address
        self.dma = dma  # 1 MiB of guest RAM for this function's queues
        self.state: dict[str, object] = {}
        self.cache: dict = {}  # registers read and commands built from them; cleared on every write
        cfg = source.config.read(address, 0, 4)
        self.model = model_for(cfg & 0xFFFF, cfg >> 16)

    def bar_address(self, bar: int, offset: int) -> int:
        return self.source.bar_base(self.address, bar) + offset

    def readl(self, bar: int, offset: int) -> int:
        return self.source.qtest.readl(self.bar_address(bar, offset))

    def writel_cmd(self, bar: int, offset: int, value: int) -> str:
        return write_cmd("mem", self.bar_address(bar, offset), 4, value)

    def writel(self, bar: int, offset: int, value: int) -> None:
        self.source.qtest.command(self.writel_cmd(bar, offset, value))

    def bus_master(self) -> bool:
        """PCI_COMMAND_MASTER: without it the device cannot fetch commands from guest RAM (nor send)."""
        return bool(self.source.config.read(self.address, 0x04, 2) & 0x4)

    def wait_for(self, what: str, done, timeout: float = 2.0) -> None:
        """Poll `done()` until true: device work scheduled as a bottom half runs between qtest commands."""
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise QemuError(f"{self.model.name if self.model else 'device'} did not {what} "
                                f"within {timeout:g} s", file=self.source.name, device=str(self.address))


class DeviceModel:
    name = "?"
    ids: tuple[tuple[int, int], ...] = ()

    def setup(self, ctx: DeviceContext) -> None:
        """Program the device as a driver would, so its causes reach vectors (called at start)."""

    def causes(self, ctx: DeviceContext) -> dict[str, str]:
        """Every cause (and every `vector:N` it can raise) with what it does."""
        raise NotImplementedError

    def vector_cause(self, ctx: DeviceContext, vector: int) -> str | None:
        raise NotImplementedError

    def resolve(self, ctx: DeviceContext, cause: str) -> str | None:
        """The named cause `cause` stands for ("vector:N" included), or None; no device access if named."""
        if cause.startswith("vector:"):
            try:
                return self.vector_cause(ctx, int(cause[7:], 0))
            except ValueError:
                return None
        return cause if self.is_cause(ctx, cause) else None

    def is_cause(self, ctx: DeviceContext, cause: str) -> bool:
        return cause in self.causes(ctx)

    def fire(self, ctx: DeviceContext, cause: str) -> None:
        """Make the device raise the named cause and collect what it sent."""
        raise NotImplementedError


# -- e1000e (82574L) -------------------------------------------------------------------------------
E1000_CTRL_EXT = 0x00018
E1000_ICR = 0x000C0
E1000_ICS = 0x000C8
E1000_IMS = 0x000D0
E1000_IMC = 0x000D8
E1000_EIAC = 0x000DC
E1000_IVAR = 0x000E4
E1000_CTRL_EXT_IAME = 1 << 27  # auto-clear of EIAC causes leaves IMS alone
E1000_CTRL_EXT_INT_TIMERS_CLEAR_ENA = 1 << 29  # IMS written with all ones fires the interrupt timers
E1000_CTRL_EXT_PBA_CLR = 1 << 31  # (left off: IMS writes would clear MSI-X pending bits)
E1000_IVAR_VALID = 0x8


class E1000e(DeviceModel):
    """ICS sets a cause in ICR; with MSI-X on, IVAR routes RxQ0/RxQ1/TxQ0/TxQ1/Other to a vector.

    QEMU throttles each vector (EITR, at least 500 x 256 ns) and INTx/MSI (ITR) with timers on the
    virtual clock, which never advances while the CPU is stopped: after one message a vector would stay
    silent forever.  So every trigger ends the way the 82574 lets a driver flush its timers: writing all
    ones to IMS with CTRL_EXT.INT_TIMERS_CLEAR_ENA set fires every running timer (a message held back
    by throttling is sent then).  Set-up leaves every cause enabled in IMS, so that write changes
    nothing else; if IMS was narrowed since, IMC puts it back.  In INTx/MSI mode ICR is cleared around
    it so no stale cause is raised by the IMS write.
    """

    name = "e1000e"
    ids = ((0x8086, 0x10D3),)
    #: cause -> (ICR/ICS/IMS bit, IVAR field shift, vector a driver like ours routes it to)
    CAUSES = {
        "rxq0": (1 << 20, 0, 0),
        "rxq1": (1 << 21, 4, 1),
        "txq0": (1 << 22, 8, 2),
        "txq1": (1 << 23, 12, 3),
        "other": (1 << 24, 16, 4),
    }
    ALL = sum(bit for bit, _, _ in CAUSES.values())

    def setup(self, ctx: DeviceContext) -> None:
        ivar = sum((E1000_IVAR_VALID | vec) << shift for _, shift, vec in self.CAUSES.values())
        ctrl_ext = ctx.readl(0, E1000_CTRL_EXT) & ~E1000_CTRL_EXT_PBA_CLR
        ctrl_ext |= E1000_CTRL_EXT_IAME | E1000_CTRL_EXT_INT_TIMERS_CLEAR_ENA
        ctx.source.qtest.batch([
            ctx.writel_cmd(0, E1000_IVAR, ivar),
            ctx.writel_cmd(0, E1000_CTRL_EXT, ctrl_ext),
            ctx.writel_cmd(0, E1000_EIAC, self.ALL),  # auto-clear each cause once its vector fired
            ctx.writel_cmd(0, E1000_IMC, 0xFFFF_FFFF), ctx.writel_cmd(0, E1000_ICR, 0xFFFF_FFFF),
            ctx.writel_cmd(0, E1000_IMS, 0xFFFF_FFFF)])  # every cause enabled, as the trigger's flush leaves it
        ctx.state["ims_all"] = ctx.readl(0, E1000_IMS)

    def _routes(self, ctx: DeviceContext) -> dict[str, int | None]:
        if "ivar" not in ctx.cache:
            ctx.cache["ivar"] = ctx.readl(0, E1000_IVAR)
        ivar = ctx.cache["ivar"]
        out: dict[str, int | None] = {}
        for cause, (_, shift, _) in self.CAUSES.items():
            field = (ivar >> shift) & 0xF
            out[cause] = field & 7 if field & E1000_IVAR_VALID else None
        return out

    def causes(self, ctx: DeviceContext) -> dict[str, str]:
        out = {}
        for cause, vec in self._routes(ctx).items():
            bit = self.CAUSES[cause][0]
            route = f"vector {vec}" if vec is not None else "no vector (IVAR entry not valid)"
            out[cause] = f"ICS bit {bit.bit_length() - 1} ({cause.upper()}) -> IVAR -> {route}"
        for cause, vec in self._routes(ctx).items():
            if vec is not None:
                out.setdefault(f"vector:{vec}", f"same as {cause}")
        return out

    def vector_cause(self, ctx: DeviceContext, vector: int) -> str | None:
        for cause, vec in self._routes(ctx).items():
            if vec == vector:
                return cause
        return None

    def is_cause(self, ctx: DeviceContext, cause: str) -> bool:
        return cause in self.CAUSES

    def fire(self, ctx: DeviceContext, cause: str) -> None:
        msix = ctx.source.msix_enabled(ctx.address)
        cmds = ctx.cache.get((cause, msix))  # the same register writes every time until a write intervenes
        if cmds is None:
            cmds = ctx.cache[(cause, msix)] = self._fire_commands(ctx, cause, msix)
        ctx.source.run_and_poll(cmds, ctx.address)

    def _fire_commands(self, ctx: DeviceContext, cause: str, msix: bool) -> list[str]:
        bit = self.CAUSES[cause][0]
        ims = ctx.readl(0, E1000_IMS)
        flush = [ctx.writel_cmd(0, E1000_IMS, 0xFFFF_FFFF)]  # fires (and stops) every throttling timer
        clear_all = ctx.writel_cmd(0, E1000_ICR, 0xFFFF_FFFF)
        if msix:
            # ICR holds no cause here: EIAC cleared what the last trigger raised (INTx/MSI triggers end
            # clearing it), so the IMS write raises nothing new
            cmds = [ctx.writel_cmd(0, E1000_ICS, bit), *flush]
        else:
            # INTx/MSI: flushing collects delayed causes and may re-arm ITR; clear and flush again
            cmds = [ctx.writel_cmd(0, E1000_ICR, bit), ctx.writel_cmd(0, E1000_ICS, bit), *flush, clear_all, *flush]
        if ims != ctx.state.get("ims_all"):  # someone narrowed IMS: put it back after the flush
            cmds.append(ctx.writel_cmd(0, E1000_IMC, ~ims & 0xFFFF_FFFF))
        return cmds


# -- edu (QEMU's teaching device, docs/specs/edu.rst) ----------------------------------------------
EDU_FACT = 0x08
EDU_STATUS = 0x20
EDU_STATUS_IRQFACT = 0x80
EDU_IRQ_STATUS = 0x24
EDU_FACT_IRQ = 0x1
EDU_IRQ_RAISE = 0x60
EDU_IRQ_ACK = 0x64


class Edu(DeviceModel):
    """`raise`: writing the interrupt raise register sends MSI vector 0 (or asserts INTx when MSI is
    off).  `factorial`: real device work: with "raise interrupt after computation" set in the status
    register, writing 5 to the factorial register starts a computation in QEMU's edu thread, which
    stores 120 and raises interrupt status bit 0; the source waits for that bit and acknowledges it."""

    name = "edu"
    ids = ((0x1234, 0x11E8),)

    def causes(self, ctx: DeviceContext) -> dict[str, str]:
        return {"raise": "write 1 to the interrupt raise register (0x60), then acknowledge it (0x64)",
                "factorial": "5! computed by the device (0x08), interrupt when done (status 0x80)",
                "vector:0": "same as raise"}

    def vector_cause(self, ctx: DeviceContext, vector: int) -> str | None:
        return "raise" if vector == 0 else None

    def fire(self, ctx: DeviceContext, cause: str) -> None:
        if cause == "raise":
            ctx.source.run_and_poll([ctx.writel_cmd(0, EDU_IRQ_RAISE, 1), ctx.writel_cmd(0, EDU_IRQ_ACK, 1)],
                                    ctx.address)
            return
        ctx.source.qtest.batch([ctx.writel_cmd(0, EDU_STATUS, EDU_STATUS_IRQFACT), ctx.writel_cmd(0, EDU_FACT, 5)])
        # irq_status is set under QEMU's big lock together with msi_notify: seeing it means the message is out
        ctx.wait_for("finish the factorial", lambda: ctx.readl(0, EDU_IRQ_STATUS) & EDU_FACT_IRQ)
        ctx.source.run_and_poll([ctx.writel_cmd(0, EDU_IRQ_ACK, EDU_FACT_IRQ)], ctx.address)


# -- NVMe (QEMU's nvme, 1b36:0010) -----------------------------------------------------------------
NVME_CAP = 0x00
NVME_CC = 0x14
NVME_CSTS = 0x1C
NVME_AQA = 0x24
NVME_ASQ = 0x28
NVME_ACQ = 0x30
NVME_DB = 0x1000
NVME_CC_EN = 1
NVME_CC_IOSQES_64 = 6 << 16
NVME_CC_IOCQES_16 = 4 << 20
NVME_CSTS_RDY = 1
NVME_ADM_CREATE_SQ = 0x01
NVME_ADM_CREATE_CQ = 0x05
NVME_ADM_IDENTIFY = 0x06
NVME_CMD_FLUSH = 0x00
QUEUE_ENTRIES = 16


class Nvme(DeviceModel):
    """A completion posted to a completion queue sends that queue's vector (admin queue: vector 0).

    `admin-identify` enables the controller (first time), submits Identify Controller on the admin queue
    and waits for its completion.  `io-queue:N` creates I/O completion queue N with interrupt vector N
    and a submission queue feeding it (first time: two admin commands, whose completions fire vector 0
    as they would for a driver), then submits a Flush there; the controller has no namespace, so the
    Flush completes with an error status, which still posts a completion and fires the vector.  With
    bus mastering off the controller could not fetch a command, so nothing is submitted.
    """

    name = "nvme"
    ids = ((0x1B36, 0x0010),)

    def _vectors(self, ctx: DeviceContext) -> int:
        return ctx.source.msix_count(ctx.address) or 1

    def causes(self, ctx: DeviceContext) -> dict[str, str]:
        out = {"admin-identify": "Identify Controller on the admin queue -> completion -> vector 0"}
        out.update({f"io-queue:{n}": f"Flush on I/O queue pair {n} -> completion -> vector {n}"
                    for n in range(1, self._vectors(ctx))})
        out["vector:0"] = "same as admin-identify"
        out.update({f"vector:{n}": f"same as io-queue:{n}" for n in range(1, self._vectors(ctx))})
        return out

    def vector_cause(self, ctx: DeviceContext, vector: int) -> str | None:
        if vector == 0:
            return "admin-identify"
        return f"io-queue:{vector}" if 0 < vector < self._vectors(ctx) else None

    # queues in the function's DMA area: admin SQ, admin CQ, identify buffer, then per I/O pair
    def _queue(self, ctx: DeviceContext, qid: int) -> dict:
        queues = ctx.state.setdefault("queues", {})
        if qid not in queues:
            base = ctx.dma + (0 if qid == 0 else 0x10000 + qid * 0x2000)
            queues[qid] = {"sq": base, "cq": base + 0x1000, "tail": 0, "head": 0, "phase": 1}
        return queues[qid]

    def _doorbell(self, ctx: DeviceContext, qid: int, completion: bool) -> int:
        """Offset of queue `qid`'s submission tail or completion head doorbell (NVMe 1.4, 3.1.16)."""
        if "dstrd" not in ctx.state:
            ctx.state["dstrd"] = ctx.readl(0, NVME_CAP + 4) & 0xF  # CAP.DSTRD, bits 35:32
        return NVME_DB + (2 * qid + (1 if completion else 0)) * (4 << ctx.state["dstrd"])

    def _enable(self, ctx: DeviceContext) -> None:
        if ctx.state.get("enabled"):
            return
        q = self._queue(ctx, 0)
        qt = ctx.source.qtest
        ctx.writel(0, NVME_CC, 0)
        ctx.wait_for("become not ready", lambda: not ctx.readl(0, NVME_CSTS) & NVME_CSTS_RDY)
        qt.memset(ctx.dma, 0x4000, 0)
        qt.batch([ctx.writel_cmd(0, NVME_AQA, (QUEUE_ENTRIES - 1) << 16 | (QUEUE_ENTRIES - 1)),
                  ctx.writel_cmd(0, NVME_ASQ, q["sq"]), ctx.writel_cmd(0, NVME_ASQ + 4, 0),
                  ctx.writel_cmd(0, NVME_ACQ, q["cq"]), ctx.writel_cmd(0, NVME_ACQ + 4, 0),
                  ctx.writel_cmd(0, NVME_CC, NVME_CC_EN | NVME_CC_IOSQES_64 | NVME_CC_IOCQES_16)])
        ctx.wait_for("become ready", lambda: ctx.readl(0, NVME_CSTS) & NVME_CSTS_RDY)
        ctx.state["enabled"] = True

    def _submit(self, ctx: DeviceContext, qid: int, opcode: int, nsid: int = 0, prp1: int = 0,
                cdw10: int = 0, cdw11: int = 0) -> int:
        """Submit one command, wait for its completion, return its status field."""
        q = self._queue(ctx, qid)
        cid = ctx.state["cid"] = (ctx.state.get("cid", 0) + 1) & 0xFFFF
        sqe = bytearray(64)
        sqe[0:4] = (opcode | cid << 16).to_bytes(4, "little")
        sqe[4:8] = nsid.to_bytes(4, "little")
        sqe[24:32] = prp1.to_bytes(8, "little")
        sqe[40:44] = cdw10.to_bytes(4, "little")
        sqe[44:48] = cdw11.to_bytes(4, "little")
        qt = ctx.source.qtest
        qt.write(q["sq"] + 64 * q["tail"], bytes(sqe))
        q["tail"] = (q["tail"] + 1) % QUEUE_ENTRIES
        cqe_at = q["cq"] + 16 * q["head"]
        ctx.source.run_and_poll([ctx.writel_cmd(0, self._doorbell(ctx, qid, False), q["tail"])], ctx.address)
        ctx.wait_for("post a completion", lambda: (qt.readl(cqe_at + 12) >> 16) & 1 == q["phase"])
        status = qt.readl(cqe_at + 12) >> 17
        q["head"] = (q["head"] + 1) % QUEUE_ENTRIES
        if q["head"] == 0:
            q["phase"] ^= 1
        ctx.source.run_and_poll([ctx.writel_cmd(0, self._doorbell(ctx, qid, True), q["head"])], ctx.address)
        return status

    def fire(self, ctx: DeviceContext, cause: str) -> None:
        if not ctx.bus_master():
            return  # the controller could not fetch a command: no completion, no interrupt
        self._enable(ctx)
        if cause == "admin-identify":
            status = self._submit(ctx, 0, NVME_ADM_IDENTIFY, prp1=ctx.dma + 0x2000, cdw10=1)
        else:
            n = int(cause.split(":")[1])
            if n not in ctx.state.setdefault("io", set()):
                q = self._queue(ctx, n)
                ctx.source.qtest.memset(q["sq"], 0x2000, 0)
                size = (QUEUE_ENTRIES - 1) << 16 | n
                for what, op, cdw11 in (("completion", NVME_ADM_CREATE_CQ, n << 16 | 0b11),  # IV, IEN, PC
                                        ("submission", NVME_ADM_CREATE_SQ, n << 16 | 0b1)):  # CQID, PC
                    prp = q["cq"] if op == NVME_ADM_CREATE_CQ else q["sq"]
                    status = self._submit(ctx, 0, op, prp1=prp, cdw10=size, cdw11=cdw11)
                    if status:
                        raise QemuError(f"nvme refused to create I/O {what} queue {n}: status {status:#x}",
                                        file=ctx.source.name, device=str(ctx.address))
                ctx.state["io"].add(n)
            self._submit(ctx, n, NVME_CMD_FLUSH, nsid=1)
            return
        if status:
            raise QemuError(f"nvme Identify failed: status {status:#x}", file=ctx.source.name,
                            device=str(ctx.address))


# -- virtio-net (virtio 1.x over PCI, modern interface) -------------------------------------------
# register offsets and bits from the one declaration (pciexplore/regs/virtio.py)
VIRTIO_PCI_CAP_VNDR = PCI_CAP_ID_VNDR
_COMMON = {r.name: r.offset for r in (*V.COMMON.registers, *V.QUEUE.registers)}
VIRTIO_PCI_COMMON_DFSELECT = _COMMON["VIRTIO_PCI_COMMON_DFSELECT"]
VIRTIO_PCI_COMMON_DF = _COMMON["VIRTIO_PCI_COMMON_DF"]
VIRTIO_PCI_COMMON_MSIX = _COMMON["VIRTIO_PCI_COMMON_MSIX"]
VIRTIO_PCI_COMMON_STATUS = _COMMON["VIRTIO_PCI_COMMON_STATUS"]
VIRTIO_PCI_COMMON_Q_SELECT = _COMMON["VIRTIO_PCI_COMMON_Q_SELECT"]
VIRTIO_PCI_COMMON_Q_MSIX = _COMMON["VIRTIO_PCI_COMMON_Q_MSIX"]
VIRTIO_PCI_COMMON_Q_NOFF = _COMMON["VIRTIO_PCI_COMMON_Q_NOFF"]
VRING_DESC_F_NEXT = 1
VRING_DESC_F_WRITE = 2
VIRTQ_SIZE = 16


class VirtioPci(DeviceModel):
    """Config-change and queue interrupts of a virtio 1.x PCI device, through the modern common config.

    At start the source initialises the device the way virtio 1.x section 3.1.1 tells a driver to:
    reset, ACKNOWLEDGE, DRIVER, features (VERSION_1 and the model's FEATURES), FEATURES_OK, the model's
    QUEUES of 16 entries in guest RAM, config vector 0 and queue i on vector i + 1 (the last vector
    shared when there are fewer), DRIVER_OK.  Only BAR registers and guest RAM change: config space stays
    as firmware left it.  A queue cause posts one request (a readable and/or a writable buffer), rings
    the queue's notify register, waits until the device has used it and collects the message; with bus
    mastering off the device could not read the queue, so nothing is posted.  Subclasses declare the
    requests and how the host makes the device change its configuration (through QMP).
    """

    FEATURES = 0
    QUEUES: tuple[str, ...] = ()
    #: cause -> (queue index, bytes the device reads, bytes it may write, description)
    REQUESTS: dict[str, tuple[int, bytes, int, str]] = {}
    CONFIG = ""  # description of the config-change cause, "" when the model has none
    #: seconds a request waits for its message after the device used it: 0 where QEMU pushes the used
    #: ring and notifies in one go
    NOTIFY_LAG = 0.0

    def setup(self, ctx: DeviceContext) -> None:
        if V.VIRTIO_PCI_CAP_COMMON_CFG in self._caps(ctx):  # legacy-only devices (disable-modern=on) have none
            self.bring_up(ctx)

    def config_change(self, ctx: DeviceContext) -> None:
        raise NotImplementedError

    def _caps(self, ctx: DeviceContext) -> dict[int, tuple[int, int, int]]:
        """cfg_type -> (BAR, offset, config offset of the capability)."""
        if "caps" not in ctx.state:
            cfg = ctx.source.config.read_ecam(ctx.address, 0x100)
            found: dict[int, tuple[int, int, int]] = {}
            for cap in walk_standard(cfg)[0]:
                if cap.cap_id == VIRTIO_PCI_CAP_VNDR:
                    at = cap.offset
                    found.setdefault(cfg[at + 3], (cfg[at + 4], int.from_bytes(cfg[at + 8 : at + 12], "little"), at))
            ctx.state["caps"] = found
        return ctx.state["caps"]

    def _common(self, ctx: DeviceContext, reg: int) -> int:
        bar, off, _ = self._caps(ctx)[V.VIRTIO_PCI_CAP_COMMON_CFG]
        return ctx.bar_address(bar, off + reg)

    def _rd(self, ctx: DeviceContext, reg: int, width: int) -> int:
        return int(ctx.source.qtest.command(read_cmd("mem", self._common(ctx, reg), width)), 16)

    def _wr(self, ctx: DeviceContext, reg: int, width: int, value: int) -> str:
        return write_cmd("mem", self._common(ctx, reg), width, value)

    def device_config(self, ctx: DeviceContext, offset: int, size: int) -> bytes:
        bar, off, _ = self._caps(ctx)[V.VIRTIO_PCI_CAP_DEVICE_CFG]
        return ctx.source.qtest.read(ctx.bar_address(bar, off + offset), size)

    def _queue_area(self, ctx: DeviceContext, q: int) -> int:
        return ctx.dma + q * 0x4000  # descriptors, avail ring +0x1000, used ring +0x2000, buffers +0x3000

    def _vectors(self, ctx: DeviceContext) -> dict[str, int]:
        """cause -> the vector it fires, as the device's common config says now."""
        out = {}
        if self.CONFIG:
            out["config"] = self._rd(ctx, VIRTIO_PCI_COMMON_MSIX, 2)
        for cause, (q, _, _, _) in self.REQUESTS.items():
            ctx.source.qtest.command(self._wr(ctx, VIRTIO_PCI_COMMON_Q_SELECT, 2, q))
            out[cause] = self._rd(ctx, VIRTIO_PCI_COMMON_Q_MSIX, 2)
        return {c: v for c, v in out.items() if v != V.VIRTIO_MSI_NO_VECTOR}

    def bring_up(self, ctx: DeviceContext) -> None:
        """Reset the device and initialise it as a driver would, up to DRIVER_OK (see the class)."""
        qt = ctx.source.qtest
        qt.command(self._wr(ctx, VIRTIO_PCI_COMMON_STATUS, 1, 0))
        ctx.wait_for("reset", lambda: self._rd(ctx, VIRTIO_PCI_COMMON_STATUS, 1) == 0)
        status = V.VIRTIO_CONFIG_S_ACKNOWLEDGE | V.VIRTIO_CONFIG_S_DRIVER
        qt.command(self._wr(ctx, VIRTIO_PCI_COMMON_STATUS, 1, status))
        offered = 0
        for half in (0, 1):
            qt.command(self._wr(ctx, VIRTIO_PCI_COMMON_DFSELECT, 4, half))
            offered |= self._rd(ctx, VIRTIO_PCI_COMMON_DF, 4) << (32 * half)
        wanted = offered & ((1 << V.VIRTIO_F_VERSION_1) | self.FEATURES)
        for q in range(len(self.QUEUES)):
            qt.memset(self._queue_area(ctx, q), 0x4000, 0)
            ctx.state.pop(("sent", q), None)  # the rings start empty again
        writes = V.driver_writes(wanted, len(self.QUEUES), ctx.source.msix_count(ctx.address),
                                 lambda q: self._queue_area(ctx, q), VIRTQ_SIZE)
        cmds = [self._wr(ctx, rel, width, value) for rel, width, value in writes]
        qt.batch(cmds)
        ctx.state["ready"] = True

    def causes(self, ctx: DeviceContext) -> dict[str, str]:
        if not ctx.state.get("ready"):
            return {}
        out = {"config": self.CONFIG} if self.CONFIG else {}
        out.update({cause: what for cause, (_, _, _, what) in self.REQUESTS.items()})
        for cause, vec in self._vectors(ctx).items():
            out[cause] += f" -> vector {vec}"
            out.setdefault(f"vector:{vec}", f"same as {cause}")
        return out

    def vector_cause(self, ctx: DeviceContext, vector: int) -> str | None:
        if not ctx.state.get("ready"):
            return None
        for cause, vec in self._vectors(ctx).items():
            if vec == vector:
                return cause
        return None

    def is_cause(self, ctx: DeviceContext, cause: str) -> bool:
        return bool(ctx.state.get("ready")) and (cause in self.REQUESTS or (cause == "config" and bool(self.CONFIG)))

    def fire(self, ctx: DeviceContext, cause: str) -> None:
        if cause == "config":
            self.config_change(ctx)
            ctx.source.run_and_poll([], ctx.address)
        else:
            self._request(ctx, *self.REQUESTS[cause][:3])

    def _notify_address(self, ctx: DeviceContext, q: int) -> int:
        key = ("notify", q)
        if key not in ctx.state:
            bar, off, cap = self._caps(ctx)[V.VIRTIO_PCI_CAP_NOTIFY_CFG]
            mult = int.from_bytes(ctx.source.config.read_ecam(ctx.address, 0x100)[cap + 16 : cap + 20], "little")
            ctx.source.qtest.command(self._wr(ctx, VIRTIO_PCI_COMMON_Q_SELECT, 2, q))
            ctx.state[key] = ctx.bar_address(bar, off + self._rd(ctx, VIRTIO_PCI_COMMON_Q_NOFF, 2) * mult)
        return ctx.state[key]

    def _request(self, ctx: DeviceContext, q: int, out: bytes, in_len: int) -> None:
        """Post one request (`out` for the device to read, `in_len` bytes for it to write) on queue `q`."""
        if not ctx.bus_master():
            return  # the device could not read the queue: no request, no interrupt
        qt = ctx.source.qtest
        start = len(ctx.source.deliveries())
        area = self._queue_area(ctx, q)
        n = ctx.state[("sent", q)] = ctx.state.get(("sent", q), 0) + 1
        head = 2 * ((n - 1) % (VIRTQ_SIZE // 2))
        buf = area + 0x3000 + 0x100 * head
        parts = ([(buf, len(out), 0)] if out else []) + ([(buf + 0x80, in_len, VRING_DESC_F_WRITE)] if in_len else [])
        desc = b"".join(addr.to_bytes(8, "little") + size.to_bytes(4, "little")
                        + (flags | (VRING_DESC_F_NEXT if i + 1 < len(parts) else 0)).to_bytes(2, "little")
                        + (head + i + 1 if i + 1 < len(parts) else 0).to_bytes(2, "little")
                        for i, (addr, size, flags) in enumerate(parts))
        cmds = [f"write {buf:#x} {len(out):#x} 0x{out.hex()}"] if out else []
        qt.batch([*cmds, f"write {area + 16 * head:#x} {len(desc):#x} 0x{desc.hex()}",
                  write_cmd("mem", area + 0x1000 + 4 + 2 * ((n - 1) % VIRTQ_SIZE), 2, head),
                  write_cmd("mem", area + 0x1000 + 2, 2, n & 0xFFFF)])
        ctx.source.run_and_poll([write_cmd("mem", self._notify_address(ctx, q), 2, q)], ctx.address)
        ctx.wait_for(f"use the request on queue {q}",
                     lambda: int.from_bytes(qt.read(area + 0x2000 + 2, 2), "little") == n & 0xFFFF)
        # the message may have come with the kick already, or come after the used ring
        ctx.source.poll(wait=max(ctx.source.late_wait, self.NOTIFY_LAG), since=start)


class VirtioNet(VirtioPci):
    """virtio-net: `config` flips the link through QMP set_link (the device updates
    V.VIRTIO_NET_S_LINK_UP and signals a configuration change); `ctrl` sends a control-queue command of a
    class the device does not know (answered VIRTIO_NET_ERR, nothing changes).  rx/tx need moving
    packets, which a stopped VM does not do."""

    name = "virtio-net"
    ids = ((0x1AF4, 0x1000), (0x1AF4, 0x1041))
    FEATURES = (1 << V.VIRTIO_NET_F_STATUS) | (1 << V.VIRTIO_NET_F_CTRL_VQ)
    QUEUES = ("rx0", "tx0", "ctrl")  # without multiqueue (virtio 1.x 5.1.2)
    REQUESTS = {"ctrl": (2, b"\xff\xff", 1, "control-queue command (class 0xff) used by the device")}
    CONFIG = "link flip (QMP set_link) -> configuration change"

    def config_change(self, ctx: DeviceContext) -> None:
        up = self.device_config(ctx, 6, 2)[0] & V.VIRTIO_NET_S_LINK_UP  # struct virtio_net_config.status
        ctx.source.qmp.execute("set_link", name=ctx.source.qdev_id(ctx.address), up=not up)


class VirtioBalloon(VirtioPci):
    """virtio-balloon: `config` sets a new balloon target through QMP (the device updates num_pages and
    signals a configuration change); `deflate` returns one page (PFN 0x4000, 64 MiB) on the deflate
    queue."""

    name = "virtio-balloon"
    ids = ((0x1AF4, 0x1002), (0x1AF4, 0x1045))
    QUEUES = ("inflate", "deflate")
    REQUESTS = {"deflate": (1, (0x4000).to_bytes(4, "little"), 0, "one page on the deflate queue used")}
    CONFIG = "new balloon target (QMP balloon) -> configuration change"

    def config_change(self, ctx: DeviceContext) -> None:
        ram = ctx.source.machine.memory_mb << 20
        pages = int.from_bytes(self.device_config(ctx, 0, 4), "little")  # struct virtio_balloon_config.num_pages
        ctx.source.qmp.execute("balloon", value=ram - (4 << 20) if pages == 0 else ram - (8 << 20))


class VirtioScsi(VirtioPci):
    """virtio-scsi: `request` sends a SCSI command (TEST UNIT READY) to target 1 LUN 0 on the first
    request queue; with no disk there the device answers VIRTIO_SCSI_S_BAD_TARGET, which still uses the
    request and fires the queue's vector."""

    name = "virtio-scsi"
    ids = ((0x1AF4, 0x1004), (0x1AF4, 0x1048))
    QUEUES = ("control", "event", "request0")
    # struct virtio_scsi_cmd_req: lun[8] (1, target, LUN), id, task_attr, prio, crn, cdb[32]
    REQUESTS = {"request": (2, bytes([1, 1, 0x40, 0]) + bytes(4 + 8 + 3 + 32), 108,
                            "TEST UNIT READY to an absent target on request queue 0, answered BAD_TARGET")}


VIRTIO_BLK_T_IN = 0


class VirtioBlk(VirtioPci):
    """virtio-blk (QEMU's own, or vhost-user-blk served by qemu-storage-daemon): `read` reads sector 0
    (struct virtio_blk_outhdr, then 512 bytes and the status byte for the device to write)."""

    name = "virtio-blk"
    ids = ((0x1AF4, 0x1001), (0x1AF4, 0x1042))
    # measured: in 14 of 600 reads QEMU 7.2's virtio-blk (TCG) had updated the used ring before it sent
    # the message (its completion notifies from a bottom half)
    NOTIFY_LAG = 0.25
    QUEUES = ("request0",)
    REQUESTS = {"read": (0, VIRTIO_BLK_T_IN.to_bytes(4, "little") + bytes(12), 513,
                         "read of sector 0 on request queue 0, used by the device")}


MODELS: tuple[DeviceModel, ...] = (E1000e(), Edu(), Nvme(), VirtioNet(), VirtioBalloon(), VirtioScsi(), VirtioBlk())


def model_for(vendor: int, device: int) -> DeviceModel | None:
    for m in MODELS:
        if (vendor, device) in m.ids:
            return m
    return None

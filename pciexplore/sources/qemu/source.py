"""QemuSource: QEMU's own PCI device models as a Source, with every MSI/MSI-X message observed.

How messages are seen.  The CPU never runs, so a message sent to the x86 interrupt window (0xFEExxxxx)
would vanish into QEMU's APIC model.  Instead the source keeps two copies of each message address/data
pair:

* the *programmed* copy, what the user wrote into an MSI-X table entry (through `write_bar`) or into
  the MSI capability (through `write_config`); reads through `read_bar` / `read_config` return it,
  so decoding, the MSI-X model and widgets see exactly what was set;
* the *real* copy in the device, which the source points at a per-vector *mailbox*: one DWORD of
  guest RAM at `MAILBOX_BASE`, with data set to a token naming the vector.

When the device fires a vector (QEMU's msix_notify/msi_notify with bus mastering on), it writes the
token into that vector's mailbox.  After every operation that may cause a message (config or BAR
write, trigger) the source reads that function's mailboxes and clears them, in the same pipelined qtest
batch as the operation itself, and turns every non-zero mailbox into a `Delivery` carrying the
*programmed* address and data (what the device would have put on the wire).  Several messages caused by one operation are recorded in vector order,
which is the order QEMU's MSI-X code walks vectors in (msix_handle_mask_update).  Vector Control
(mask bits) and the PBA are never shadowed: masking, pending bits and their effects are QEMU's own.
If the device resets its table (FLR, bus reset), the source takes the reset values as the programmed
copy (see `_after_possible_reset`; a table read that finds the redirect gone does the same).  With
memory decode off the table does not answer: nothing is shadowed or re-synced then.  Limits: one message per vector per operation is visible (a second
write to the same mailbox before the poll overwrites the first); MSI with several vectors shares one
mailbox, the vector being the low data bits QEMU ORs into the token.

Round trips.  Each qtest exchange costs a socket round trip, so reads travel together: `read_ranges`
sends every config and BAR range asked for in one batch (a range on the MSI-X table brings PCI_COMMAND
and the table check along in it), and `act_then_read` puts its reads at the end of the action's last
polling batch, where they see exactly the state the action left.

Device-side causes (`triggers`, `trigger`) come from per-model declarations in `devices.py`.

Under KVM (`Machine(accel="kvm")`, implied by a vhost-user device) nothing is redirected: a vhost
back-end's interrupts go through a KVM irqfd straight into the in-kernel local APIC and never touch
guest RAM.  The vCPU runs a counter of the interrupts it takes instead (vcpu.py), every poll ends with
a barrier interrupt behind which the counters are read, and each count becomes a `Delivery` to APIC 0
with the vector as its data (all the CPU ever learns of a message), attributed to the one enabled,
unmasked MSI-X entry or MSI that holds that vector now, if there is exactly one.
"""

from __future__ import annotations

import struct
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ...address import Address
from ...decode import walk_standard
from ...errors import InputError, NotSupported
from ..base import BarRegion, ByteRange, Delivery, Source
from .devices import DeviceContext
from .firmware import PCI_BASE_ADDRESS_0, PCI_COMMAND, PCI_COMMAND_MEMORY, ConfigAccess, Firmware, Node
from .machine import Machine, QemuProcess, parse_spec
from .qtest import QemuError, QmpClient, QtestClient, decode_read, read_bytes_cmd, read_cmd, split_aligned, write_cmd
from .vcpu import COUNTERS, MSI_WINDOW, READY, VcpuCounts, decode_counters

MAILBOX_BASE = 0x0010_0000  # guest RAM: one DWORD per vector, all functions
DMA_BASE = 0x0200_0000  # guest RAM: 1 MiB per function for queues the device models need
DMA_SIZE = 0x0010_0000
MSIX_TOKEN = 0x5A1C_0000  # | vector: what the device really writes for an MSI-X vector
MSI_TOKEN = 0x5A00  # 16-bit MSI data with the low 5 bits free for the vector number

# pci_regs.h
PCI_CAP_ID_MSI = 0x05
PCI_CAP_ID_EXP = 0x10
PCI_EXP_DEVCTL = 8  # bit 15: PCI_EXP_DEVCTL_BCR_FLR
PCI_SUBORDINATE_BUS = 0x1A
PCI_BRIDGE_CONTROL = 0x3E  # bit 6: PCI_BRIDGE_CTL_BUS_RESET
PCI_CAP_ID_MSIX = 0x11
PCI_MSI_FLAGS = 2
PCI_MSI_FLAGS_64BIT = 0x80
PCI_MSI_FLAGS_QSIZE = 0x70
PCI_MSIX_FLAGS = 2
PCI_MSIX_FLAGS_QSIZE = 0x7FF
PCI_MSIX_FLAGS_ENABLE = 0x8000
PCI_MSIX_TABLE = 4
PCI_MSIX_PBA = 8
PCI_MSIX_ENTRY_SIZE = 16
PCI_MSIX_ENTRY_VECTOR_CTRL = 12

#: reads of a range: the qtest commands, and how their answers become the range's bytes
Plan = tuple[list[str], Callable[[list[str]], bytes]]


@dataclass
class MsixRoute:
    cap: int
    table_bar: int
    table_offset: int
    count: int
    slot: int  # first mailbox index
    shadow: bytearray = field(default_factory=bytearray)  # count * 16: programmed entries
    control: int = 0  # Message Control as last written (only we write config space)


@dataclass
class MsiRoute:
    cap: int
    is64: bool
    slot: int
    shadow: dict[int, int] = field(default_factory=dict)  # config offset -> programmed byte
    control: int = 0  # Message Control as the device answered after our last write (only we write config space)

    @property
    def data_offset(self) -> int:
        return self.cap + (12 if self.is64 else 8)

    def redirect(self, mailbox: int) -> dict[int, int]:
        """config offset -> the byte the device really holds."""
        out = {self.cap + 4 + i: (mailbox >> 8 * i) & 0xFF for i in range(4)}
        if self.is64:
            out.update({self.cap + 8 + i: 0 for i in range(4)})
        out.update({self.data_offset: MSI_TOKEN & 0xFF, self.data_offset + 1: MSI_TOKEN >> 8})
        return out


@dataclass
class Poll:
    """How to look at the mailboxes of some functions: their slots and the qtest commands that read and
    clear them."""

    slots: range
    commands: list[str]


@dataclass
class Trail:
    """Ranges to read after an action (`act_then_read`); each exchange that polls during the action reads
    them last, and the answers of the action's final exchange are the state it left."""

    addr: Address
    ranges: Sequence[ByteRange]
    result: list[bytes] | None = None
    stamp: tuple[int, int] | None = None  # (qtest, QMP) exchanges counted when `result` was read


class QemuSource(Source):
    kind = "qemu"
    writable = True

    def __init__(self, machine: Machine, *, start_timeout: float = 10.0, timeout: float = 5.0) -> None:
        super().__init__(machine.spec)
        self.machine = machine
        self._local = threading.local()  # the trail of an `act_then_read` running in this thread
        self._deliveries: list[Delivery] = []
        self._process = QemuProcess(machine, start_timeout)
        self._finalizer = weakref.finalize(self, self._process.stop)
        try:
            self.qtest = QtestClient(self._process.conn, timeout, self.name, on_broken=self._broken)
            self.qmp = QmpClient(self._process.qmp, timeout, self.name, on_broken=self._broken)
            self.config = ConfigAccess(self.qtest)
            self.firmware = Firmware(self.config)
            self.firmware.run()
            self._nodes = {n.address: n for n in self.firmware.nodes()}
            self._bar_base = {(a, b.index): b.base for a, n in self._nodes.items() for b in n.bars}
            self._msix: dict[Address, MsixRoute] = {}
            self._msi: dict[Address, MsiRoute] = {}
            #: mailbox index -> (function, vector, its MsixRoute or MsiRoute)
            self._slots: list[tuple[Address, int, MsixRoute | MsiRoute]] = []
            self._poll_plan: dict[Address | None, Poll] = {}
            self._vcpu: VcpuCounts | None = None
            #: seconds a trigger waits for a message that arrives after the device's work is visible
            #: (a vhost back-end signals its eventfd after it updated the used ring)
            self.late_wait = 0.0
            if machine.accel == "kvm":
                self._start_vcpu()
            else:
                for a in sorted(self._nodes):
                    self._route(a)
                if machine.runs:  # a vhost-user back-end starts only while the VM runs; the vCPU halts
                    self.late_wait = 0.25  # QEMU's main loop reads the back-end's eventfd when it gets to it
                    self.qmp.execute("cont")
            need = DMA_BASE + len(self._nodes) * DMA_SIZE
            if need > machine.memory_mb << 20:
                raise InputError(f"{len(self._nodes)} functions need {need >> 20} MiB of guest RAM for their "
                                 f"queues; start with Machine(memory_mb={(need >> 20) + 16})", file=self.name)
            self._contexts = {a: DeviceContext(self, a, DMA_BASE + i * DMA_SIZE)
                              for i, a in enumerate(sorted(self._nodes))}
            for ctx in self._contexts.values():
                if ctx.model is not None:
                    ctx.model.setup(ctx)
            #: header as firmware left it: what a reset wipes and the source puts back (pci_restore_state)
            self._saved = {a: self.config.read_ecam(a, 0x100)[:0x40] for a in self._nodes}
            self._exp = {a: c for a in self._nodes if (c := self._caps(a).get(PCI_CAP_ID_EXP)) is not None}
        except QemuError:
            if self._process.exited():  # QEMU accepted the command line but failed to build the machine
                self.close()
                raise self._process._start_error() from None
            self.close()
            raise
        except BaseException:
            self.close()
            raise

    @property
    def pid(self) -> int | None:
        """QEMU's process id while it runs."""
        return self._process.pid

    def exit_reason(self) -> str | None:
        """None while QEMU runs; once it has ended, why, in QEMU's words (e.g. an assertion that aborted it)."""
        if not self._process.exited():
            return None
        return self._process.complaint()

    def qdev_id(self, addr: Address) -> str | None:
        """QEMU's id of the device at `addr` (what QMP commands name it by), from query-pci."""
        if not hasattr(self, "_qdev_ids"):
            self._qdev_ids: dict[Address, str] = {}

            def walk(bus: dict) -> None:
                for d in bus.get("devices", []):
                    if d.get("qdev_id"):
                        self._qdev_ids[Address(0, d["bus"], d["slot"], d["function"])] = d["qdev_id"]
                    if "pci_bridge" in d and "devices" in d["pci_bridge"]:
                        walk(d["pci_bridge"])

            for root in self.qmp.execute("query-pci"):
                walk(root)
        return self._qdev_ids.get(addr)

    def _start_vcpu(self) -> None:
        """Load the counter program, let the vCPU run it and wait until its local APIC takes interrupts."""
        self._vcpu = VcpuCounts()
        self.late_wait = 0.25
        self.qtest.batch(self._vcpu.load_commands())
        self.qmp.execute("cont")
        deadline = time.monotonic() + self.qtest.timeout
        while self.qtest.readl(READY) & 0xFFFF != 1:
            if time.monotonic() > deadline:
                raise QemuError("the vCPU did not start its interrupt counter", file=self.name)
            time.sleep(0.001)

    def _broken(self, why: str) -> None:
        self._process.stop(kill=True)

    def close(self) -> None:
        self._finalizer()

    # -- interrupt routing -----------------------------------------------------------------------
    def _caps(self, a: Address) -> dict[int, int]:
        """Capability id -> offset of its first instance (the decoder's walk, on the first 256 bytes)."""
        found: dict[int, int] = {}
        for cap in walk_standard(self.config.read_ecam(a, 0x100))[0]:
            found.setdefault(cap.cap_id, cap.offset)
        return found

    def _route(self, a: Address) -> None:
        caps = self._caps(a)
        if PCI_CAP_ID_MSIX in caps:
            cap = caps[PCI_CAP_ID_MSIX]
            flags = self.config.read(a, cap + PCI_MSIX_FLAGS, 2)
            table = self.config.read(a, cap + PCI_MSIX_TABLE, 4)
            route = MsixRoute(cap, table & 7, table & ~7, (flags & PCI_MSIX_FLAGS_QSIZE) + 1, len(self._slots))
            route.control = flags
            self._slots += [(a, v, route) for v in range(route.count)]
            base = self._bar_base[(a, route.table_bar)] + route.table_offset
            route.shadow = bytearray(self.qtest.read(base, route.count * PCI_MSIX_ENTRY_SIZE))
            self._msix[a] = route
            self._redirect_msix(a, range(route.count))
        if PCI_CAP_ID_MSI in caps:
            cap = caps[PCI_CAP_ID_MSI]
            flags = self.config.read(a, cap + PCI_MSI_FLAGS, 2)
            route = MsiRoute(cap, bool(flags & PCI_MSI_FLAGS_64BIT), len(self._slots), control=flags)
            self._slots.append((a, 0, route))
            redirect = route.redirect(self._mailbox(route.slot))
            cfg = self.config.read_ecam(a, 0x100)
            route.shadow = {off: cfg[off] for off in redirect}
            self._msi[a] = route
            for off, byte in redirect.items():
                self.config.write(a, off, 1, byte)

    def _mailbox(self, slot: int) -> int:
        return MAILBOX_BASE + 4 * slot

    def _redirect_msix(self, a: Address, vectors) -> None:
        r = self._msix[a]
        base = self._bar_base[(a, r.table_bar)] + r.table_offset
        cmds = []
        for v in vectors:
            entry = base + v * PCI_MSIX_ENTRY_SIZE
            mailbox = self._mailbox(r.slot + v)
            cmds += [write_cmd("mem", entry, 4, mailbox), write_cmd("mem", entry + 4, 4, 0),
                     write_cmd("mem", entry + 8, 4, MSIX_TOKEN | v)]
        self.qtest.batch(cmds)

    def _mailboxes(self, addr: Address | None) -> Poll:
        """The mailboxes of one function (all when None; an operation on a function can only make that
        function send messages) and the qtest commands that read and clear them."""
        found = self._poll_plan.get(addr)
        if found is None:
            if addr is None:
                slots = range(len(self._slots))
            else:
                mine = [i for i, (a, _, _) in enumerate(self._slots) if a == addr]
                slots = range(mine[0], mine[-1] + 1) if mine else range(0)
            at, size = self._mailbox(slots.start), 4 * len(slots)
            commands = [read_bytes_cmd(at, size), f"memset {at:#x} {size:#x} 0"] if slots else []
            found = self._poll_plan[addr] = Poll(slots, commands)
        return found

    def run_and_poll(self, commands: list[str], addr: Address | None = None,
                     before_collect: Callable[[list[str]], None] | None = None) -> list[str]:
        """Send `commands`, then read and clear the mailboxes of `addr` in the same pipelined batch (one
        socket round trip); record what arrived; return the answers to `commands`.  `before_collect` sees
        those answers before the deliveries are recorded (a write's effect on the programmed copy).
        Inside `act_then_read` the trail's ranges are read at the end of the same batch."""
        poll = self._mailboxes(addr)
        trail: Trail | None = getattr(self._local, "trail", None)
        plans = [self._plan(trail.addr, r) for r in trail.ranges] if trail is not None else []
        reads = [c for cmds, _ in plans for c in cmds]
        if not commands and not poll.commands and not reads and self._vcpu is None:
            return []
        barrier = self._vcpu.barrier_commands() if self._vcpu is not None else []
        answers = self.qtest.batch(commands + poll.commands + barrier + reads)
        if trail is not None:
            trail.stamp = self._stamp()
            trail.result = self._finish(plans, answers[len(answers) - len(reads) :])
        mine = answers[: len(commands)]
        if before_collect is not None:
            before_collect(mine)
        if poll.slots:
            self._collect(poll.slots, decode_read(answers[len(commands)]))
        if barrier:
            self._count(decode_read(answers[len(commands) + len(poll.commands) + 1]))
        return mine

    def _count(self, raw: bytes) -> None:
        """Deliveries from the vCPU's counters, read again until the barrier was taken; several vectors
        counted between two polls are recorded highest first, the order the APIC hands them out."""
        counts = decode_counters(raw)
        deadline = time.monotonic() + self.qtest.timeout
        while not self._vcpu.passed(counts):
            if time.monotonic() > deadline:
                raise QemuError("the vCPU stopped taking interrupts (its barrier was never counted)", file=self.name)
            counts = decode_counters(self.qtest.read(COUNTERS, 256 * 4))
        for vector, n in sorted(self._vcpu.take(counts).items(), reverse=True):
            who, entry = self._holder(vector)
            for _ in range(n):
                self._deliveries.append(Delivery(len(self._deliveries), MSI_WINDOW, vector, who, entry))

    def _holder(self, vector: int) -> tuple[Address | None, int | None]:
        """The function and MSI-X entry (or MSI) whose message carries APIC `vector` now, if exactly one
        enabled and unmasked one does; an interrupt through a stale KVM route matches none."""
        found = []
        for a in self._nodes:
            caps = self._caps(a)
            if PCI_CAP_ID_MSIX in caps:
                cap = caps[PCI_CAP_ID_MSIX]
                flags = self.config.read(a, cap + PCI_MSIX_FLAGS, 2)
                if flags & PCI_MSIX_FLAGS_ENABLE and not flags & 0x4000:  # PCI_MSIX_FLAGS_MASKALL
                    table = self.config.read(a, cap + PCI_MSIX_TABLE, 4)
                    count = (flags & PCI_MSIX_FLAGS_QSIZE) + 1
                    raw = self.qtest.read(self._bar_base[(a, table & 7)] + (table & ~7), count * PCI_MSIX_ENTRY_SIZE)
                    for v in range(count):
                        address, data, ctrl = struct.unpack_from("<QII", raw, v * PCI_MSIX_ENTRY_SIZE)
                        if not ctrl & 1 and address >> 20 == MSI_WINDOW >> 20 and data & 0xFF == vector:
                            found.append((a, v))
            elif PCI_CAP_ID_MSI in caps:
                cap = caps[PCI_CAP_ID_MSI]
                cfg = self.config.read_ecam(a, 0x100)
                flags = int.from_bytes(cfg[cap + 2 : cap + 4], "little")
                data_at = cap + (12 if flags & PCI_MSI_FLAGS_64BIT else 8)
                nvec = 1 << ((flags & PCI_MSI_FLAGS_QSIZE) >> 4)
                if flags & 1 and (cfg[data_at] & ~(nvec - 1)) == (vector & ~(nvec - 1)):  # PCI_MSI_FLAGS_ENABLE
                    found.append((a, vector & (nvec - 1)))
        return found[0] if len(found) == 1 else (None, None)

    def _stamp(self) -> tuple[int, int]:
        return self.qtest.exchanges, self.qmp.exchanges

    def _collect(self, slots: range, raw: bytes) -> None:
        """Turn a snapshot of the mailboxes `slots` into deliveries, in vector order."""
        if not raw.strip(b"\0"):
            return
        for k, token in enumerate(struct.unpack(f"<{len(slots)}I", raw)):
            if not token:
                continue
            a, vector, r = self._slots[slots.start + k]
            if isinstance(r, MsixRoute):
                sh = r.shadow[vector * 16 : vector * 16 + 12]
                address = int.from_bytes(sh[0:8], "little")
                data = int.from_bytes(sh[8:12], "little")
            else:
                vector = token & 0x1F
                lo = bytes(r.shadow[r.cap + 4 + j] for j in range(8 if r.is64 else 4))
                address = int.from_bytes(lo, "little")
                user = r.shadow[r.data_offset] | r.shadow[r.data_offset + 1] << 8
                nvec = 1 << ((r.control & PCI_MSI_FLAGS_QSIZE) >> 4)
                data = (user & ~(nvec - 1)) | (vector & (nvec - 1))
            self._deliveries.append(Delivery(len(self._deliveries), address, data, a, vector))

    def poll(self, wait: float = 0.0, since: int | None = None) -> None:
        """Look for messages any device sent on its own (e.g. after a queue was processed); with `wait`,
        look again until one has arrived since delivery number `since` (default: now) or `wait` seconds
        have passed."""
        deadline = time.monotonic() + wait
        before = len(self._deliveries) if since is None else since
        self.run_and_poll([])
        while len(self._deliveries) <= before and time.monotonic() < deadline:
            time.sleep(0.002)
            self.run_and_poll([])

    def deliveries(self) -> list[Delivery]:
        return list(self._deliveries)

    # -- the Source protocol ---------------------------------------------------------------------
    def addresses(self) -> list[Address]:
        return sorted(self._nodes)

    def _node(self, addr: Address) -> Node:
        node = self._nodes.get(addr)
        if node is None:
            raise InputError(f"no function {addr} in this machine", file=self.name)
        return node

    def read_config(self, addr: Address) -> bytes:
        return self.read_ranges(addr, [ByteRange(None, 0, 0x1000)])[0]

    def read_ranges(self, addr: Address, ranges: Sequence[ByteRange]) -> list[bytes]:
        """Every range in one pipelined qtest batch (one socket round trip)."""
        plans = [self._plan(addr, r) for r in ranges]
        commands = [c for cmds, _ in plans for c in cmds]
        return self._finish(plans, self.qtest.batch(commands) if commands else [])

    def act_then_read(self, addr: Address, action: Callable[[], None], ranges: Sequence[ByteRange]) -> list[bytes]:
        """Run `action`; read `ranges` at the end of every exchange that polls during it, and when the last
        exchange of the action (qtest or QMP) was one of those, its answers are the result: no round
        trip of their own.  Otherwise (the action ended with a plain read, or sent nothing) read them now."""
        for r in ranges:
            self._plan(addr, r)  # a bad range fails here, not in the middle of the action
        trail = Trail(addr, ranges)
        outer = getattr(self._local, "trail", None)
        self._local.trail = trail
        try:
            action()
        finally:
            self._local.trail = outer
        if trail.result is not None and trail.stamp == self._stamp():
            return trail.result
        return self.read_ranges(addr, ranges)

    def _plan(self, addr: Address, r: ByteRange) -> Plan:
        """The qtest commands that read range `r` of `addr` and how their answers become its bytes."""
        if r.bar is None:
            return self._config_plan(addr, r.offset, r.size)
        return self._bar_plan(addr, r.bar, r.offset, r.size)

    @staticmethod
    def _finish(plans: list[Plan], answers: list[str]) -> list[bytes]:
        out = []
        at = 0
        for cmds, finish in plans:
            out.append(finish(answers[at : at + len(cmds)]))
            at += len(cmds)
        return out

    def _config_plan(self, addr: Address, offset: int, size: int) -> Plan:
        """Config bytes through ECAM, with the programmed MSI address/data in place of the redirect."""
        self._node(addr)
        if offset < 0 or size < 0:
            raise InputError(f"config read {offset:#x}+{size:#x} outside config space", file=self.name,
                             device=str(addr), offset=offset)
        size = max(0, min(size, 0x1000 - offset))
        if not size:
            return [], lambda answers: b""
        msi = self._msi.get(addr)

        def finish(answers: list[str]) -> bytes:
            cfg = bytearray(decode_read(answers[0]))
            if msi is not None:
                for off, byte in msi.shadow.items():
                    if offset <= off < offset + size:
                        cfg[off - offset] = byte
            return bytes(cfg)

        return [read_bytes_cmd(self.config.ecam(addr, offset), size)], finish

    def write_config(self, addr: Address, offset: int, data: bytes) -> None:
        self._node(addr)
        if offset < 0 or offset + len(data) > 0x1000:
            raise InputError("config write outside 4096 bytes", file=self.name, device=str(addr), offset=offset)
        real = bytearray(data)
        msi = self._msi.get(addr)
        if msi is not None:
            redirect = msi.redirect(self._mailbox(msi.slot))
            for i in range(len(data)):
                if offset + i in redirect:
                    msi.shadow[offset + i] = data[i]
                    real[i] = redirect[offset + i]
        self._contexts[addr].cache.clear()
        cmds = []
        for at, width, value in split_aligned(offset, bytes(real)):
            cmds += self.config.write_cmds(addr, at, width, value)
        # Message Control of MSI-X and MSI as the device took the write, read back in the same batch
        routes = [r for r in (self._msix.get(addr), msi) if r is not None and offset <= r.cap + 3
                  and offset + len(data) > r.cap + 2]
        for r in routes:
            flags = r.cap + (PCI_MSIX_FLAGS if isinstance(r, MsixRoute) else PCI_MSI_FLAGS)
            cmds.append(read_cmd("mem", self.config.ecam(addr, flags), 2))

        def take_control(answers: list[str]) -> None:  # before deliveries: MSI data depends on the vector count
            for r, value in zip(routes, answers[len(answers) - len(routes) :], strict=True):
                r.control = int(value, 16)

        self.run_and_poll(cmds, addr, take_control)
        if offset < 0x3C and offset + len(data) > PCI_BASE_ADDRESS_0:
            self._reread_bars(addr)
        self._after_possible_reset(addr, offset, data)

    # -- resets ----------------------------------------------------------------------------------
    def _after_possible_reset(self, addr: Address, offset: int, data: bytes) -> None:
        """A Secondary Bus Reset (bridge control bit 6) or a Function Level Reset (PCIe Device Control
        bit 15) makes QEMU reset devices: BARs, command, MSI/MSI-X state and the device's own registers.
        Like Linux's pci_reset_function (save, reset, restore) the source then puts the header back as
        firmware left it, so the device stays reachable; capabilities stay as the reset left them (MSI-X
        disabled, its table cleared and masked), the mailbox routing is re-applied with the reset values as
        the programmed copy, and the trigger model sets the device up again."""
        def covers(at: int) -> bool:
            return offset <= at < offset + len(data)

        node = self._node(addr)
        affected: list[Address] = []
        if node.is_bridge and covers(PCI_BRIDGE_CONTROL) and node.secondary is not None:
            bus_range = range(node.secondary, self._saved[addr][PCI_SUBORDINATE_BUS] + 1)
            affected = [a for a in self._nodes if a.bus in bus_range]
        exp = self._exp.get(addr)
        if exp is not None and covers(exp + PCI_EXP_DEVCTL + 1) and data[exp + PCI_EXP_DEVCTL + 1 - offset] & 0x80:
            affected = [addr]
        for a in affected:
            if self.config.read_ecam(a, 0x100)[:0x40] != self._saved[a]:
                self._restore(a)

    def _restore(self, a: Address) -> None:
        saved = self._saved[a]
        cmds: list[str] = []
        for off in range(PCI_BASE_ADDRESS_0, 0x40, 4):  # BARs, bus numbers and windows, ROM, line
            cmds += self.config.write_cmds(a, off, 4, int.from_bytes(saved[off : off + 4], "little"))
        cmds += self.config.write_cmds(a, 0x0C, 4, int.from_bytes(saved[0x0C:0x10], "little") & 0xFF)  # cache line
        cmds += self.config.write_cmds(a, 0x04, 2, int.from_bytes(saved[0x04:0x06], "little"))  # command last
        self.qtest.batch(cmds)
        self._reread_bars(a)
        r = self._msix.get(a)
        if r is not None:
            r.control = self.config.read(a, r.cap + PCI_MSIX_FLAGS, 2)
            self._adopt_reset_entries(a, r)
        msi = self._msi.get(a)
        if msi is not None:
            cfg = self.config.read_ecam(a, 0x100)
            redirect = msi.redirect(self._mailbox(msi.slot))
            msi.shadow = {off: cfg[off] for off in redirect}
            msi.control = int.from_bytes(cfg[msi.cap + PCI_MSI_FLAGS : msi.cap + PCI_MSI_FLAGS + 2], "little")
            for off, byte in redirect.items():
                self.config.write(a, off, 1, byte)
        ctx = self._contexts[a]
        ctx.state.clear()
        ctx.cache.clear()
        if ctx.model is not None:
            ctx.model.setup(ctx)

    def device(self, addr: Address) -> DeviceContext:
        """The trigger model's view of `addr`: `.model`, `.dma` (its queue area in guest RAM), registers."""
        self._node(addr)
        return self._contexts[addr]

    def bar_base(self, addr: Address, bar: int) -> int:
        """Where BAR `bar` of `addr` is mapped now (6: the expansion ROM)."""
        return self._bar_base[(addr, bar)]

    def msix_count(self, addr: Address) -> int:
        """MSI-X table size of `addr` (0 without MSI-X)."""
        r = self._msix.get(addr)
        if r is None and self._vcpu is not None and (cap := self._caps(addr).get(PCI_CAP_ID_MSIX)) is not None:
            return (self.config.read(addr, cap + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE) + 1
        return r.count if r is not None else 0

    def msix_enabled(self, addr: Address) -> bool:
        r = self._msix.get(addr)
        if r is None and self._vcpu is not None and (cap := self._caps(addr).get(PCI_CAP_ID_MSIX)) is not None:
            return bool(self.config.read(addr, cap + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_ENABLE)
        return r is not None and bool(r.control & PCI_MSIX_FLAGS_ENABLE)

    def _reread_bars(self, addr: Address) -> None:
        node = self._node(addr)
        for bar in node.bars:
            off = (0x30 if node.header_type == 0 else 0x38) if bar.index == 6 else PCI_BASE_ADDRESS_0 + 4 * bar.index
            value = self.config.read(addr, off, 4)
            if bar.is64:
                value |= self.config.read(addr, off + 4, 4) << 32
            self._bar_base[(addr, bar.index)] = value & (~3 if bar.io else ~0x7FF if bar.index == 6 else ~0xF)

    def bar_regions(self, addr: Address) -> dict[int, BarRegion]:
        node = self._node(addr)
        return {b.index: BarRegion(b.index, self._bar_base[(addr, b.index)], b.size, b.flags) for b in node.bars}

    def _bar(self, addr: Address, bar: int, offset: int, size: int):
        node = self._node(addr)
        for b in node.bars:
            if b.index == bar:
                if offset < 0 or size < 0 or offset + size > b.size:
                    raise InputError(f"BAR {bar} access {offset:#x}+{size:#x} outside its {b.size:#x} bytes",
                                     file=self.name, device=str(addr), offset=offset)
                return b, self._bar_base[(addr, bar)] + offset
        raise NotSupported(f"function has no BAR {bar}", file=self.name, device=str(addr))

    def _table_part(self, addr: Address, bar: int, offset: int, size: int) -> tuple[MsixRoute, int, int] | None:
        """The part of an access that falls on the MSI-X table.  It reaches the table only while memory
        decode is on (otherwise the access reaches no device and the programmed copy stays as it is):
        callers read PCI_COMMAND in the same batch as the access."""
        r = self._msix.get(addr)
        if r is None or r.table_bar != bar:
            return None
        lo = max(offset, r.table_offset)
        hi = min(offset + size, r.table_offset + r.count * PCI_MSIX_ENTRY_SIZE)
        return (r, lo, hi) if lo < hi else None

    def read_bar(self, addr: Address, bar: int, offset: int, size: int) -> bytes:
        return self.read_ranges(addr, [ByteRange(bar, offset, size)])[0]

    def _command_cmd(self, addr: Address) -> str:
        """Read PCI_COMMAND through ECAM: one qtest command (the legacy ports take two)."""
        return read_cmd("mem", self.config.ecam(addr, PCI_COMMAND), 2)

    def _bar_plan(self, addr: Address, bar: int, offset: int, size: int) -> Plan:
        """A BAR window; where it falls on the MSI-X table, also PCI_COMMAND (does the table answer?) and
        the whole table (was it reset behind our back?), so the programmed copy can be shown in place."""
        b, at = self._bar(addr, bar, offset, size)
        if b.io:
            pieces = split_aligned(at, bytes(size))
            return ([read_cmd("io", p, w) for p, w, _ in pieces],
                    lambda answers: b"".join(int(v, 16).to_bytes(w, "little")
                                             for v, (_, w, _) in zip(answers, pieces, strict=True)))
        if not size:
            return [], lambda answers: b""
        part = self._table_part(addr, bar, offset, size)
        if part is None:
            return [read_bytes_cmd(at, size)], lambda answers: decode_read(answers[0])
        r, lo, hi = part
        table = self._bar_base[(addr, r.table_bar)] + r.table_offset
        commands = [read_bytes_cmd(at, size), self._command_cmd(addr), read_bytes_cmd(table, r.count * PCI_MSIX_ENTRY_SIZE)]

        def finish(answers: list[str]) -> bytes:
            data = bytearray(decode_read(answers[0]))
            if not int(answers[1], 16) & PCI_COMMAND_MEMORY:
                return bytes(data)
            self._adopt_reset_entries(addr, r, decode_read(answers[2]))
            for pos in range(lo, hi):
                rel = pos - r.table_offset
                if rel % PCI_MSIX_ENTRY_SIZE < PCI_MSIX_ENTRY_VECTOR_CTRL:
                    data[pos - offset] = r.shadow[rel]
            return bytes(data)

        return commands, finish

    def _adopt_reset_entries(self, addr: Address, r: MsixRoute, real: bytes | None = None) -> None:
        """A device reset zeroes the table behind our back; take what it holds as the programmed copy
        (`real`: the table as just read, else read now)."""
        if real is None:
            base = self._bar_base[(addr, r.table_bar)] + r.table_offset
            real = self.qtest.read(base, r.count * PCI_MSIX_ENTRY_SIZE)
        lost = []
        for v in range(r.count):
            e = real[v * 16 : v * 16 + 12]
            if e != self._redirect_bytes(r, v):
                r.shadow[v * 16 : v * 16 + 12] = e
                lost.append(v)
        if lost:
            self._redirect_msix(addr, lost)

    def _redirect_bytes(self, r: MsixRoute, v: int) -> bytes:
        """Message address and data the device really holds for vector `v`: its mailbox and token."""
        return self._mailbox(r.slot + v).to_bytes(8, "little") + (MSIX_TOKEN | v).to_bytes(4, "little")

    def write_bar(self, addr: Address, bar: int, offset: int, data: bytes) -> None:
        b, at = self._bar(addr, bar, offset, len(data))
        part = None if b.io else self._table_part(addr, bar, offset, len(data))
        if part is None or (part[1], part[2]) != (offset, offset + len(data)):
            self._contexts[addr].cache.clear()  # device registers may change (table entries change none)
        real = bytearray(data)
        programmed: dict[int, int] = {}  # table offset -> byte the user wrote, kept if the table answered
        commands: list[str] = []
        if part is not None:
            r, lo, hi = part
            commands = [self._command_cmd(addr)]
            for pos in range(lo, hi):
                rel = pos - r.table_offset
                v, k = divmod(rel, PCI_MSIX_ENTRY_SIZE)
                if k < PCI_MSIX_ENTRY_VECTOR_CTRL:
                    programmed[rel] = data[pos - offset]
                    real[pos - offset] = self._redirect_bytes(r, v)[k]

        def keep(answers: list[str]) -> None:  # before deliveries are recorded: they carry the programmed copy
            if programmed and int(answers[0], 16) & PCI_COMMAND_MEMORY:
                for rel, byte in programmed.items():
                    part[0].shadow[rel] = byte

        space = "io" if b.io else "mem"
        commands += [write_cmd(space, p, w, v) for p, w, v in split_aligned(at, bytes(real))]
        self.run_and_poll(commands, addr, keep)

    # -- device-side triggers --------------------------------------------------------------------
    def triggers(self, addr: Address) -> dict[str, str]:
        self._node(addr)
        ctx = self._contexts[addr]
        return ctx.model.causes(ctx) if ctx.model is not None else {}

    def trigger(self, addr: Address, cause: str) -> None:
        ctx = self._contexts.get(addr)
        if ctx is None:
            self._node(addr)  # raises the one-line error
        if ctx.model is None:
            raise NotSupported("QEMU source has no trigger declarations for this device model",
                               file=self.name, device=str(addr))
        named = ctx.cache.get(("cause", cause))  # resolving "vector:N" reads IVAR etc.; kept until a write
        if named is None:
            named = ctx.cache[("cause", cause)] = ctx.model.resolve(ctx, cause)
        if named is None:
            known = ", ".join(ctx.model.causes(ctx))
            raise InputError(f"{ctx.model.name} cannot raise {cause!r} here (known: {known})",
                             file=self.name, device=str(addr))
        ctx.model.fire(ctx, named)


def open_spec(rest: str, accel: str | None = None, **options) -> QemuSource:
    """`pciexplore.open("qemu:e1000e+nvme,serial=x@root-port")`: start QEMU with those devices
    (`accel="kvm"`: on KVM, deliveries counted by the running vCPU)."""
    machine = rest if isinstance(rest, Machine) else parse_spec(rest)
    if accel is not None:
        machine.accel = accel
    return QemuSource(machine, **options)

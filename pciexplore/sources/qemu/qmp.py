"""QmpSource: a running QEMU guest, attached read-only through its QMP monitor socket.

    src = pciexplore.open("qmp:/path/to/qmp.sock")   # QEMU started with -qmp unix:PATH,server=on,wait=off

What is read, and how.  Topology, identity and BAR placement come from QEMU's own `query-pci`.  Config
space comes from the guest's ECAM window: its base is where `info mtree` (through human-monitor-command)
shows the `pcie-mmcfg-mmio` region mapped, i.e. where firmware pointed the q35 PCIEXBAR; each function's
bytes are one `pmemsave` of its 4 KiB (a guest-physical read done by QEMU itself, written to a file in a
private temporary directory), cut to 256 bytes for functions without a PCI Express capability as Linux
does.  Where firmware has not enabled ECAM (a VM stopped before its BIOS ran, an i440fx machine) there is
no side-effect-free way to config space: port I/O cycles from outside would race the guest's own
0xCF8/0xCFC pairs, so the source gives the 64-byte header QEMU reports in query-pci (ids, class, BARs,
interrupt pin and line) and lists those functions in `limited`.  BAR windows (MSI-X table and PBA, virtio
structures, device registers) are pmemsave reads of guest-physical memory; several ranges travel as
pipelined QMP commands in one socket round trip.

Never written: config space, BARs, the guest's RAM.  Reads are chosen to have no side effects on the
guest: a virtio ISR status read clears it (virtio 1.x, 4.1.4.5), so ranges over a virtio ISR structure
are refused; I/O BARs are refused (QEMU's `i` command is port I/O from outside).  A PBA read is not
entirely passive under vhost: QEMU's msix_pba_mmio_read first polls the vectors' notifiers
(msix_vector_poll), which may set pending bits the guest would have seen set a little later anyway.
QEMU serves one QMP client at a time: the source connects for each request (see QmpLink), so several
sources and tools can share a monitor; a client that holds it makes the others wait, and they give up
after `timeout` seconds and say so.

Virtio queue bindings.  A queue's fields in the common configuration are visible only for the queue the
*guest* last selected (queue_select).  The source never writes that register; instead a write of
`queue_select` through `write_bar` selects a queue in the source only, and the queue fields then read
back what the recording of a VM started by `pciexplore vm` says the driver wrote for that queue (or the
live fields, when the guest's own queue_select is that queue).  Any other write is refused.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import socket
import stat
import tempfile
import threading
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ...address import Address
from ...decode import walk_standard
from ...errors import InputError, NotSupported, ReadOnlyError
from ..base import BarRegion, ByteRange, Source
from .firmware import IORESOURCE_IO, Bar
from .qtest import LineChannel, QemuError, is_qmp_event
from .timeline import (
    QUEUE_FIELDS,
    VIRTIO_COMMON,
    VIRTIO_PCI_CAP_COMMON_CFG,
    VIRTIO_PCI_CAP_ISR_CFG,
    VIRTIO_PCI_COMMON_Q_SELECT,
    virtio_structs,
)

if TYPE_CHECKING:
    from .timeline import Timeline, TraceReader

PCI_CAP_ID_EXP = 0x10
#: the description `pciexplore vm` leaves beside the socket it adds
VM_INFO = "pciexplore-vm.json"

_MTREE_LINE = re.compile(r"^\s*([0-9a-f]+)-([0-9a-f]+) \(prio -?\d+, [\w/-]+\)(?: \[disabled\])?: (\S+)")


class QmpChannel(LineChannel):
    """QMP over a connected socket: JSON commands (pipelined in one write when several), events skipped."""

    def _skip(self, line: str) -> bool:
        return is_qmp_event(line)

    def run(self, commands: Sequence[tuple[str, dict]]) -> list[object]:
        payload = b"".join(json.dumps({"execute": c, **({"arguments": a} if a else {})}).encode() + b"\n"
                           for c, a in commands)
        out = []
        for (cmd, _), line in zip(commands, self.exchange(payload, len(commands)), strict=True):
            answer = json.loads(line)
            if "error" in answer:
                raise QemuError(f"QMP {cmd} failed: {answer['error'].get('desc', answer['error'])}", file=self.name)
            out.append(answer.get("return"))
        return out

    def execute(self, command: str, **arguments: object) -> object:
        return self.run([(command, arguments)])[0]


def connect(path: str, spec: str, timeout: float, negotiate: bool = True, wait: bool = True) -> QmpChannel:
    """Connect, read the greeting and (with `negotiate`) leave capabilities negotiation; every way this
    can fail is one line naming the spec.  `wait`: a refused connection is retried until `timeout` (a QEMU
    that has bound its socket but not yet listens on it)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise InputError("no such socket (start QEMU with -qmp unix:PATH,server=on,wait=off)", file=spec) from None
    except OSError as e:
        raise InputError(f"cannot stat: {e.strerror}", file=spec) from None
    if not stat.S_ISSOCK(mode):
        raise InputError("not a Unix socket (give the path of QEMU's -qmp unix: socket)", file=spec)
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(path)
            break
        except ConnectionRefusedError:  # bound but not yet listening (QEMU starting), or QEMU gone
            sock.close()
            if not wait or time.monotonic() > deadline:
                raise InputError("connection refused (is QEMU still running?)", file=spec) from None
            time.sleep(0.05)
        except OSError as e:
            sock.close()
            raise InputError(f"cannot connect: {e.strerror or e} (is QEMU still running?)", file=spec) from None
    channel = QmpChannel(sock, timeout, spec)
    try:
        greeting = channel.exchange(b"", 1)[0]
    except QemuError as e:
        sock.close()
        if "no answer" in e.message:
            raise InputError(f"no QMP greeting within {timeout:g} s: not a QMP socket, or another client holds "
                             "this monitor (QEMU serves one at a time)", file=spec) from None
        raise InputError(f"no QMP greeting: {e.message}", file=spec) from None
    try:
        ok = "QMP" in json.loads(greeting)
    except ValueError:
        ok = False
    if not ok:
        sock.close()
        raise InputError(f"not a QMP socket: it said {greeting[:60]!r}", file=spec)
    if negotiate:
        channel.execute("qmp_capabilities")
    return channel


class QmpLink:
    """The QMP monitor of one VM.  QEMU serves one client at a time, so by default every request has a
    connection of its own (greeting, then qmp_capabilities pipelined with the commands: one round trip
    more than a held connection) and the monitor is free between requests for other tools: a dashboard
    left open on a VM does not lock out `pciexplore capture` or the user's own QMP client.  `hold=True`
    keeps one connection for the source's life."""

    def __init__(self, path: str, spec: str, timeout: float, hold: bool = False) -> None:
        self.path, self.spec, self.timeout, self.hold = path, spec, timeout, hold
        self.channel: QmpChannel | None = None
        self.exchanges = 0  # requests answered
        self._attached = False

    def run(self, commands: Sequence[tuple[str, dict]]) -> list[object]:
        channel = self.channel
        fresh = channel is None
        if channel is None:
            try:
                channel = connect(self.path, self.spec, self.timeout, negotiate=False, wait=not self._attached)
            except InputError as e:
                if not self._attached:
                    raise
                raise QemuError(f"the VM exited ({e.message})", file=self.spec) from None
            self._attached = True
        try:
            out = channel.run([("qmp_capabilities", {}), *commands] if fresh else commands)
        except BaseException:
            channel.sock.close()
            self.channel = None
            raise
        self.exchanges += 1
        if self.hold:
            self.channel = channel
        else:
            channel.sock.close()
        return out[1:] if fresh else out

    def execute(self, command: str, **arguments: object) -> object:
        return self.run([(command, arguments)])[0]

    def close(self) -> None:
        if self.channel is not None:
            with contextlib.suppress(OSError):
                self.channel.sock.close()
            self.channel = None


def ecam_base(mtree: str) -> int | None:
    """Where the q35 ECAM window (`pcie-mmcfg-mmio`) is mapped in the system address space, if it is."""
    in_memory = False
    for line in mtree.splitlines():
        if line.startswith("address-space:"):
            in_memory = line.strip() == "address-space: memory"
            continue
        m = _MTREE_LINE.match(line)
        if in_memory and m and m[3] == "pcie-mmcfg-mmio" and "[disabled]" not in line:
            return int(m[1], 16)
    return None


def _flags(region: dict) -> int:
    """IORESOURCE_* of a query-pci region, as the qtest back-end's firmware derives them."""
    return Bar(region["bar"], region.get("type") == "io", bool(region.get("mem_type_64")),
               bool(region.get("prefetch")), region["size"]).flags


class QmpSource(Source):
    kind = "qmp"
    #: a queue_select "write" selects the queue in this source only: the virtio model may select freely
    selects_virtually = True
    writable = False
    #: the guest reprograms its devices while we look (the explorer offers a live refresh)
    is_running_guest = True

    def __init__(self, path: str | Path, *, timeout: float = 5.0, hold: bool = False) -> None:
        self.path = str(path)
        super().__init__(f"qmp:{self.path}")
        self.qmp = QmpLink(self.path, self.name, timeout, hold)
        self._tmp = tempfile.mkdtemp(prefix="pciexplore-qmp-")
        self._requests = itertools.count()
        self._finalizer = weakref.finalize(self, _close, self.qmp, self._tmp)
        try:
            self._devices: dict[Address, dict] = {}
            pci, mtree = self.qmp.run([("query-pci", {}), ("human-monitor-command", {"command-line": "info mtree"})])
            self._walk(pci)
            self.ecam = ecam_base(str(mtree))
            #: functions whose config space is only QEMU's query-pci header (ECAM off): address -> bytes
            self.limited: dict[Address, int] = {} if self.ecam is not None else dict.fromkeys(self._devices, 64)
            self._structs: dict[Address, dict[int, tuple[int, int, int]]] = {}
            #: config size of each function once read (a device model's capability list never changes)
            self._cfg_size: dict[Address, int] = {}
            self._selected: dict[Address, int] = {}  # queue_select as set through write_bar, never sent
            self._trace: TraceReader | None = None  # decodes the recording as QEMU appends to it
            self._trace_lock = threading.Lock()
            self.vm_info = self._vm_info()
        except BaseException:
            self.close()
            raise

    def _vm_info(self) -> dict | None:
        """What `pciexplore vm` wrote beside the socket (its trace file), when it started this VM."""
        info = Path(self.path).with_name(VM_INFO)
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(info.read_text())
            if data.get("qmp") == self.path:
                return data
        return None

    def _walk(self, buses: list) -> None:
        for bus in buses:
            for d in bus.get("devices", []):
                self._devices[Address(0, d["bus"], d["slot"], d["function"])] = d
                if "pci_bridge" in d:
                    self._walk([d["pci_bridge"]])

    def close(self) -> None:
        self._finalizer()

    def _exchange(self, commands: list[tuple[str, dict]]) -> list[object]:
        try:
            return self.qmp.run(commands)
        except QemuError as e:
            if "closed" in e.message or "failed:" in e.message and "connection" in e.message:
                raise QemuError("the VM exited while it was being read", file=self.name) from None
            raise

    # -- reads ------------------------------------------------------------------------------------
    def addresses(self) -> list[Address]:
        return list(self._devices)

    def _device(self, addr: Address) -> dict:
        d = self._devices.get(addr)
        if d is None:
            raise InputError(f"no function {addr} in this VM", file=self.name)
        return d

    def _read_phys(self, pieces: Sequence[tuple[int, int]]) -> list[bytes]:
        """Guest-physical bytes of each (address, size), in one pipelined exchange of pmemsave commands."""
        request = next(self._requests)  # file names of their own: threads (the explorer's live refresh) read at once
        files = [os.path.join(self._tmp, f"r{request}-{i}") for i in range(len(pieces))]
        commands = [("pmemsave", {"val": at, "size": size, "filename": f})
                    for (at, size), f in zip(pieces, files, strict=True) if size]
        if commands:
            self._exchange(commands)
        out = []
        for (_, size), f in zip(pieces, files, strict=True):
            if not size:
                out.append(b"")
                continue
            with open(f, "rb") as fh:
                out.append(fh.read())
            os.unlink(f)
        return out

    def _config_size(self, head: bytes) -> int:
        """4096 for PCI Express functions, 256 otherwise (Linux's pci_cfg_space_size: QEMU answers 0xff beyond)."""
        caps, _ = walk_standard(head[:0x100])
        return 0x1000 if any(c.cap_id == PCI_CAP_ID_EXP for c in caps) else 0x100

    def read_config(self, addr: Address) -> bytes:
        return self.read_ranges(addr, [ByteRange(None, 0, 0x1000)])[0]

    def _header_from_qemu(self, addr: Address) -> bytes:
        """The 64-byte header as QEMU's query-pci reports it (ECAM not enabled by firmware)."""
        d = self._device(addr)
        cfg = bytearray(64)
        ids = d.get("id", {})
        cfg[0:4] = (ids.get("vendor", 0xFFFF) | ids.get("device", 0xFFFF) << 16).to_bytes(4, "little")
        cls = d.get("class_info", {}).get("class", 0)
        cfg[0x0A:0x0C] = cls.to_bytes(2, "little")
        bridge = d.get("pci_bridge")
        cfg[0x0E] = 1 if bridge else 0
        if bridge:
            bus = bridge.get("bus", {})
            cfg[0x18:0x1B] = bytes([bus.get("number", 0), bus.get("secondary", 0), bus.get("subordinate", 0)])
        else:
            cfg[0x2C:0x30] = (ids.get("subsystem-vendor", 0) | ids.get("subsystem", 0) << 16).to_bytes(4, "little")
        for r in d.get("regions", []):
            at = 0x10 + 4 * r["bar"] if r["bar"] < 6 else (0x38 if bridge else 0x30)
            if r.get("address", -1) < 0 or at + 4 > 0x40:
                continue
            low = r["address"] & 0xFFFFFFFF
            if r["bar"] < 6:
                low |= 1 if r["type"] == "io" else (4 if r.get("mem_type_64") else 0) | (8 if r.get("prefetch") else 0)
            cfg[at:at + 4] = low.to_bytes(4, "little")
            if r.get("mem_type_64") and r["bar"] < 5:
                cfg[at + 4:at + 8] = (r["address"] >> 32).to_bytes(4, "little")
        cfg[0x3C] = d.get("irq", 0) & 0xFF
        cfg[0x3D] = d.get("irq_pin", 0) & 0xFF
        return bytes(cfg)

    def bar_regions(self, addr: Address) -> dict[int, BarRegion]:
        return {r["bar"]: BarRegion(r["bar"], r["address"], r["size"], _flags(r))
                for r in self._device(addr).get("regions", []) if r.get("address", -1) >= 0}

    def _virtio_structs(self, addr: Address) -> dict[int, tuple[int, int, int]]:
        """virtio cfg_type -> (bar, offset, length); read once per function: a device model's capability
        layout never changes."""
        found = self._structs.get(addr)
        if found is None:
            found = self._structs[addr] = virtio_structs(self.function(addr))
        return found

    def _bar_piece(self, addr: Address, bar: int, offset: int, size: int) -> tuple[int, int]:
        regions = self.bar_regions(addr)
        r = regions.get(bar)
        if r is None:
            raise NotSupported(f"BAR {bar} is not mapped (no guest-physical address in QEMU's query-pci)",
                               file=self.name, device=str(addr))
        if offset < 0 or size < 0 or offset + size > r.size:
            raise InputError(f"BAR {bar} read {offset:#x}+{size:#x} outside its {r.size:#x} bytes",
                             file=self.name, device=str(addr), offset=offset)
        if r.flags & IORESOURCE_IO:
            raise NotSupported(f"BAR {bar} is an I/O BAR: reading ports from outside is not side-effect free, "
                               "so the attached source does not", file=self.name, device=str(addr))
        isr = self._virtio_structs(addr).get(VIRTIO_PCI_CAP_ISR_CFG)
        if isr is not None and isr[0] == bar and offset < isr[1] + isr[2] and isr[1] < offset + size:
            raise NotSupported(f"BAR {bar} {offset:#x}+{size:#x} covers the virtio ISR status at {isr[1]:#x}: "
                               "reading it clears it, so it is never read", file=self.name, device=str(addr),
                               offset=offset)
        return r.base + offset, size

    def _pieces(self, addr: Address, r: ByteRange) -> list[tuple[int, int]]:
        """Guest-physical (address, size) reads making up BAR range `r`.  Over the virtio common configuration
        each field is read at its own width: QEMU's virtio_pci_common_read answers a 4-byte read at
        queue_size with queue_size alone, so a wider read would show 0 for queue_msix_vector beside it."""
        at, size = self._bar_piece(addr, r.bar, r.offset, r.size)
        common = self._common(addr)
        if common is None or common[0] != r.bar or not (common[1] < r.offset + r.size and r.offset < common[1] + 0x38):
            return [(at, size)]
        base = at - r.offset
        bounds = sorted({r.offset, r.offset + r.size} | {common[1] + o for o, (_, w, _) in VIRTIO_COMMON.items()}
                        | {common[1] + o + w for o, (_, w, _) in VIRTIO_COMMON.items()})
        cuts = [b for b in bounds if r.offset <= b <= r.offset + r.size]
        return [(base + lo, hi - lo) for lo, hi in zip(cuts, cuts[1:], strict=False)]

    def read_bar(self, addr: Address, bar: int, offset: int, size: int) -> bytes:
        return self.read_ranges(addr, [ByteRange(bar, offset, size)])[0]

    def read_ranges(self, addr: Address, ranges: Sequence[ByteRange]) -> list[bytes]:
        """Config ranges from one read of the function's ECAM page, BAR ranges by guest-physical reads: all
        in one pipelined exchange (the config bytes first, when a BAR range needs the virtio layout)."""
        self._device(addr)
        split = [self._pieces(addr, r) for r in ranges if r.bar is not None]
        pieces = [p for ps in split for p in ps]
        wanted = [r for r in ranges if r.bar is None]
        for r in wanted:
            if r.offset < 0 or r.size < 0:
                raise InputError(f"config read {r.offset:#x}+{r.size:#x} outside config space",
                                 file=self.name, device=str(addr), offset=r.offset)
        # only the span asked for, within the function's config size once known: QEMU's ECAM costs about
        # 7 us per 4-byte access (4 KiB: 7 ms), a QMP round trip 0.25 ms
        size = self._cfg_size.get(addr)
        lo = min((r.offset for r in wanted), default=0) if size is not None else 0
        hi = min(max((r.offset + r.size for r in wanted), default=0), size if size is not None else 0x1000)
        if wanted and self.ecam is not None:
            pieces.append((self._ecam_page(addr) + lo, max(0, hi - lo)))
        got = self._read_phys(pieces)
        config = None
        if wanted and self.ecam is not None:
            raw = got.pop()
            if size is None:
                raw = self._trim_config(addr, raw)
                self._cfg_size[addr] = len(raw)
            config = bytes(lo) + raw
            if lo == 0 and raw[:2] == b"\xff\xff":
                self._trim_config(addr, raw)  # raises: the function is gone
        elif wanted:
            config = self._header_from_qemu(addr)
        joined, at = [], 0
        for ps in split:
            joined.append(b"".join(got[at:at + len(ps)]))
            at += len(ps)
        bars = iter(joined)
        out = []
        for r in ranges:
            if r.bar is None:
                out.append(config[r.offset:r.offset + r.size])
            else:
                out.append(self._virtual_select(addr, r, next(bars)))
        return out

    def _ecam_page(self, addr: Address) -> int:
        return self.ecam | addr.bus << 20 | addr.device << 15 | addr.function << 12

    def _trim_config(self, addr: Address, cfg: bytes) -> bytes:
        if cfg[:2] == b"\xff\xff":
            raise QemuError("function no longer answers in ECAM (removed, or the bus was renumbered)",
                            file=self.name, device=str(addr))
        return cfg[: self._config_size(cfg)]

    # -- virtio queue bindings without writing ----------------------------------------------------
    def _common(self, addr: Address) -> tuple[int, int, int] | None:
        return self._virtio_structs(addr).get(VIRTIO_PCI_CAP_COMMON_CFG)

    def _virtual_select(self, addr: Address, r: ByteRange, data: bytes) -> bytes:
        """Bytes of a BAR range, with the common configuration's per-queue fields shown for the queue selected
        through this source (write_bar of queue_select) instead of the guest's."""
        sel = self._selected.get(addr)
        common = self._common(addr) if sel is not None else None
        if common is None or common[0] != r.bar:
            return data
        base = common[1]
        lo, hi = max(r.offset, base + VIRTIO_PCI_COMMON_Q_SELECT), min(r.offset + r.size, base + QUEUE_FIELDS[1])
        if lo >= hi:
            return data
        live = bytes(data)
        guest_sel = self._read_phys([(self.bar_regions(addr)[r.bar].base + base + VIRTIO_PCI_COMMON_Q_SELECT, 2)])[0]
        if int.from_bytes(guest_sel, "little") == sel:
            fields = None  # the guest has that queue selected: the live fields are the answer
        else:
            timeline = self.timeline()
            fields = timeline.queue_fields(addr, sel) if timeline is not None else None
            if fields is None:
                raise NotSupported(f"queue {sel}'s fields show only while the guest selects it (queue_select is the "
                                   "guest's; start the VM with 'pciexplore vm' to record them)",
                                   file=self.name, device=str(addr))
        out = bytearray(live)
        for pos in range(lo, hi):
            rel = pos - base
            if rel < VIRTIO_PCI_COMMON_Q_SELECT + 2:
                out[pos - r.offset] = (sel >> 8 * (rel - VIRTIO_PCI_COMMON_Q_SELECT)) & 0xFF
            elif fields is not None:
                out[pos - r.offset] = fields[rel - QUEUE_FIELDS[0]]
        return bytes(out)

    def write_bar(self, addr: Address, bar: int, offset: int, data: bytes) -> None:
        common = self._common(addr)
        if common is not None and common[0] == bar and offset == common[1] + VIRTIO_PCI_COMMON_Q_SELECT and len(data) == 2:
            self._selected[addr] = int.from_bytes(data, "little")  # kept here: the guest's register is not touched
            return
        raise ReadOnlyError("an attached VM is read-only: writes from outside would race the guest's driver "
                            "(only virtio queue_select is taken, by the source itself)", file=self.name,
                            device=str(addr), offset=offset)

    def write_config(self, addr: Address, offset: int, data: bytes) -> None:
        raise ReadOnlyError("an attached VM is read-only: config writes from outside would race the guest's own "
                            "config cycles", file=self.name, device=str(addr), offset=offset)

    # -- the recorded bring-up ------------------------------------------------------------------
    def timeline(self) -> Timeline | None:
        """The guest's bring-up as recorded by `pciexplore vm`, up to now (each call decodes only what QEMU
        traced since the last); None when this VM was not started that way."""
        if self.vm_info is None:
            return None
        from .timeline import TraceReader

        with self._trace_lock:  # the reader's decoder and file offset move together
            if self._trace is None:
                self._trace = TraceReader(self.vm_info["trace"], self)
            return self._trace.read()


def _close(link: QmpLink, tmp: str) -> None:
    link.close()
    shutil.rmtree(tmp, ignore_errors=True)


def open_spec(rest: str, **options) -> QmpSource:
    """`pciexplore.open("qmp:/run/vm/qmp.sock")`: attach read-only to a running QEMU."""
    if not rest:
        raise InputError("empty qmp: spec; give the QMP socket path, e.g. qmp:/tmp/vm/qmp.sock")
    return QmpSource(rest, **options)

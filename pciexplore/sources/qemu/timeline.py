"""A guest driver's bring-up as QEMU traced it: decoded steps, a DataFrame, a diff, the virtio bindings.

`pciexplore vm` starts QEMU with three trace events (QEMU 7.2 has them; `qemu-system-x86_64 -trace help`):

* `pci_cfg_write` - every config write the guest makes, with the device's bus:dev.fn, offset and value
  (no width: the register is named from the declarations at that offset);
* `msix_write_config` - the device's MSI-X Enable / Function Mask after a write to Message Control;
* `memory_region_ops_write` - every MMIO and port write with its absolute guest-physical address and
  the region's name.  QEMU 7.2 has no trace event for an MSI-X table write (msix_table_mmio_write
  traces nothing) nor for the virtio-pci common configuration (virtio_pci_common_write traces nothing),
  so these writes are taken from this generic event: regions named `msix-table` and
  `virtio-pci-common-*`, attributed to a function by the BAR placement the trace itself shows (the
  guest's BAR writes; QEMU's query-pci placement until the first one).  It also fires for every
  other MMIO/port write (APIC EOIs, the serial port): about 70 000 lines for a Debian boot; only the
  two region kinds are kept.

Where a register's earlier value is known (written earlier in the trace, or MSI-X state from reset),
a step says `old -> new` per field; otherwise `<- value`.  Table entries are named as pci_regs.h names
them (PCI_MSIX_ENTRY_DATA ...), the virtio common configuration as virtio 1.x 4.1.4.3 does.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...address import Address
from ...errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from ..base import Source

#: trace events `pciexplore vm` enables
TRACE_EVENTS = ("pci_cfg_write", "msix_write_config", "memory_region_ops_write")

_PREFIX = r"^(?:\d+@[\d.]+:)?"  # the log backend's "pid@seconds:" with -msg timestamp=on
_CFG = re.compile(_PREFIX + r"pci_cfg_write (\S+) ([0-9a-f]+):([0-9a-f]+)\.([0-7]) @0x([0-9a-f]+) <- 0x([0-9a-f]+)")
_MSIX = re.compile(_PREFIX + r"msix_write_config dev (\S+) enabled (\d) masked (\d)")
_MMIO = re.compile(_PREFIX + r"memory_region_ops_write cpu (-?\d+) mr \S+ addr 0x([0-9a-f]+) value 0x([0-9a-f]+) "
                   r"size (\d+) name '(msix-table|virtio-pci-common-[^']*)'")

# pci_regs.h
PCI_CAP_ID_VNDR = 0x09
#: virtio_pci_cap cfg_type (virtio 1.x 4.1.4)
VIRTIO_PCI_CAP_COMMON_CFG = 1
VIRTIO_PCI_CAP_ISR_CFG = 3
PCI_MSIX_ENTRY_FIELDS = {0: "PCI_MSIX_ENTRY_LOWER_ADDR", 4: "PCI_MSIX_ENTRY_UPPER_ADDR", 8: "PCI_MSIX_ENTRY_DATA",
                         12: "PCI_MSIX_ENTRY_VECTOR_CTRL"}
#: struct virtio_pci_common_cfg (virtio 1.x 4.1.4.3): offset -> (name, width, per queue)
VIRTIO_COMMON = {0x00: ("device_feature_select", 4, False), 0x04: ("device_feature", 4, False),
                 0x08: ("driver_feature_select", 4, False), 0x0C: ("driver_feature", 4, False),
                 0x10: ("msix_config", 2, False), 0x12: ("num_queues", 2, False), 0x14: ("device_status", 1, False),
                 0x15: ("config_generation", 1, False), 0x16: ("queue_select", 2, False),
                 0x18: ("queue_size", 2, True), 0x1A: ("queue_msix_vector", 2, True), 0x1C: ("queue_enable", 2, True),
                 0x1E: ("queue_notify_off", 2, True), 0x20: ("queue_desc_lo", 4, True), 0x24: ("queue_desc_hi", 4, True),
                 0x28: ("queue_driver_lo", 4, True), 0x2C: ("queue_driver_hi", 4, True),
                 0x30: ("queue_device_lo", 4, True), 0x34: ("queue_device_hi", 4, True)}
VIRTIO_PCI_COMMON_Q_SELECT = 0x16
QUEUE_FIELDS = (0x18, 0x38)  # queue_size .. queue_device_hi: the fields of the selected queue
#: device_status bits (virtio 1.x 2.1)
VIRTIO_STATUS = {1: "ACKNOWLEDGE", 2: "DRIVER", 4: "DRIVER_OK", 8: "FEATURES_OK", 0x40: "DEVICE_NEEDS_RESET", 0x80: "FAILED"}
VIRTIO_MSI_NO_VECTOR = 0xFFFF


@dataclass(frozen=True)
class Step:
    """One decoded step of the bring-up."""

    step: int  # order in the trace, from 0
    function: str  # bus:dev.fn as the guest addressed it
    device: str  # QEMU's device model (virtio-net-pci, nvme, ...)
    kind: str  # config | msix | msix-table | virtio
    register: str  # pci_regs.h / virtio spec name
    index: int | None  # MSI-X entry or virtio queue, where the register belongs to one
    value: int
    old: int | None  # the register's value before, when the trace shows it
    text: str

    def __str__(self) -> str:
        return self.text


def _status_names(v: int) -> str:
    if v == 0:
        return "0 (reset)"
    names = [n for b, n in VIRTIO_STATUS.items() if v & b]
    rest = v & ~sum(b for b in VIRTIO_STATUS if v & b)
    return "|".join(names + ([f"{rest:#x}"] if rest else []))


class _Layout:
    """Where one function's registers are: names by config offset, MSI-X table, virtio common config."""

    def __init__(self, source: Source, addr: Address) -> None:
        fn = source.function(addr)
        self.names: dict[int, tuple[str, Any]] = {}  # config offset -> (name, Register)
        blocks = [fn.header, *fn.capabilities]
        for block in blocks:
            if block.layout is None:
                continue
            for reg in block.layout.registers:
                self.names.setdefault(block.offset + reg.offset, (reg.name, reg))
        self.bar_offsets = {0x10 + 4 * i: i for i in range(6)}
        regions = source.bar_regions(addr) or {}
        self.bars = {i: (r.base, r.size, bool(r.flags & 0x100), bool(r.flags & 0x0010_0000)) for i, r in regions.items()}
        self.msix = None  # (bar, table offset, entries)
        if fn.msix is not None:
            r = fn.msix.regs()
            self.msix = (r.table_bir, r.table_offset, r.size)
        self.common = virtio_structs(fn).get(VIRTIO_PCI_CAP_COMMON_CFG)  # (bar, offset, length)


def virtio_structs(fn: Any) -> dict[int, tuple[int, int, int]]:
    """virtio_pci_cap cfg_type -> (bar, offset, length) of a virtio function's vendor capabilities
    (virtio 1.x 4.1.4); the first of each type, as Linux's virtio_pci_find_capability takes it."""
    cfg = fn.config
    out: dict[int, tuple[int, int, int]] = {}
    if cfg[0:2] != b"\xf4\x1a":
        return out
    for c in fn.capabilities:
        o = c.offset
        if c.id == PCI_CAP_ID_VNDR and not c.extended and o + 16 <= len(cfg):
            out.setdefault(cfg[o + 3], (cfg[o + 4], int.from_bytes(cfg[o + 8:o + 12], "little"),
                                        int.from_bytes(cfg[o + 12:o + 16], "little")))
    return out


class Timeline:
    """Decoded steps, in order; `bindings()` the virtio queue -> vector table the driver wrote."""

    def __init__(self, steps: list[Step], queues: dict[tuple[str, int], bytearray] | None = None,
                 written: dict[tuple[str, int], set[int]] | None = None, name: str = "") -> None:
        self.steps = steps
        self.name = name
        self._queues = queues or {}
        self._written = written or {}

    # -- building ---------------------------------------------------------------------------------
    @classmethod
    def from_trace(cls, path: str | Path, source: Source) -> Timeline:
        """Decode QEMU's trace log at `path` with the register layout `source` (the attached VM) shows."""
        return TraceReader(path, source).read()

    # -- views ------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self):
        return iter(self.steps)

    def __getitem__(self, i):
        return self.steps[i]

    def __repr__(self) -> str:
        return f"<Timeline {self.name!r}: {len(self.steps)} steps>"

    def __str__(self) -> str:
        return "\n".join(s.text for s in self.steps)

    @property
    def table(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([asdict(s) for s in self.steps],
                            columns=list(Step.__dataclass_fields__)).set_index("step")

    def select(self, function: str | None = None, kind: str | None = None, device: str | None = None) -> Timeline:
        """The steps of one function, kind of step or QEMU device model, as a timeline of their own."""
        want = _short(function) if function else None
        return Timeline([s for s in self.steps if (want is None or s.function == want)
                         and (kind is None or s.kind == kind) and (device is None or s.device == device)],
                        name=self.name)

    def state(self, step: int, function: str | None = None) -> pd.DataFrame:
        """What the driver had written by step `step` (inclusive): the last value of every register, MSI-X
        entry field and virtio queue field, with the step that wrote it; the device as the trace shows it then."""
        import pandas as pd

        want = _short(function) if function else None
        last: dict[tuple[str, str, str, int | None], Step] = {}
        for s in self.steps:
            if s.step > step:
                break
            if want is None or s.function == want:
                last[(s.function, s.kind, s.register, s.index)] = s
        rows = [{"function": s.function, "kind": s.kind, "register": s.register, "index": s.index,
                 "value": s.value, "step": s.step} for s in last.values()]
        df = pd.DataFrame(rows, columns=["function", "kind", "register", "index", "value", "step"])
        return df.astype({"index": "Int64"}).sort_values(["function", "kind", "index", "register"],
                                                         na_position="first").reset_index(drop=True)

    def queue_fields(self, addr: Address, queue: int) -> bytes | None:
        """The per-queue fields (queue_size .. queue_device_hi, 0x20 bytes) the driver wrote for `queue` of
        `addr` since the device's last reset; bytes it never wrote (queue_notify_off) read 0.  None when
        the trace shows no write for that queue."""
        got = self._queues.get((addr.short, queue))
        return bytes(got) if got is not None and self._written.get((addr.short, queue)) else None

    def bindings(self, function: str | None = None) -> pd.DataFrame:
        """function, queue -> queue_msix_vector (and size, enable) as the driver last wrote them."""
        import pandas as pd

        rows = []
        for (bdf, q), raw in sorted(self._queues.items()):
            if function and bdf != _short(function):
                continue
            done = self._written.get((bdf, q), set())

            def field(off: int, width: int, raw: bytearray = raw, done: set[int] = done) -> int | None:
                return int.from_bytes(raw[off - 0x18:off - 0x18 + width], "little") if off in done else None

            rows.append({"function": bdf, "queue": q, "queue_msix_vector": field(0x1A, 2),
                         "queue_size": field(0x18, 2), "queue_enable": field(0x1C, 2)})
        df = pd.DataFrame(rows, columns=["function", "queue", "queue_msix_vector", "queue_size", "queue_enable"])
        return df.astype({c: "Int64" for c in ("queue_msix_vector", "queue_size", "queue_enable")})

    def diff(self, other: Timeline, bdf: bool = True, values: bool = True) -> list[str]:
        """Steps only in one of the two, in order ('-' this one, '+' the other).  With `bdf` False a step
        names its device model instead of its address, and with `values` False only which register was
        written counts (BAR and ring addresses differ from machine to machine): the same OS on two
        machines then compares step for step."""
        def key(s: Step) -> str:
            if not values:
                where = s.function if bdf else s.device
                return f"{where} {s.kind} {s.register}" + (f" [{s.index}]" if s.index is not None else "")
            return s.text if bdf else s.text.replace(s.function, s.device, 1)

        out = []
        for line in difflib.unified_diff([key(s) for s in self.steps], [key(s) for s in other.steps],
                                         self.name, other.name, lineterm="", n=0):
            if line[:1] in "+-" and not line.startswith(("+++", "---")):
                out.append(line)
        return out

    # -- captures ---------------------------------------------------------------------------------
    def to_list(self) -> list[dict]:
        return [asdict(s) for s in self.steps]

    @classmethod
    def from_list(cls, items: list[dict], name: str = "") -> Timeline:
        return cls([Step(**d) for d in items], name=name)


def _short(bdf: str) -> str:
    return Address.parse(bdf).short


class _Decoder:
    """One pass over the trace lines, keeping the state a step's text needs (last values, queue_select)."""

    def __init__(self, source: Source, name: str) -> None:
        self.source = source
        self.name = name
        self.layouts: dict[str, _Layout] = {}
        self.addrs = {a.short: a for a in source.addresses()}
        self.steps: list[Step] = []
        self.last_cfg: dict[tuple[str, int], int] = {}
        self.msix_state: dict[str, tuple[int, int]] = {}  # function -> (enable, mask all) as the device has them
        self.last_dev: str | None = None  # the function of the latest config write (msix_write_config follows it)
        self.selected: dict[str, int] = {}
        self.queues: dict[tuple[str, int], bytearray] = {}
        self.written: dict[tuple[str, int], set[int]] = {}
        self.common_regs: dict[tuple[str, int], int] = {}
        self.table_regs: dict[tuple[str, int], int] = {}
        self.devices: dict[str, str] = {}

    def layout(self, bdf: str) -> _Layout | None:
        if bdf not in self.layouts:
            addr = self.addrs.get(bdf)
            self.layouts[bdf] = _Layout(self.source, addr) if addr is not None else None
        return self.layouts[bdf]

    def add(self, bdf: str, kind: str, register: str, index: int | None, value: int, old: int | None,
            text: str) -> None:
        self.steps.append(Step(len(self.steps), bdf, self.devices.get(bdf, "?"), kind, register, index, value, old,
                               f"{bdf} {text}"))

    def feed(self, lines: list[str]) -> None:
        for line in lines:
            if line.startswith("memory_region_ops_write") or "@" in line[:24] and "memory_region_ops_write" in line:
                if "name 'msix-table'" not in line and "name 'virtio-pci-common-" not in line:
                    continue  # nearly all of the trace: APIC, serial port, other BARs
                m = _MMIO.match(line)
                if m and int(m[1]) >= 0:  # cpu -1: QEMU itself, not the guest
                    self.mmio(int(m[2], 16), int(m[3], 16), int(m[4]), m[5])
                continue
            m = _CFG.match(line)
            if m:
                self.config(m)
                continue
            m = _MSIX.match(line)
            if m:
                self.msix(m)

    def timeline(self) -> Timeline:
        """What was decoded so far (copies: feeding more lines later does not change it)."""
        return Timeline(list(self.steps), {k: bytearray(v) for k, v in self.queues.items()},
                        {k: set(v) for k, v in self.written.items()}, self.name)


    def config(self, m: re.Match) -> None:
        bdf = f"{int(m[2], 16):02x}:{int(m[3], 16):02x}.{m[4]}"
        self.devices.setdefault(bdf, m[1])
        offset, value = int(m[5], 16), int(m[6], 16)
        self.last_dev = bdf
        lay = self.layout(bdf)
        if lay is not None and offset in lay.bar_offsets:
            self.track_bar(lay, lay.bar_offsets[offset], offset, value)
        name, reg = lay.names.get(offset, (None, None)) if lay is not None else (None, None)
        name = name or f"config {offset:#05x}"
        old = self.last_cfg.get((bdf, offset))
        self.last_cfg[(bdf, offset)] = value
        text = f"{name} ← {value:#x}"
        if old is not None and reg is not None and reg.fields and offset not in lay.bar_offsets:  # BAR type bits are read-only
            changed = [f"{f.name} {f.extract(old)} → {f.extract(value)}" for f in reg.fields
                       if f.extract(old) != f.extract(value)]
            if changed:
                text += f" ({', '.join(changed)})"
        self.add(bdf, "config", name, None, value, old, text)

    def track_bar(self, lay: _Layout, index: int, offset: int, value: int) -> None:
        """A BAR write moves the BAR (sizing writes, all ones in the address bits, do not)."""
        if value >= 0xFFFF_F000:
            return
        if index in lay.bars:
            base, size, io, is64 = lay.bars[index]
            low = value & (~3 if io else ~0xF) & 0xFFFF_FFFF
            lay.bars[index] = ((base & ~0xFFFF_FFFF) | low, size, io, is64)
        elif index - 1 in lay.bars and lay.bars[index - 1][3]:  # upper half of a 64-bit BAR
            base, size, io, is64 = lay.bars[index - 1]
            lay.bars[index - 1] = ((base & 0xFFFF_FFFF) | value << 32, size, io, is64)

    def msix(self, m: re.Match) -> None:
        bdf = self.last_dev
        if bdf is None:
            return
        enable, mask = int(m[2]), int(m[3])
        old_enable, old_mask = self.msix_state.get(bdf, (0, 0))  # MSI-X resets disabled, unmasked
        self.msix_state[bdf] = (enable, mask)
        if enable != old_enable:
            self.add(bdf, "msix", "PCI_MSIX_FLAGS_ENABLE", None, enable, old_enable,
                     f"PCI_MSIX_FLAGS_ENABLE {old_enable} → {enable}")
        if mask != old_mask:
            self.add(bdf, "msix", "PCI_MSIX_FLAGS_MASKALL", None, mask, old_mask,
                     f"PCI_MSIX_FLAGS_MASKALL {old_mask} → {mask}")

    def owner(self, at: int, kind: str) -> tuple[str, _Layout, int] | None:
        """The function whose MSI-X table or virtio common config holds `at`, and the offset in it."""
        for bdf in self.addrs:
            lay = self.layout(bdf)
            if lay is None:
                continue
            where = (lay.msix[0], lay.msix[1], lay.msix[2] * 16) if kind == "msix-table" and lay.msix else \
                lay.common if kind == "virtio" else None
            if where is None or where[0] not in lay.bars:
                continue
            start = lay.bars[where[0]][0] + where[1]
            if start <= at < start + where[2]:
                return bdf, lay, at - start
        return None

    def mmio(self, at: int, value: int, size: int, region: str) -> None:
        kind = "msix-table" if region == "msix-table" else "virtio"
        found = self.owner(at, kind)
        if found is None:
            return
        bdf, lay, rel = found
        if kind == "msix-table":
            entry, field = divmod(rel, 16)
            name = PCI_MSIX_ENTRY_FIELDS.get(field, f"entry +{field}")
            old = self.table_regs.get((bdf, rel))
            self.table_regs[(bdf, rel)] = value
            note = ""
            if field == 12:
                note = " (masked)" if value & 1 else " (unmasked)"
            self.add(bdf, kind, name, entry, value, old, f"MSI-X entry {entry} {name} ← {value:#x}{note}")
            return
        self.virtio(bdf, rel, value, size, region.removeprefix("virtio-pci-common-"))

    def virtio(self, bdf: str, rel: int, value: int, size: int, model: str) -> None:
        name, _, per_queue = VIRTIO_COMMON.get(rel, (f"common +{rel:#x}", size, False))
        old = self.common_regs.get((bdf, rel))
        self.common_regs[(bdf, rel)] = value
        if name == "queue_select":
            self.selected[bdf] = value
        if name == "device_status" and value == 0:  # a reset: queues lose what the driver wrote
            for key in [k for k in self.queues if k[0] == bdf]:
                del self.queues[key]
                self.written.pop(key, None)
        if per_queue:
            q = self.selected.get(bdf, 0)
            raw = self.queues.setdefault((bdf, q), bytearray(QUEUE_FIELDS[1] - QUEUE_FIELDS[0]))
            at = rel - QUEUE_FIELDS[0]
            raw[at:at + size] = value.to_bytes(size, "little")
            self.written.setdefault((bdf, q), set()).add(rel)
            shown = "VIRTIO_MSI_NO_VECTOR" if name == "queue_msix_vector" and value == VIRTIO_MSI_NO_VECTOR \
                else f"{value:#x}"
            self.add(bdf, "virtio", name, q, value, None, f"{model} queue {q} {name} ← {shown}")
            return
        shown = _status_names(value) if name == "device_status" else \
            "VIRTIO_MSI_NO_VECTOR" if name == "msix_config" and value == VIRTIO_MSI_NO_VECTOR else f"{value:#x}"
        self.add(bdf, "virtio", name, None, value, old, f"{model} {name} ← {shown}")


class TraceReader:
    """Decodes a trace QEMU is still writing: each `read()` takes only the complete lines added since."""

    def __init__(self, path: str | Path, source: Source) -> None:
        self.path = str(path)
        self.decoder = _Decoder(source, self.path)
        self.offset = 0

    def read(self) -> Timeline:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError as e:
            raise InputError(f"cannot read the trace: {e.strerror}", file=self.path) from None
        end = data.rfind(b"\n") + 1  # a line QEMU is half-way through writing waits for the next read
        self.offset += end
        self.decoder.feed(data[:end].decode("utf-8", "replace").splitlines())
        return self.decoder.timeline()

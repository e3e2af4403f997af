"""setpci's command language over any Source, parsed and run as setpci 3.9 does, plus the kit's names.

    -s 00:02.0 COMMAND                  read (printed as setpci prints it: 4 hex digits for a word)
    -s 00:02.0 COMMAND=0004:0004        write under a mask (the other bits are read and kept)
    -d 8086: CAP_EXP+8.W  ECAP10+4.L    capabilities by name or number, +offset, .B/.W/.L widths
    -s 03:00.0 40.L=1,2,3               several values: consecutive registers of the width
    -s 03:00.0 PCI_COMMAND_MASTER=1     a pci_regs.h field: encoded into its bits, the rest kept
    -s 03:00.0 MSIX[3].VECTOR_CTRL=0    an MSI-X table entry (in its BAR), by vector

Numbers are hex, as in setpci.  `-s`/`-d` start a new group of operations once the current one has
some; every operation of a group runs on each function the group selects, in order.  Everything is
parsed before anything runs; a capability is looked up the way libpci does (its own walk, found once
per function), so positions are exactly setpci's.  The register names are those of `setpci --dumpregs`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import locate
from .address import Selector
from .errors import InputError
from .locate import is_kit_name, resolve
from .words import plural

if TYPE_CHECKING:
    from .model import Function
    from .sources.base import Source

#: setpci's named registers: name, offset, width, the header types that have it ("" = every type);
#: the same names, offsets and widths as `setpci --dumpregs` prints
_HEADER_REGS = """
VENDOR_ID 00 W -  DEVICE_ID 02 W -  COMMAND 04 W -  STATUS 06 W -  REVISION 08 B -  CLASS_PROG 09 B -
CLASS_DEVICE 0a W -  CACHE_LINE_SIZE 0c B -  LATENCY_TIMER 0d B -  HEADER_TYPE 0e B -  BIST 0f B -
BASE_ADDRESS_0 10 L 01  BASE_ADDRESS_1 14 L 01  BASE_ADDRESS_2 18 L 0  BASE_ADDRESS_3 1c L 0
BASE_ADDRESS_4 20 L 0  BASE_ADDRESS_5 24 L 0  CARDBUS_CIS 28 L 0  SUBSYSTEM_VENDOR_ID 2c W 0
SUBSYSTEM_ID 2e W 0  ROM_ADDRESS 30 L 0  CAPABILITIES 34 B 01  INTERRUPT_LINE 3c B 01
INTERRUPT_PIN 3d B 01  MIN_GNT 3e B 0  MAX_LAT 3f B 0
PRIMARY_BUS 18 B 1  SECONDARY_BUS 19 B 1  SUBORDINATE_BUS 1a B 1  SEC_LATENCY_TIMER 1b B 1  IO_BASE 1c B 1
IO_LIMIT 1d B 1  SEC_STATUS 1e W 1  MEMORY_BASE 20 W 1  MEMORY_LIMIT 22 W 1  PREF_MEMORY_BASE 24 W 1
PREF_MEMORY_LIMIT 26 W 1  PREF_BASE_UPPER32 28 L 1  PREF_LIMIT_UPPER32 2c L 1  IO_BASE_UPPER16 30 W 1
IO_LIMIT_UPPER16 32 W 1  BRIDGE_ROM_ADDRESS 38 L 1  BRIDGE_CONTROL 3e W 1
CB_CARDBUS_BASE 10 L 2  CB_CAPABILITIES 14 W 2  CB_SEC_STATUS 16 W 2  CB_BUS_NUMBER 18 B 2
CB_CARDBUS_NUMBER 19 B 2  CB_SUBORDINATE_BUS 1a B 2  CB_CARDBUS_LATENCY 1b B 2  CB_MEMORY_BASE_0 1c L 2
CB_MEMORY_LIMIT_0 20 L 2  CB_MEMORY_BASE_1 24 L 2  CB_MEMORY_LIMIT_1 28 L 2  CB_IO_BASE_0 2c W 2
CB_IO_BASE_0_HI 2e W 2  CB_IO_LIMIT_0 30 W 2  CB_IO_LIMIT_0_HI 32 W 2  CB_IO_BASE_1 34 W 2
CB_IO_BASE_1_HI 36 W 2  CB_IO_LIMIT_1 38 W 2  CB_IO_LIMIT_1_HI 3a W 2  CB_SUBSYSTEM_VENDOR_ID 40 W 2
CB_SUBSYSTEM_ID 42 W 2  CB_LEGACY_MODE_BASE 44 L 2
"""
#: capability names by PCI_CAP_ID_* / PCI_EXT_CAP_ID_* (pci_regs.h), as setpci 3.9 knows them
_CAPS = ("PM AGP VPD SLOTID MSI CHSWP PCIX HT VNDR DBG CCRC HOTPLUG SSVID AGP3 SECURE EXP MSIX SATA AF EA")
_ECAPS = ("1 AER 2 VC 3 DSN 4 PB 5 RCLINK 6 RCILINK 7 RCEC 8 MFVC 9 VC2 a RBCB b VNDR d ACS e ARI f ATS "
          "10 SRIOV 11 MRIOV 12 MCAST 13 PRI 15 REBAR 16 DPA 17 TPH 18 LTR 19 SECPCI 1a PMUX 1b PASID 1c LNR "
          "1d DPC 1e L1PM 1f PTM 20 M_PCIE 21 FRS 22 RTR 23 DVSEC 24 VF_REBAR 25 DLNK 26 16GT 27 LMR 28 HIER_ID "
          "29 NPEM")
WIDTHS = {"B": 1, "W": 2, "L": 4}
_MAX = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFFFFFF, 8: (1 << 64) - 1}
U32 = 0xFFFFFFFF
KIT_NO_MASK = (1 << 64) - 1  # a kit name's value given without ":MASK"


@dataclass(frozen=True, slots=True)
class NamedRegister:
    name: str
    offset: int
    width: int  # 0 for capabilities: the operation must say .B/.W/.L
    header_types: tuple[int, ...] = ()  # () = every header type
    cap: tuple[bool, int] | None = None  # (extended, id) for CAP_xx / ECAP_xx


def _registers() -> dict[str, NamedRegister]:
    out: dict[str, NamedRegister] = {}
    words = _HEADER_REGS.split()
    for name, off, width, types in zip(words[::4], words[1::4], words[2::4], words[3::4], strict=True):
        out[name] = NamedRegister(name, int(off, 16), WIDTHS[width], tuple(int(t) for t in types.strip("-")))
    for i, name in enumerate(_CAPS.split(), start=1):
        out[f"CAP_{name}"] = NamedRegister(f"CAP_{name}", 0, 0, (), (False, i))
    words = _ECAPS.split()
    for num, name in zip(words[::2], words[1::2], strict=True):
        out[f"ECAP_{name}"] = NamedRegister(f"ECAP_{name}", 0, 0, (), (True, int(num, 16)))
    return out


REGISTERS = _registers()


def dumpregs() -> str:
    """The table as `setpci --dumpregs` prints it."""
    lines = ["cap pos w name"]
    for r in REGISTERS.values():
        cap = "    " if r.cap is None else (f"{r.cap[1]:04x}" if r.cap[0] else f"  {r.cap[1]:02x}")
        lines.append(f"{cap} {r.offset:02x} {'-BW?L'[r.width]} {r.name}")
    return "\n".join(lines) + "\n"


def parse_hex(text: str) -> tuple[int, str] | None:
    """A number as C's strtoul(text, &end, 16) reads it, limited to 32 bits as setpci does: (value, the
    rest), or None when no number starts `text` or it does not fit."""
    m = re.match(r"[ \t\n\r\f\v]*([+-]?)(0[xX](?=[0-9a-fA-F]))?([0-9a-fA-F]+)", text)
    if not m:
        return None
    value = int(m[3], 16)
    if value >= 1 << 64:
        return None  # ERANGE
    if m[1] == "-":
        value = (-value) % (1 << 64)
    if value > U32:
        return None
    return value, text[m.end():]


def _hex_whole(text: str) -> int | None:
    parsed = parse_hex(text)
    return parsed[0] if parsed is not None and not parsed[1] else None


@dataclass(frozen=True, slots=True)
class Value:
    value: int
    mask: int  # all ones: write the value as it is; else read, keep the bits outside the mask


@dataclass(slots=True)
class Op:
    """One register operation: a read (no values) or a write of each value at consecutive registers."""

    text: str
    offset: int = 0
    width: int = 0
    values: list[Value] = field(default_factory=list)
    cap: tuple[bool, int] | None = None
    number: int = 0  # which instance of the capability (@N)
    header_types: tuple[int, ...] = ()
    reg_name: str | None = None
    kit_name: str | None = None  # a locate.py name, resolved on each function

    @property
    def writes(self) -> bool:
        return bool(self.values)


def _err(text: str) -> InputError:
    return InputError(text)


def parse_op(text: str) -> Op:
    """One operation word, split and checked as setpci does (InputError on the first thing wrong)."""
    base, eq, value = text.partition("=")
    if is_kit_name(base):
        return _parse_kit_op(text, base, value if eq else None)
    op = Op(text)
    base, at, number = base.partition("@")
    base, dot, width = base.partition(".")
    base, plus, offset = base.partition("+")
    count = 0
    if eq:
        if not value:
            raise _err(f"{text}: no value after '='")
        count = value.count(",") + 1
    if dot:
        if len(width) != 1 or width.upper() not in WIDTHS:
            raise _err(f"{text}: the width is .B, .W or .L, not .{width}")
        op.width = WIDTHS[width.upper()]
    if at:
        n = _hex_whole(number)
        if n is None or n >= 1 << 31:
            raise _err(f"{text}: {number!r} is not a capability instance number (hex)")
        op.number = n
    _parse_base(op, base)
    if not op.width:
        raise _err(f"{text}: say the width: .B, .W or .L")
    if plus:
        off = _hex_whole(offset)
        if off is None or off >= 0x1000:
            raise _err(f"{text}: {offset!r} is not an offset below 0x1000 (hex)")
        op.offset += off
    if op.offset >= 0x1000 or op.offset + op.width * max(count, 1) > 0x1000:
        raise _err(f"{text}: register 0x{op.offset:02x} is out of config space (0x1000 bytes)")
    if op.offset & (op.width - 1):
        raise _err(f"{text}: register 0x{op.offset:02x} is not aligned to its width ({op.width} bytes)")
    limit = _MAX[op.width]
    for item in value.split(",") if eq else []:
        op.values.append(_parse_value(text, item, limit))
    return op


def _parse_value(text: str, item: str, limit: int) -> Value:
    parsed = parse_hex(item)
    if parsed is None or (parsed[1] and parsed[1][0] != ":"):
        raise _err(f"{text}: {item!r} is not a hex value")
    number, rest = parsed

    def in_range(n: int) -> bool:  # setpci takes small negatives (sign-extended) and truncates them
        return n <= limit or n >= U32 - limit

    if not in_range(number):
        raise _err(f"{text}: value {item!r} does not fit the register")
    if not rest:
        return Value(number, U32)
    mask = _hex_whole(rest[1:])
    if mask is None:
        raise _err(f"{text}: {rest[1:]!r} is not a hex mask")
    if not in_range(mask):
        raise _err(f"{text}: mask {rest[1:]!r} does not fit the register")
    return Value(number & mask, mask)


def _parse_base(op: Op, base: str) -> None:
    number = _hex_whole(base)
    if number is not None:
        op.offset = number
        return
    reg = REGISTERS.get(base.upper())
    if reg is not None:
        op.offset, op.header_types, op.cap, op.reg_name = reg.offset, reg.header_types, reg.cap, reg.name
        op.width = op.width or reg.width
        return
    upper = base.upper()
    if upper.startswith("CAP"):
        n = _hex_whole(base[3:])
        if n is not None and n < 0x100:
            op.cap = (False, n)
            return
    elif upper.startswith("ECAP"):
        n = _hex_whole(base[4:])
        if n is not None and n < 0x1000:
            op.cap = (True, n)
            return
    raise _err(f"unknown register {base!r} (setpci --dumpregs lists the names; the kit's own are pci_regs.h "
               "names like PCI_COMMAND_MASTER and MSIX[n].VECTOR_CTRL)")


def _parse_kit_op(text: str, name: str, value: str | None) -> Op:
    op = Op(text, kit_name=name)
    if value is None:
        return op
    if not value or "," in value:
        raise _err(f"{text}: a register or field name takes one value")
    parsed = parse_hex(value)
    if parsed is None or (parsed[1] and parsed[1][0] != ":"):
        raise _err(f"{text}: {value!r} is not a hex value")
    number, rest = parsed
    mask = KIT_NO_MASK
    if rest:
        m = _hex_whole(rest[1:])
        if m is None:
            raise _err(f"{text}: {rest[1:]!r} is not a hex mask")
        mask = m
    op.values.append(Value(number & mask, mask))
    return op


@dataclass(slots=True)
class Group:
    selector: str | None = None
    ids: str | None = None
    ops: list[Op] = field(default_factory=list)


def parse_words(words: list[str]) -> list[Group]:
    """setpci's words after its options: filters (-s, -d) and operations, into groups."""
    groups: list[Group] = []
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word.startswith("-"):
            if word[1:2] not in ("s", "d"):
                raise _err(f"{word!r}: a group of operations starts with -s SELECTOR or -d VENDOR:DEVICE")
            arg = word[2:].removeprefix("=") if len(word) > 2 else None
            if arg is None:
                if i >= len(words):
                    raise _err(f"{word} wants a value")
                arg = words[i]
                i += 1
            if not groups or groups[-1].ops:
                groups.append(Group())
            if word[1] == "s":
                Selector(arg)  # checked now: a bad selector is refused before anything runs
                groups[-1].selector = arg
            else:
                from .render.lspci_header import IdFilter

                IdFilter(arg)
                groups[-1].ids = arg
        else:
            if not groups:
                raise _err(f"{word!r}: say which functions first, with -s SELECTOR or -d VENDOR:DEVICE")
            groups[-1].ops.append(parse_op(word))
    if not groups:
        raise _err("nothing to do: give -s SELECTOR (or -d VENDOR:DEVICE) and registers")
    return groups


# -- running --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Write:
    """One write an operation makes (or would make, without --write)."""

    device: str
    where: str  # "config" or "BAR n"
    offset: int
    width: int
    old: int
    new: int
    name: str

    def __str__(self) -> str:
        d = 2 * self.width
        return (f"{self.device} {self.where} offset 0x{self.offset:x} ({plural(self.width, 'byte')}, {self.name}): "
                f"0x{self.old:0{d}x} → 0x{self.new:0{d}x}")


def _walk_caps(read: Callable[[int, int], int]) -> list[tuple[bool, int, int]]:
    """(extended, id, offset) of each capability, walked as libpci walks them: the standard list when
    Status says there is one, the extended list only when there is an Express capability."""
    found: list[tuple[bool, int, int]] = []
    if read(0x06, 2) & 0x10:
        seen: set[int] = set()
        where = read(0x34, 1) & ~3
        while where:
            cap_id, nxt = read(where, 1), read(where + 1, 1) & ~3
            if where in seen or cap_id == 0xFF:
                break
            seen.add(where)
            found.append((False, cap_id, where))
            where = nxt
    if any(not ext and cid == 0x10 for ext, cid, _ in found):
        seen = set()
        where = 0x100
        while where:
            header = read(where, 4)
            if header in (0, U32) or where in seen:
                break
            seen.add(where)
            found.append((True, header & 0xFFFF, where))
            where = (header >> 20) & ~3
    return found


class Runner:
    """Runs parsed groups over a source: prints reads, and writes (or lists the writes when `commit` is
    false).  `out` receives each printed line."""

    def __init__(self, source: Source, commit: bool, out: Callable[[str], None],
                 announce: Callable[[str], None] | None = None) -> None:
        self.source = source
        self.commit = commit
        self.out = out
        #: says each write done on a source that does not say so itself (the live writer does, journaled)
        self.announce = announce
        self.writes: list[Write] = []
        self._caps: dict = {}

    def run(self, groups: list[Group], force: bool = False) -> None:
        from .render.lspci_header import function_filter

        for number, group in enumerate(groups, start=1):
            wanted = function_filter(group.selector, group.ids)
            fns = [fn for fn in self.source.functions() if wanted is None or wanted(fn)]
            if not fns and not force:
                what = " ".join(f"-{k} {v}" for k, v in (("s", group.selector), ("d", group.ids)) if v)
                raise InputError(f"no function matches {what} (group {number}); pass -f to skip such groups",
                                 file=self.source.name)
            for fn in fns:
                for op in group.ops:
                    self.run_op(fn, op)

    # config access with libpci's answer past what can be read: all ones
    def _read(self, fn: Function, offset: int, width: int) -> int:
        cfg = self.source.read_config(fn.address)
        data = cfg[offset : offset + width]
        return int.from_bytes(data, "little") if len(data) == width else _MAX[width]

    def run_op(self, fn: Function, op: Op) -> None:
        if op.kit_name is not None:
            return self._run_kit_op(fn, op)
        dev = str(fn.address)
        addr = 0
        if op.cap is not None:
            if fn.address not in self._caps:  # like libpci: the lists are walked once per function
                self._caps[fn.address] = _walk_caps(lambda o, w: self._read(fn, o, w))
            extended, cap_id = op.cap
            hits = [off for ext, cid, off in self._caps[fn.address] if ext == extended and cid == cap_id]
            kind = "extended capability" if extended else "capability"
            if op.number >= len(hits):
                have = f"it has {len(hits)}" if hits else "it has none"
                if fn.address in (getattr(self.source, "limited", None) or {}):
                    have = "not readable: only the first 64 bytes of config space are, run as root"
                raise InputError(f"{op.text}: no {kind} 0x{cap_id:02x} number {op.number} ({have})",
                                 device=dev)
            addr = hits[op.number]
        addr += op.offset
        width = op.width
        if addr & (width - 1):
            raise InputError(f"{op.text}: register 0x{addr:x} is not aligned to its width ({width} bytes)",
                             device=dev)
        if addr + width > 0x1000:
            raise InputError(f"{op.text}: register 0x{addr:x} is out of config space", device=dev)
        if op.header_types:
            htype = self._read(fn, 0x0E, 1) & 0x7F
            if htype not in op.header_types:
                raise InputError(f"{op.text}: header type {htype} has no {op.reg_name}", device=dev)
        if not op.values:
            self.out(f"{self._read(fn, addr, width):0{2 * width}x}")
            return
        name = op.reg_name or op.text.partition("=")[0]
        for i, v in enumerate(op.values):
            old = self._read(fn, addr, width)
            full = _MAX[width]
            new = (v.value if v.mask & full == full else (old & ~v.mask) | v.value) & full
            self._write(fn, "config", None, addr, width, old, new, f"{name}+{i * width:x}" if i else name)
            addr += width

    def _run_kit_op(self, fn: Function, op: Op) -> None:
        fn.refresh()  # a name is resolved on what the function holds now
        target = resolve(fn, op.kit_name)
        old = self._read(fn, target.offset, target.width) if target.bar is None else locate.read(fn, target)
        f = target.field
        if not op.values:
            value = old if f is None else f.extract(old)
            digits = 2 * target.width if f is None else (f.width + 3) // 4
            self.out(f"{value:0{digits}x}")
            return
        v = op.values[0]
        new = locate.encode(fn, target, old, v.value, None if v.mask == KIT_NO_MASK else v.mask)
        self._write(fn, target.where, target.bar, target.offset, target.width, old, new, target.name)

    def _write(self, fn: Function, where: str, bar: int | None, offset: int, width: int, old: int, new: int,
               name: str) -> None:
        w = Write(str(fn.address), where, offset, width, old, new, name)
        self.writes.append(w)
        if not self.commit:
            self.out(f"would write {w}")
            return
        data = new.to_bytes(width, "little")
        if bar is None:
            self.source.write_config(fn.address, offset, data)
        else:
            self.source.write_bar(fn.address, bar, offset, data)
        fn.refresh()
        if self.announce is not None and self.source.kind != "sysfs":
            self.announce(f"wrote {w}")

"""lspci's per-device text around the capability list: the first line, Subsystem, Control/Status,
Latency, Interrupt, BIST, Regions, Expansion ROM, bridge windows, CardBus windows, kernel driver and
the hex dump (lspci.c show_terse/show_verbose/show_htype0-2/show_bases/show_rom/show_hex_dump, 3.9).

lspci gets some facts from its access method rather than from config space: for a dump file every
fact comes from the bytes (a missing byte reads as 0xff), for the live host the kernel's view in sysfs
(ids, IRQ, BAR placement and sizes, driver) wins.  `DeviceFacts` gathers them once, the same way.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from operator import itemgetter

from .. import names
from ..address import IdFilter, Selector
from ..sources.base import KernelInfo
from .lspci import Ctx, Listing, LspciOptions, show_caps

TYPE_CHECKING = False  # typing's constant without importing typing: every command's start-up pays for it
if TYPE_CHECKING:
    from ..model import Function
    from ..sources.base import Source

# pci_regs.h names of the header registers this module reads
PCI_VENDOR_ID, PCI_DEVICE_ID, PCI_COMMAND, PCI_STATUS = 0x00, 0x02, 0x04, 0x06
PCI_REVISION_ID, PCI_CLASS_PROG, PCI_CLASS_DEVICE = 0x08, 0x09, 0x0A
PCI_CACHE_LINE_SIZE, PCI_LATENCY_TIMER, PCI_HEADER_TYPE, PCI_BIST = 0x0C, 0x0D, 0x0E, 0x0F
PCI_BASE_ADDRESS_0, PCI_SUBSYSTEM_VENDOR_ID, PCI_SUBSYSTEM_ID, PCI_ROM_ADDRESS = 0x10, 0x2C, 0x2E, 0x30
PCI_CAPABILITY_LIST, PCI_INTERRUPT_LINE, PCI_INTERRUPT_PIN, PCI_MIN_GNT, PCI_MAX_LAT = 0x34, 0x3C, 0x3D, 0x3E, 0x3F
PCI_PRIMARY_BUS, PCI_SECONDARY_BUS, PCI_SUBORDINATE_BUS, PCI_SEC_LATENCY_TIMER = 0x18, 0x19, 0x1A, 0x1B
PCI_IO_BASE, PCI_IO_LIMIT, PCI_SEC_STATUS = 0x1C, 0x1D, 0x1E
PCI_MEMORY_BASE, PCI_MEMORY_LIMIT, PCI_PREF_MEMORY_BASE, PCI_PREF_MEMORY_LIMIT = 0x20, 0x22, 0x24, 0x26
PCI_PREF_BASE_UPPER32, PCI_PREF_LIMIT_UPPER32, PCI_IO_BASE_UPPER16, PCI_IO_LIMIT_UPPER16 = 0x28, 0x2C, 0x30, 0x32
PCI_ROM_ADDRESS1, PCI_BRIDGE_CONTROL = 0x38, 0x3E
PCI_CB_CAPABILITY_LIST, PCI_CB_SEC_STATUS, PCI_CB_PRIMARY_BUS, PCI_CB_CARD_BUS = 0x14, 0x16, 0x18, 0x19
PCI_CB_SUBORDINATE_BUS, PCI_CB_LATENCY_TIMER, PCI_CB_MEMORY_BASE_0, PCI_CB_MEMORY_LIMIT_0 = 0x1A, 0x1B, 0x1C, 0x20
PCI_CB_MEMORY_BASE_1, PCI_CB_MEMORY_LIMIT_1 = 0x24, 0x28
PCI_CB_IO_BASE_0, PCI_CB_IO_LIMIT_0, PCI_CB_IO_BASE_1, PCI_CB_IO_LIMIT_1 = 0x2C, 0x30, 0x34, 0x38
PCI_CB_BRIDGE_CONTROL = 0x3E
PCI_CB_SUBSYSTEM_VENDOR_ID, PCI_CB_SUBSYSTEM_ID, PCI_CB_LEGACY_MODE_BASE = 0x40, 0x42, 0x44

PCI_COMMAND_IO, PCI_COMMAND_MEMORY, PCI_COMMAND_MASTER = 0x1, 0x2, 0x4
PCI_STATUS_CAP_LIST = 0x10
PCI_BASE_ADDRESS_SPACE_IO = 0x01
PCI_BASE_ADDRESS_MEM_TYPE_MASK, PCI_BASE_ADDRESS_MEM_TYPE_64, PCI_BASE_ADDRESS_MEM_PREFETCH = 0x06, 0x04, 0x08
PCI_ROM_ADDRESS_ENABLE, PCI_ROM_ADDRESS_MASK = 0x01, ~0x7FF
PCI_CAP_ID_SSVID = 0x0D
# PCI_IORESOURCE_* flags of sysfs `resource` lines (lib/header.h)
IORESOURCE_IO, IORESOURCE_MEM, IORESOURCE_TYPE_BITS = 0x100, 0x200, 0x1F00
IORESOURCE_PREFETCH, IORESOURCE_MEM_64, IORESOURCE_PCI_EA_BEI = 0x2000, 0x100000, 0x20
U64 = (1 << 64) - 1


def _read(cfg: bytes, offset: int, width: int) -> int:
    """libpci's pci_read_*: bytes the source lacks read as all ones."""
    if offset + width > len(cfg):
        return (1 << (8 * width)) - 1
    if width == 1:
        return cfg[offset]
    return int.from_bytes(cfg[offset:offset + width], "little")


class _Registers:
    """The header registers lspci reads, declared once as (name, offset, width) in offset order: read all
    at once (one struct unpack) into a tuple whose items have those names, or one by one as libpci would
    when the source has fewer bytes than the last of them needs."""

    def __init__(self, name: str, *fields: tuple[str, int, int]) -> None:
        fmt, end = "<", 0
        for _, offset, width in fields:
            fmt += "x" * (offset - end) + {1: "B", 2: "H", 4: "I"}[width]
            end = offset + width
        self.struct = struct.Struct(fmt)
        self.fields = fields
        # a namedtuple without namedtuple's start-up cost (it compiles code, 0.4 ms a class)
        self.make = type(name, (tuple,), {"__slots__": (), **{f: property(itemgetter(i))
                                                              for i, (f, _, _) in enumerate(fields)}})

    def read(self, cfg: bytes) -> tuple:
        if len(cfg) >= self.struct.size:
            return self.make(self.struct.unpack_from(cfg))
        return self.make([_read(cfg, offset, width) for _, offset, width in self.fields])


_COMMON = (("vendor_id", PCI_VENDOR_ID, 2), ("device_id", PCI_DEVICE_ID, 2), ("command", PCI_COMMAND, 2),
           ("status", PCI_STATUS, 2), ("revision_id", PCI_REVISION_ID, 1), ("class_prog", PCI_CLASS_PROG, 1),
           ("class_device", PCI_CLASS_DEVICE, 2), ("cache_line_size", PCI_CACHE_LINE_SIZE, 1),
           ("latency_timer", PCI_LATENCY_TIMER, 1), ("header_type", PCI_HEADER_TYPE, 1), ("bist", PCI_BIST, 1))
_INTERRUPT = (("interrupt_line", PCI_INTERRUPT_LINE, 1), ("interrupt_pin", PCI_INTERRUPT_PIN, 1))
#: the first BAR's index in every layout (the BARs follow the common registers)
_BAR0 = len(_COMMON)
#: by header type (PCI_HEADER_TYPE_NORMAL, _BRIDGE, _CARDBUS); any other type has the common part
_LAYOUTS = {
    0: _Registers("NormalHeader", *_COMMON, *((f"base_address_{i}", PCI_BASE_ADDRESS_0 + 4 * i, 4) for i in range(6)),
                  ("subsystem_vendor_id", PCI_SUBSYSTEM_VENDOR_ID, 2), ("subsystem_id", PCI_SUBSYSTEM_ID, 2),
                  ("rom_address", PCI_ROM_ADDRESS, 4), *_INTERRUPT, ("min_gnt", PCI_MIN_GNT, 1),
                  ("max_lat", PCI_MAX_LAT, 1)),
    1: _Registers("BridgeHeader", *_COMMON, ("base_address_0", PCI_BASE_ADDRESS_0, 4),
                  ("base_address_1", PCI_BASE_ADDRESS_0 + 4, 4), ("primary_bus", PCI_PRIMARY_BUS, 1),
                  ("secondary_bus", PCI_SECONDARY_BUS, 1), ("subordinate_bus", PCI_SUBORDINATE_BUS, 1),
                  ("sec_latency_timer", PCI_SEC_LATENCY_TIMER, 1), ("io_base", PCI_IO_BASE, 1),
                  ("io_limit", PCI_IO_LIMIT, 1), ("sec_status", PCI_SEC_STATUS, 2),
                  ("memory_base", PCI_MEMORY_BASE, 2), ("memory_limit", PCI_MEMORY_LIMIT, 2),
                  ("pref_memory_base", PCI_PREF_MEMORY_BASE, 2), ("pref_memory_limit", PCI_PREF_MEMORY_LIMIT, 2),
                  ("pref_base_upper32", PCI_PREF_BASE_UPPER32, 4), ("pref_limit_upper32", PCI_PREF_LIMIT_UPPER32, 4),
                  ("io_base_upper16", PCI_IO_BASE_UPPER16, 2), ("io_limit_upper16", PCI_IO_LIMIT_UPPER16, 2),
                  ("rom_address", PCI_ROM_ADDRESS1, 4), *_INTERRUPT, ("bridge_control", PCI_BRIDGE_CONTROL, 2)),
    2: _Registers("CardBusHeader", *_COMMON, ("base_address_0", PCI_BASE_ADDRESS_0, 4),
                  ("cb_sec_status", PCI_CB_SEC_STATUS, 2), ("cb_primary_bus", PCI_CB_PRIMARY_BUS, 1),
                  ("cb_card_bus", PCI_CB_CARD_BUS, 1), ("cb_subordinate_bus", PCI_CB_SUBORDINATE_BUS, 1),
                  ("cb_latency_timer", PCI_CB_LATENCY_TIMER, 1),
                  ("cb_memory_base_0", PCI_CB_MEMORY_BASE_0, 4), ("cb_memory_limit_0", PCI_CB_MEMORY_LIMIT_0, 4),
                  ("cb_memory_base_1", PCI_CB_MEMORY_BASE_1, 4), ("cb_memory_limit_1", PCI_CB_MEMORY_LIMIT_1, 4),
                  ("cb_io_base_0", PCI_CB_IO_BASE_0, 4), ("cb_io_limit_0", PCI_CB_IO_LIMIT_0, 4),
                  ("cb_io_base_1", PCI_CB_IO_BASE_1, 4), ("cb_io_limit_1", PCI_CB_IO_LIMIT_1, 4),
                  *_INTERRUPT, ("cb_bridge_control", PCI_CB_BRIDGE_CONTROL, 2),
                  ("cb_subsystem_vendor_id", PCI_CB_SUBSYSTEM_VENDOR_ID, 2), ("cb_subsystem_id", PCI_CB_SUBSYSTEM_ID, 2),
                  ("cb_legacy_mode_base", PCI_CB_LEGACY_MODE_BASE, 2)),
}
_OTHER_HEADER = _Registers("Header", *_COMMON, ("interrupt_line", PCI_INTERRUPT_LINE, 1))
_BAR_COUNT = {0: 6, 1: 2, 2: 1}
_NO_BARS = (0,) * 6  # sizes and resource flags of BARs where config space is all there is
#: a source without a kernel's view (a dump): every fact comes from config space
_NO_KERNEL_VIEW = KernelInfo()
_NO_IDS: dict[str, int] = {}

_DEVSEL = ("fast", "medium", "slow", "??")


def _c_char(value: int) -> str:
    """printf("%c"): the low byte, raw; bytes above 0x7f as surrogate escapes so they are written back
    out as the same single byte (stdout uses errors="surrogateescape")."""
    value &= 0xFF
    return chr(value) if value < 0x80 else chr(0xDC00 + value)


class _Flags:
    """lspci's FLAG() over a register: "I/O+ Mem- ..." for the bits of a table.  Each distinct value's text is
    made once: a run shows few distinct values of a register, and at most 2**len(bits)."""

    __slots__ = ("bits", "mask", "texts")

    def __init__(self, *bits: tuple[int, str]) -> None:
        self.bits = bits
        self.mask = sum(bit for bit, _ in bits)
        self.texts: dict[int, str] = {}

    def __call__(self, value: int) -> str:
        value &= self.mask
        text = self.texts.get(value)
        if text is None:
            text = self.texts[value] = " ".join([label + ("+" if value & bit else "-") for bit, label in self.bits])
        return text


_CONTROL = _Flags((0x1, "I/O"), (0x2, "Mem"), (0x4, "BusMaster"), (0x8, "SpecCycle"), (0x10, "MemWINV"),
                  (0x20, "VGASnoop"), (0x40, "ParErr"), (0x80, "Stepping"), (0x100, "SERR"), (0x200, "FastB2B"),
                  (0x400, "DisINTx"))
_STATUS = _Flags((0x10, "Cap"), (0x20, "66MHz"), (0x40, "UDF"), (0x80, "FastB2B"), (0x100, "ParErr"))
_STATUS_ERRORS = _Flags((0x800, ">TAbort"), (0x1000, "<TAbort"), (0x2000, "<MAbort"), (0x4000, ">SERR"),
                        (0x8000, "<PERR"), (0x8, "INTx"))
_SEC_STATUS = _Flags((0x20, "66MHz"), (0x80, "FastB2B"), (0x100, "ParErr"))
_SEC_STATUS_ERRORS = _Flags((0x800, ">TAbort"), (0x1000, "<TAbort"), (0x2000, "<MAbort"), (0x4000, "<SERR"),
                            (0x8000, "<PERR"))
_BRIDGE_CONTROL = _Flags((0x1, "Parity"), (0x2, "SERR"), (0x4, "NoISA"), (0x8, "VGA"), (0x10, "VGA16"),
                         (0x20, "MAbort"), (0x40, ">Reset"), (0x80, "FastB2B"))
_BRIDGE_CONTROL_TIMERS = _Flags((0x100, "PriDiscTmr"), (0x200, "SecDiscTmr"), (0x400, "DiscTmrStat"),
                                (0x800, "DiscTmrSERREn"))
_CB_BRIDGE_CONTROL = _Flags((0x1, "Parity"), (0x2, "SERR"), (0x4, "ISA"), (0x8, "VGA"), (0x20, "MAbort"),
                            (0x40, ">Reset"), (0x80, "16bInt"), (0x400, "PostWrite"))


class DeviceFacts:
    """What lspci knows of one function before printing: config bytes plus its access method's view."""

    __slots__ = ("cfg", "regs", "no_config", "cached", "htype", "vendor", "device", "cls", "prog_if", "rev",
                 "subsys", "irq", "bases", "sizes", "ioflags", "rom", "rom_size", "rom_flags", "bridge_bases",
                 "bridge_sizes", "bridge_flags", "numa_node", "phys_slot", "iommu_group", "driver", "modules",
                 "label", "have_io_flags")

    def __init__(self, fn: Function, cfg: bytes | None = None) -> None:
        cfg = fn.config if cfg is None else cfg
        self.cfg = cfg
        # libpci's get_hdr_type reads whatever bytes there are; lspci's scan_device reads 64 or has no config access
        htype = _read(cfg, PCI_HEADER_TYPE, 1) & 0x7F
        #: the header registers as libpci reads them (all ones where the source has no bytes)
        regs = self.regs = _LAYOUTS.get(htype, _OTHER_HEADER).read(cfg)
        self.no_config = len(cfg) < 64
        self.htype = 0xFF if self.no_config else htype
        self.cached = 0 if self.no_config else 128 if htype == 2 and len(cfg) >= 128 else 64
        kinfo = fn.kernel
        if kinfo is None:
            kinfo = _NO_KERNEL_VIEW
        ids = kinfo.ids or _NO_IDS
        self.vendor = ids.get("vendor", regs.vendor_id)
        self.device = ids.get("device", regs.device_id)
        class24 = ids.get("class", regs.class_prog | regs.class_device << 8)
        self.cls = class24 >> 8
        self.prog_if = class24 & 0xFF
        self.rev = ids.get("revision", regs.revision_id)
        self.subsys = self._subsystem(ids, htype)
        irq = kinfo.irq
        self.irq = regs.interrupt_line if irq is None else irq
        numa_node = kinfo.numa_node
        self.numa_node = -1 if numa_node is None else numa_node
        self.iommu_group = kinfo.iommu_group
        self.driver = kinfo.driver
        self.modules = list(kinfo.modules)
        self.label = kinfo.label
        self.phys_slot = kinfo.phys_slot
        self.bridge_bases: list[int] | None = None
        self.bridge_sizes: list[int] = [0, 0, 0, 0]
        self.bridge_flags: list[int] = [0, 0, 0, 0]
        resources = kinfo.resources
        if resources:
            self._from_resources(resources)
        else:
            self._from_config(htype)

    def read(self, offset: int, width: int) -> int:
        """libpci's pci_read_*: bytes the source lacks read as all ones."""
        return _read(self.cfg, offset, width)

    def have(self, offset: int, length: int) -> bool:
        return offset + length <= len(self.cfg)

    def _subsystem(self, ids: dict[str, int], htype: int) -> tuple[int, int] | None:
        if "subsystem_vendor" in ids:
            return ids["subsystem_vendor"], ids.get("subsystem_device", 0)
        regs = self.regs
        if htype == 0:
            return regs.subsystem_vendor_id, regs.subsystem_id
        if htype == 1:
            where = self._find_cap(PCI_CAP_ID_SSVID)
            return (self.read(where + 4, 2), self.read(where + 6, 2)) if where else None
        if htype == 2:
            return regs.cb_subsystem_vendor_id, regs.cb_subsystem_id
        return None

    def _find_cap(self, cap_id: int) -> int:
        """libpci's pci_find_cap over the standard list (which always starts at 0x34)."""
        cfg = self.cfg
        if not self.regs.status & PCI_STATUS_CAP_LIST:
            return 0
        seen = set()
        where = _read(cfg, PCI_CAPABILITY_LIST, 1) & ~3
        while where and where not in seen:
            seen.add(where)
            this_id = _read(cfg, where, 1)
            if this_id == 0xFF:
                break
            if this_id == cap_id:
                return where
            where = _read(cfg, where + 1, 1) & ~3
        return 0

    def _from_config(self, htype: int) -> None:
        """pci_generic_fill_info: BAR and ROM addresses decoded from config space."""
        self.have_io_flags = False
        self.sizes = self.ioflags = _NO_BARS
        self.rom_size = self.rom_flags = 0
        bars = self.regs[_BAR0:_BAR0 + _BAR_COUNT.get(htype, 0)]
        bases = [0] * 6
        upper = False  # this BAR holds the upper half of the one before
        for i, x in enumerate(bars):
            if upper:
                upper = False
            elif x and x != 0xFFFFFFFF:
                if x & PCI_BASE_ADDRESS_SPACE_IO or x & PCI_BASE_ADDRESS_MEM_TYPE_MASK != PCI_BASE_ADDRESS_MEM_TYPE_64:
                    bases[i] = x
                elif i < len(bars) - 1:
                    bases[i] = x | bars[i + 1] << 32
                    upper = True
        self.bases = bases
        rom = self.regs.rom_address if htype in (0, 1) else 0
        self.rom = 0 if rom == 0xFFFFFFFF else rom

    def _from_resources(self, resources: list[tuple[int, int, int]]) -> None:
        """lib/sysfs.c sysfs_get_resources: BARs 0-5, ROM, then IOV and bridge windows."""
        self.have_io_flags = True
        self.bases, self.sizes, self.ioflags = [0] * 6, [0] * 6, [0] * 6
        self.rom = self.rom_size = self.rom_flags = 0
        lines = resources[:18]
        for i, (start, end, flags) in enumerate(lines[:7]):
            size = end - start + 1 if end > start else 0
            if i < 6:
                self.ioflags[i], self.bases[i], self.sizes[i] = flags, start | (flags & 0xF), size
            else:
                self.rom_flags, self.rom, self.rom_size = flags, start | (flags & 0xF), size
        extra = lines[7:]
        if len(extra) in (4, 10):
            window = extra[6:10] if len(extra) == 10 else extra[:4]
            self.bridge_bases = [s for s, _, _ in window]
            self.bridge_sizes = [e - s + 1 if e > s else 0 for s, e, _ in window]
            self.bridge_flags = [f for _, _, f in window]


# -- the first line and Subsystem (show_terse) -----------------------------------------------------
def _slot(ctx: Ctx, domain: bool | None = None) -> str:
    """lspci's show_slot_name: domain when asked or needed, then bus:dev.fn or the -P/-PP path."""
    a = ctx.fn.address
    paths = ctx.listing.paths
    name = paths[id(ctx.fn)] if paths else a.short
    return f"{a.domain:04x}:{name}" if (ctx.listing.domains if domain is None else domain) else name


def function_filter(selector: str | None, ids: str | None) -> Callable[[Function], bool] | None:
    """lspci's -s and -d filters as one test on a function (None: every function)."""
    if not selector and not ids:
        return None
    sel = Selector(selector) if selector else None
    idf = IdFilter(ids) if ids else None

    def wanted(fn: Function) -> bool:
        if sel is not None and not sel.matches(fn.address):
            return False
        if idf is None:
            return True
        d = DeviceFacts(fn)
        return idf.matches(d.vendor, d.device, d.cls, d.prog_if)

    return wanted


def _identity_text(ctx: Ctx, d: DeviceFacts) -> str:
    """show_terse's text after the slot name: class, vendor and device, revision, prog-if, then the
    DeviceName and Subsystem lines."""
    ids = names.default()
    mode, fit = ctx.opts.numeric, names.fit
    text = f" {fit(ids.class_text(d.cls, mode), 128)}: {fit(ids.vendor_device_text(d.vendor, d.device, mode), 128)}"
    if d.rev:
        text += f" (rev {d.rev:02x})"
    if ctx.verbose:
        pif = ids.prog_if_text(d.cls, d.prog_if)
        if pif is not None:
            text += f" (prog-if {d.prog_if:02x} [{fit(pif, 128)}])"
        elif d.prog_if:
            text += f" (prog-if {d.prog_if:02x})"
    text += "\n"
    if ctx.verbose or ctx.opts.kernel:
        if d.label:
            text += f"\tDeviceName: {d.label}"
        if d.subsys and d.subsys[0] and d.subsys[0] != 0xFFFF:
            text += f"\tSubsystem: {fit(ids.subsystem_text(d.vendor, d.device, *d.subsys, mode), 256)}\n"
    return text


def show_terse(ctx: Ctx, d: DeviceFacts) -> None:
    """lspci's show_terse: the first line and, with -v or -k, DeviceName and Subsystem.  The text after
    the slot name is made once per listing for each model (same ids: the ports of a NIC, a row of drives)."""
    memo = ctx.listing.identity_texts
    if memo is None:
        text = _identity_text(ctx, d)
    else:
        key = (d.cls, d.vendor, d.device, d.rev, d.prog_if, d.subsys, d.label)
        text = memo.get(key)
        if text is None:
            text = memo[key] = _identity_text(ctx, d)
    ctx.p(_slot(ctx) + text)


# -- verbose header (show_verbose) ----------------------------------------------------------------
def show_verbose(ctx: Ctx, d: DeviceFacts) -> None:
    show_terse(ctx, d)
    p, regs, verbose, htype = ctx.p, d.regs, ctx.verbose, d.htype
    unknown = False
    bist = max_lat = min_gnt = 0
    if htype == 0:
        if d.cls == 0x0604:
            p(f"\t!!! Invalid class {d.cls:04x} for header type {htype:02x}\n")
        bist, max_lat, min_gnt = regs.bist, regs.max_lat, regs.min_gnt
    elif htype in (1, 2):
        if d.cls >> 8 != 0x06:
            p(f"\t!!! Invalid class {d.cls:04x} for header type {htype:02x}\n")
        bist = regs.bist
    else:
        if not d.no_config:
            p(f"\t!!! Unknown header type {htype:02x}\n")
        unknown = True
    if d.phys_slot:
        p(f"\tPhysical Slot: {d.phys_slot}\n")

    cmd = regs.command
    status = regs.status
    if not unknown and verbose > 1:
        p(f"\tControl: {_CONTROL(cmd)}\n\tStatus: {_STATUS(status)} DEVSEL={_DEVSEL[(status >> 9) & 3]} "
          f"{_STATUS_ERRORS(status)}\n")
        if cmd & PCI_COMMAND_MASTER:
            line = f"\tLatency: {regs.latency_timer}"
            if min_gnt or max_lat:
                parts = ([f"{min_gnt * 250}ns min"] if min_gnt else []) + ([f"{max_lat * 250}ns max"] if max_lat else [])
                line += f" ({', '.join(parts)})"
            cache_line = regs.cache_line_size
            if cache_line:
                line += f", Cache Line Size: {cache_line * 4} bytes"
            p(line + "\n")
    if verbose > 1:
        pin = 0 if unknown else regs.interrupt_pin
        if pin or d.irq:
            p(f"\tInterrupt: pin {_c_char(0x40 + pin) if pin else '?'} routed to IRQ {d.irq}\n")
        if d.numa_node != -1:
            p(f"\tNUMA node: {d.numa_node}\n")
        if d.iommu_group:
            p(f"\tIOMMU group: {d.iommu_group}\n")
    if not unknown and verbose <= 1:
        words = [text for mask, value, text in (
            (PCI_COMMAND_MASTER, cmd, "bus master"), (0x20, cmd, "VGA palette snoop"), (0x80, cmd, "stepping"),
            (0x200, cmd, "fast Back2Back"), (0x20, status, "66MHz"), (0x40, status, "user-definable features"),
        ) if value & mask]
        line = "\tFlags: " + "".join(w + ", " for w in words) + f"{_DEVSEL[(status >> 9) & 3]} devsel"
        if cmd & PCI_COMMAND_MASTER:
            line += f", latency {regs.latency_timer}"
        if d.irq:
            line += f", IRQ {d.irq}"
        if d.numa_node != -1:
            line += f", NUMA node {d.numa_node}"
        if d.iommu_group:
            line += f", IOMMU group {d.iommu_group}"
        p(line + "\n")
    if bist & 0x80:
        p("\tBIST is running\n" if bist & 0x40 else f"\tBIST result: {bist & 0x0F:02x}\n")

    if htype == 0:
        show_bases(ctx, d, 6)
        show_rom(ctx, d, True)
        show_caps(ctx, PCI_CAPABILITY_LIST)
    elif htype == 1:
        show_htype1(ctx, d)
    elif htype == 2:
        show_htype2(ctx, d)
    else:
        show_bases(ctx, d, 6, without_config=True)
        _show_unknown_bridge(ctx, d)
        show_rom(ctx, d, False)


def _size(x: int) -> str:
    """lspci's show_size: ' [size=4K]' style, nothing for 0."""
    if not x:
        return ""
    suffix = ""
    for s in ("K", "M", "G", "T"):
        if x % 1024:
            break
        x //= 1024
        suffix = s
    return f" [size={x & 0xFFFFFFFF}{suffix}]"


def _ioflg_to_pciflg(ioflg: int) -> int:
    if ioflg & IORESOURCE_IO:
        return PCI_BASE_ADDRESS_SPACE_IO
    if not ioflg & IORESOURCE_MEM:
        return 0
    flg = PCI_BASE_ADDRESS_MEM_TYPE_64 if ioflg & IORESOURCE_MEM_64 else 0
    return flg | (PCI_BASE_ADDRESS_MEM_PREFETCH if ioflg & IORESOURCE_PREFETCH else 0)


_MEMORY_TYPES = ("32-bit", "low-1M", "64-bit", "type 3")


def show_bases(ctx: Ctx, d: DeviceFacts, cnt: int, without_config: bool = False) -> None:
    """lspci's show_bases: the first `cnt` BARs, placed and sized as the access method says."""
    p, verbose, io_flags = ctx.p, ctx.verbose, d.have_io_flags
    cmd = PCI_COMMAND_IO | PCI_COMMAND_MEMORY if without_config else d.regs.command
    bars = (0,) * cnt if without_config else d.regs[_BAR0:_BAR0 + cnt]
    for i, (pos, length, ioflg, bar) in enumerate(zip(d.bases, d.sizes, d.ioflags, bars, strict=False)):
        flg = _ioflg_to_pciflg(ioflg) if io_flags else bar
        if flg == 0xFFFFFFFF:
            flg = 0
        if not pos and not flg and not length:
            continue
        hw_lower = hw_upper = 0
        broken = virtual = False
        if io_flags and not without_config:
            hw_lower = bar
            if (hw_lower & 1) == (flg & 1):
                if (ioflg & IORESOURCE_TYPE_BITS) == IORESOURCE_MEM and \
                        (hw_lower & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64:
                    if i >= cnt - 1:
                        broken = True
                    else:
                        # lspci reads PCI_BASE_ADDRESS_0 + 4*i + 1 here (sic), an unaligned dword
                        hw_upper = d.read(PCI_BASE_ADDRESS_0 + 4 * i + 1, 4)
                if pos and not hw_lower and not hw_upper and not ioflg & IORESOURCE_PCI_EA_BEI:
                    virtual = True
        if flg & PCI_BASE_ADDRESS_SPACE_IO:
            a = pos & ~3 & U64
            if a or cmd & PCI_COMMAND_IO:
                where = f"{a:04x}"
            else:
                where = "<ignored>" if hw_lower else "<unassigned>"
            text = f"I/O ports at {where}"
            if virtual:
                text += " [virtual]"
            elif not cmd & PCI_COMMAND_IO:
                text += " [disabled]"
        else:
            a = pos & ~0xF & U64
            if broken:
                where = "<broken-64-bit-slot>"
            elif a:
                where = f"{a:08x}"
            else:
                where = "<ignored>" if hw_lower or hw_upper else "<unassigned>"
            text = (f"Memory at {where} ({_MEMORY_TYPES[(flg & PCI_BASE_ADDRESS_MEM_TYPE_MASK) >> 1]}, "
                    f"{'' if flg & PCI_BASE_ADDRESS_MEM_PREFETCH else 'non-'}prefetchable)")
            if virtual:
                text += " [virtual]"
            elif not cmd & PCI_COMMAND_MEMORY:
                text += " [disabled]"
        if ioflg & IORESOURCE_PCI_EA_BEI:
            text += " [enhanced]"
        p(f"\tRegion {i}: {text}{_size(length)}\n" if verbose > 1 else f"\t{text}{_size(length)}\n")


def show_rom(ctx: Ctx, d: DeviceFacts, from_config: bool) -> None:
    """lspci's show_rom; `from_config`: the header type has a ROM BAR (whose enable bit and address are read)."""
    rom, length = d.rom, d.rom_size
    ioflg = d.rom_flags if d.have_io_flags else 0
    if from_config:
        flg, cmd = d.regs.rom_address, d.regs.command
    else:
        flg, cmd = _ioflg_to_pciflg(ioflg), PCI_COMMAND_MEMORY
    virtual = False
    if not rom and not flg and not length:
        return
    if from_config and rom & PCI_ROM_ADDRESS_MASK and not flg & PCI_ROM_ADDRESS_MASK \
            and not ioflg & IORESOURCE_PCI_EA_BEI:
        flg, virtual = rom, True
    line = "\tExpansion ROM at "
    if rom & PCI_ROM_ADDRESS_MASK:
        line += f"{rom & PCI_ROM_ADDRESS_MASK & U64:08x}"
    else:
        line += "<ignored>" if flg & PCI_ROM_ADDRESS_MASK else "<unassigned>"
    if virtual:
        line += " [virtual]"
    if not flg & PCI_ROM_ADDRESS_ENABLE:
        line += " [disabled]"
    elif not virtual and not cmd & PCI_COMMAND_MEMORY:
        line += " [disabled by cmd]"
    if ioflg & IORESOURCE_PCI_EA_BEI:
        line += " [enhanced]"
    ctx.p(line + _size(length) + "\n")


def _range(ctx: Ctx, prefix: str, base: int, limit: int, bits: int, disabled: bool) -> None:
    """lspci's show_range."""
    line = f"{prefix}:"
    if base <= limit or ctx.verbose > 2:
        w = (bits + 3) // 4
        line += f" {base:0{w}x}-{limit:0{w}x}"
    if not disabled and base <= limit:
        line += _size(limit - base + 1)
    else:
        line += " [disabled]"
    if bits:
        line += f" [{bits}-bit]"
    ctx.p(line + "\n")


def show_htype1(ctx: Ctx, d: DeviceFacts) -> None:
    p, regs = ctx.p, d.regs
    io_base, io_limit = regs.io_base, regs.io_limit
    io_type = io_base & 0x0F
    mem_base, mem_limit = regs.memory_base, regs.memory_limit
    mem_type = mem_base & 0x0F
    pref_base, pref_limit = regs.pref_memory_base, regs.pref_memory_limit
    pref_type = pref_base & 0x0F
    have_windows = d.bridge_bases is not None
    io_disabled, mem_disabled, pref_disabled = (have_windows and not d.bridge_sizes[k] for k in range(3))

    show_bases(ctx, d, 2)
    p(f"\tBus: primary={regs.primary_bus:02x}, secondary={regs.secondary_bus:02x}, "
      f"subordinate={regs.subordinate_bus:02x}, sec-latency={regs.sec_latency_timer}\n")

    if have_windows and not io_disabled:
        base = d.bridge_bases[0] & ~0xF & U64
        kind = d.bridge_bases[0] & 0x0F
        _range(ctx, "\tI/O behind bridge", base, base + d.bridge_sizes[0] - 1, 32 if kind == 1 else 16, False)
    elif io_type != (io_limit & 0x0F) or io_type not in (0, 1):
        p(f"\t!!! Unknown I/O range types {io_base:x}/{io_limit:x}\n")
    else:
        base, limit = (io_base & 0xF0) << 8, (io_limit & 0xF0) << 8
        if io_type == 1:
            base |= regs.io_base_upper16 << 16
            limit |= regs.io_limit_upper16 << 16
        if not (base == 0 and limit == 0 and io_disabled):
            _range(ctx, "\tI/O behind bridge", base, limit + 0xFFF, 32 if io_type == 1 else 16, io_disabled)

    if have_windows and not mem_disabled:
        base = d.bridge_bases[1] & ~0xF & U64
        _range(ctx, "\tMemory behind bridge", base, base + d.bridge_sizes[1] - 1, 32, False)
    elif mem_type != (mem_limit & 0x0F) or mem_type:
        p(f"\t!!! Unknown memory range types {mem_base:x}/{mem_limit:x}\n")
    else:
        _range(ctx, "\tMemory behind bridge", (mem_base & 0xFFF0) << 16, ((mem_limit & 0xFFF0) << 16) + 0xFFFFF,
               32, mem_disabled)

    if have_windows and not pref_disabled:
        base = d.bridge_bases[2] & ~0xF & U64
        kind = d.bridge_bases[2] & 0x0F
        _range(ctx, "\tPrefetchable memory behind bridge", base, base + d.bridge_sizes[2] - 1,
               64 if kind == 1 else 32, False)
    elif pref_type != (pref_limit & 0x0F) or pref_type not in (0, 1):
        p(f"\t!!! Unknown prefetchable memory range types {pref_base:x}/{pref_limit:x}\n")
    else:
        base, limit = (pref_base & 0xFFF0) << 16, (pref_limit & 0xFFF0) << 16
        if pref_type == 1:
            base |= regs.pref_base_upper32 << 32
            limit |= regs.pref_limit_upper32 << 32
        if not (base == 0 and limit == 0 and pref_disabled):
            _range(ctx, "\tPrefetchable memory behind bridge", base, (limit + 0xFFFFF) & U64,
                   64 if pref_type == 1 else 32, pref_disabled)

    if ctx.verbose > 1:
        sec_stat = regs.sec_status
        p(f"\tSecondary status: {_SEC_STATUS(sec_stat)} DEVSEL={_DEVSEL[(sec_stat >> 9) & 3]} "
          f"{_SEC_STATUS_ERRORS(sec_stat)}\n")
    show_rom(ctx, d, True)
    if ctx.verbose > 1:
        brc = regs.bridge_control
        p(f"\tBridgeCtl: {_BRIDGE_CONTROL(brc)}\n\t\t{_BRIDGE_CONTROL_TIMERS(brc)}\n")
    show_caps(ctx, PCI_CAPABILITY_LIST)


def show_htype2(ctx: Ctx, d: DeviceFacts) -> None:
    p, regs = ctx.p, d.regs
    cmd, brc = regs.command, regs.cb_bridge_control
    verb = ctx.verbose > 2
    show_bases(ctx, d, 1)
    p(f"\tBus: primary={regs.cb_primary_bus:02x}, secondary={regs.cb_card_bus:02x}, "
      f"subordinate={regs.cb_subordinate_bus:02x}, sec-latency={regs.cb_latency_timer}\n")
    for i, (base, limit) in enumerate(((regs.cb_memory_base_0, regs.cb_memory_limit_0),
                                       (regs.cb_memory_base_1, regs.cb_memory_limit_1))):
        limit = (limit + 0xFFF) & 0xFFFFFFFF
        if base <= limit or verb:
            p(f"\tMemory window {i}: {base:08x}-{limit:08x}{'' if cmd & PCI_COMMAND_MEMORY else ' [disabled]'}"
              f"{' (prefetchable)' if brc & (0x100 << i) else ''}\n")
    for i, (base, limit) in enumerate(((regs.cb_io_base_0, regs.cb_io_limit_0),
                                       (regs.cb_io_base_1, regs.cb_io_limit_1))):
        if not base & 1:
            base &= 0xFFFF
            limit &= 0xFFFF
        base &= ~3 & 0xFFFFFFFF
        limit = ((limit & ~3) + 3) & 0xFFFFFFFF
        if base <= limit or verb:
            p(f"\tI/O window {i}: {base:08x}-{limit:08x}{'' if cmd & PCI_COMMAND_IO else ' [disabled]'}\n")
    if regs.cb_sec_status & 0x4000:
        p("\tSecondary status: SERR\n")
    if ctx.verbose > 1:
        p(f"\tBridgeCtl: {_CB_BRIDGE_CONTROL(brc)}\n")
    if d.cached < 128:
        p("\t<access denied to the rest>\n")
        return
    exca = regs.cb_legacy_mode_base
    if exca:
        p(f"\t16-bit legacy interface ports at {exca:04x}\n")
    show_caps(ctx, PCI_CB_CAPABILITY_LIST)


def _show_unknown_bridge(ctx: Ctx, d: DeviceFacts) -> None:
    """show_htype_unknown's windows: only an access method that reports them (sysfs) has any."""
    if d.bridge_bases is None:
        return
    for base, size, flags in zip(d.bridge_bases, d.bridge_sizes, d.bridge_flags, strict=True):
        if not base:
            continue
        if flags & IORESOURCE_IO:
            label, bits = "I/O behind bridge", 16 if flags & 1 else 32  # PCI_IORESOURCE_IO_16BIT_ADDR
        elif flags & IORESOURCE_MEM:
            bits = 64 if flags & IORESOURCE_MEM_64 else 32
            label = "Prefetchable memory behind bridge" if flags & IORESOURCE_PREFETCH else "Memory behind bridge"
        else:
            label, bits = "Unknown resource behind bridge", 0
        _range(ctx, "\t" + label, base, base + size - 1, bits, False)


# -- kernel, hex dump, whole device ---------------------------------------------------------------
def show_kernel(ctx: Ctx, d: DeviceFacts) -> None:
    if d.driver:
        ctx.p(f"\tKernel driver in use: {d.driver}\n")
    if d.modules:
        ctx.p("\tKernel modules: " + ", ".join(dict.fromkeys(d.modules)) + "\n")


def show_hex_dump(ctx: Ctx, d: DeviceFacts) -> None:
    if d.no_config:
        ctx.p("WARNING: Cannot show hex-dump of the config space\n")
        return
    cnt = d.cached
    level = ctx.opts.hex_dump
    if level >= 3 and d.have(cnt, 256 - cnt):
        cnt = 256
        if level >= 4 and d.have(256, 4096 - 256):
            cnt = 4096
    cfg = d.cfg
    ctx.p("".join(f"{i:02x}: {cfg[i:i + 16].hex(' ')}\n" for i in range(0, cnt, 16)))


def _shell_quoted(text: str) -> str:
    return ' "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def show_machine(ctx: Ctx, d: DeviceFacts) -> None:
    """lspci -m / -mm: tagged lines with -v, else one line of quoted fields."""
    ids, mode, p, fit = names.default(), ctx.opts.numeric, ctx.p, names.fit
    slot = _slot(ctx, bool(ctx.fn.address.domain or ctx.opts.domains))
    has_subsys = d.subsys and d.subsys[0] and d.subsys[0] != 0xFFFF
    if ctx.verbose:
        p(("Slot:\t" if ctx.opts.machine >= 2 else "Device:\t") + slot + "\n")
        p(f"Class:\t{fit(ids.class_text(d.cls, mode), 128)}\n")
        p(f"Vendor:\t{fit(ids.single_text('vendor', mode, d.vendor), 128)}\n")
        p(f"Device:\t{fit(ids.single_text('device', mode, d.vendor, d.device), 128)}\n")
        if has_subsys:
            p(f"SVendor:\t{fit(ids.single_text('svendor', mode, d.subsys[0]), 128)}\n")
            p(f"SDevice:\t{fit(ids.single_text('sdevice', mode, d.vendor, d.device, *d.subsys), 128)}\n")
        if d.phys_slot:
            p(f"PhySlot:\t{d.phys_slot}\n")
        if d.rev:
            p(f"Rev:\t{d.rev:02x}\n")
        p(f"ProgIf:\t{d.prog_if:02x}\n")
        if ctx.opts.kernel:
            if d.driver:
                p(f"Driver:\t{d.driver}\n")
            p("".join(f"Module:\t{m}\n" for m in dict.fromkeys(d.modules)))
        if d.numa_node != -1:
            p(f"NUMANode:\t{d.numa_node}\n")
        if d.iommu_group:
            p(f"IOMMUGroup:\t{d.iommu_group}\n")
        return
    line = slot + _shell_quoted(fit(ids.class_text(d.cls, mode), 128))
    line += _shell_quoted(fit(ids.single_text("vendor", mode, d.vendor), 128))
    line += _shell_quoted(fit(ids.single_text("device", mode, d.vendor, d.device), 128))
    if d.rev:
        line += f" -r{d.rev:02x}"
    line += f" -p{d.prog_if:02x}"
    if has_subsys:
        line += _shell_quoted(fit(ids.single_text("svendor", mode, d.subsys[0]), 128))
        line += _shell_quoted(fit(ids.single_text("sdevice", mode, d.vendor, d.device, *d.subsys), 128))
    else:
        line += ' "" ""'
    p(line + "\n")


def show_device(ctx: Ctx) -> None:
    """One function, as lspci's show_device prints it (including the blank line after it)."""
    d = DeviceFacts(ctx.fn, ctx.cfg)
    ctx.state["facts"] = d
    opts = ctx.opts
    if opts.machine:
        show_machine(ctx, d)
    elif opts.verbose:
        show_verbose(ctx, d)
    else:
        show_terse(ctx, d)
    if (opts.kernel or opts.verbose) and not opts.machine:
        show_kernel(ctx, d)
    if opts.hex_dump:
        show_hex_dump(ctx, d)
    if opts.verbose or opts.hex_dump:
        ctx.p("\n")


def config_header(fn: Function) -> bytes:
    """What lspci's scan_device reads and the terse line and -x show: 64 bytes, 128 for a CardBus bridge."""
    cfg = fn.config_head(64)
    if len(cfg) == 64 and cfg[PCI_HEADER_TYPE] & 0x7F == 2:
        cfg = fn.config_head(128)
    return cfg


def show_all(source: Source, opts: LspciOptions, selector: str | None = None) -> str:
    every = source.functions()
    wanted = function_filter(selector, opts.ids)
    fns = [fn for fn in every if wanted(fn)] if wanted else every
    paths = None
    if opts.path:
        from .tree import bridge_paths

        paths = bridge_paths(every, opts.path)
    listing = Listing(opts, opts.domains or any(f.address.domain for f in every), paths, reuse=True)
    header_only = not (opts.verbose or opts.kernel or opts.machine or opts.hex_dump > 1 or opts.path or opts.ids)
    read_ahead = getattr(source, "read_ahead", None)  # a big sysfs tree: its files read meanwhile, in order
    if read_ahead is not None:  # (not those a -d filter has read already)
        read_ahead([fn.address for fn in fns if "config" not in fn.__dict__], 64 if header_only else 4096)
    for fn in fns:
        show_device(Ctx(fn, opts, config_header(fn) if header_only else None, listing))
    return listing.text()

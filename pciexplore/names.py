"""PCI ID names from the system's pci.ids (and udev's hwdb text as lspci's fallback), formatted as lspci does.

lspci resolves names through libpci: first the pci.ids list, then (Debian builds link libudev) the udev
hardware database for anything pci.ids lacks.  A quirk of that fallback shapes real output: a
subsystem missing from both answers with the *device's* hwdb name, because the hwdb pattern
`pci:vVVVVVVVVdDDDDDDDD*` also matches the longer subsystem key.  We reproduce both steps.

Parsing is lazy: a vendor's line, a device's line and its subsystem lines are found with byte searches
when first asked for (first entry wins, as in libpci); only the small class list is parsed whole.
"""

from __future__ import annotations

import os
from functools import cache

TYPE_CHECKING = False  # typing's constant without importing typing: every command's start-up pays for it
if TYPE_CHECKING:
    import mmap
    from typing import BinaryIO

PCI_IDS_PATHS = ("/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids", "/usr/share/pci.ids")
HWDB_PATHS = ("/etc/udev/hwdb.bin", "/lib/udev/hwdb.bin", "/usr/lib/udev/hwdb.bin")

# hwdb.bin's records (struct formats; struct, mmap and fnmatch are imported only where a hwdb.bin is read)
_HWDB_HEADER = "<8s9Q"
_NODE = "<QB7xQ"
_CHILD = "<B7xQ"
_VALUE = "<QQQIH"

# numeric modes, as lspci's -n count
NAMES, NUMERIC, MIXED = 0, 1, 2



@cache
def _next_vendor_line():
    """A vendor's line (what ends the block before it), compiled when first needed: starting with a literal
    newline lets the regex engine skip from line to line."""
    import re

    return re.compile(rb"\n[0-9a-fA-F]{4}[ \t]")


def _vendor_line_between(data: bytes | mmap.mmap, start: int, stop: int) -> bool:
    """Whether a vendor's line starts in data[start:stop].  Where every line there starts with a tab (a device
    or subsystem) or "#" (a comment), as in all of pci.ids' vendor blocks, none does, and counting tells so
    without the re module (~25M instructions of a live `show` to import); anything else asks the regex."""
    part = data[start:stop]
    newlines = part.count(b"\n")
    if newlines == part.count(b"\n\t") + part.count(b"\n#"):
        return False
    return _next_vendor_line().search(data, start, stop) is not None


def _mapped(f: BinaryIO) -> bytes | mmap.mmap:
    """The file's bytes, mapped rather than read where it can be: reading pci.ids' 1.3 MB into a new buffer
    costs ~330 page faults (~1.5 ms of a live `show`), mapping it a few (the kernel maps pages around each)."""
    import mmap

    try:
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):  # empty, or not a file that maps (a pipe)
        return f.read()


def _clean(line: str) -> str:
    """pci.ids line rules (lib/names-parse.c): one trailing blank dropped, names start after blanks."""
    if line and line[-1] in " \t":
        line = line[:-1]
    return line


def _memo(method):
    """Remember a lookup's answer per database (dumps repeat the same ids many times)."""
    def wrapper(self, *args):
        key = (method.__name__, *args)
        try:
            return self._memo[key]
        except KeyError:
            value = self._memo[key] = method(self, *args)
            return value

    wrapper.__name__, wrapper.__doc__ = method.__name__, method.__doc__
    return wrapper


class PciIds:
    """Name lookups over one pci.ids file plus the udev hwdb text; every method returns None when unknown."""

    def __init__(self, path: str | None = None, hwdb: str | None = None) -> None:
        self.path = path or next((p for p in PCI_IDS_PATHS if os.path.exists(p)), None)
        self._hwdb_path = hwdb or next((p for p in HWDB_PATHS if os.path.exists(p)), None)
        self._data: bytes | mmap.mmap | None = None
        self._blocks_at = 0
        self._memo: dict[tuple, str | None] = {}
        self._vendors: dict[int, tuple[str, int] | None] = {}
        self._devices: dict[tuple[int, int], int | None] = {}  # (vid, did) -> _device_at
        self._classes: dict[tuple[int, ...], str] | None = None
        self._generic_subsys: dict[tuple[int, int], str] | None = None
        self._hwdb: Hwdb | None = None

    # -- pci.ids -------------------------------------------------------------------------------
    def _load(self) -> bytes | mmap.mmap:
        if self._data is None:
            try:
                if self.path:
                    with open(self.path, "rb") as f:
                        self._data = _mapped(f)
                else:
                    self._data = b""
            except OSError:
                self._data = b""
            # the vendor list ends at the first class ("C xx") or generic subsystem ("S vvvv") block; those
            # come after it, so look for them after the last vendor line (found from the end: a short way)
            data = self._data
            last = 0
            for digit in b"fedcba9876543210":  # vendor ids are lower case; "C ff" is a class
                last = max(last, data.rfind(b"\n%c" % digit, last))
            starts = [i + 1 for i in (data.find(b"\nC ", last), data.find(b"\nS ", last)) if i >= 0]
            self._blocks_at = min(starts, default=len(data))
        return self._data

    def _line(self, pos: int, skip: int) -> str:
        """The name on the line starting at `pos`, after `skip` characters of ids (libpci's rules)."""
        data = self._data
        eol = data.find(b"\n", pos)
        line = data[pos:eol if eol >= 0 else len(data)].decode("utf-8", errors="replace")
        return _clean(line.split("\r", 1)[0])[skip:].lstrip(" \t")

    def _vendor(self, vid: int) -> tuple[str, int] | None:
        """(name, line start) of a vendor; its devices are searched after it when asked for."""
        if vid in self._vendors:
            return self._vendors[vid]
        self._vendors[vid] = None
        self._load()
        # a byte search per vendor asked for (a host has few vendors): pci.ids writes vendor ids in lower case
        start = self._find_line(b"\n%04x" % vid, 0, self._blocks_at)
        if start < 0:
            return None
        start += 1
        cached = self._vendors[vid] = (self._line(start, 5), start)
        return cached

    def _find_line(self, prefix: bytes, start: int, stop: int) -> int:
        """Start of the first line `prefix` + blank within [start, stop), or -1 (first entry wins)."""
        data = self._data
        pos = data.find(prefix, start, stop)
        while pos >= 0 and data[pos + len(prefix):pos + len(prefix) + 1] not in (b" ", b"\t"):
            pos = data.find(prefix, pos + 1, stop)
        return pos

    def _device_at(self, vid: int, did: int) -> int | None:
        """Line start of device `did` under vendor `vid` in pci.ids."""
        key = (vid, did)
        if key in self._devices:  # asked for the device's name and again for its subsystems
            return self._devices[key]
        at = None
        v = self._vendor(vid)
        if v is not None:
            start = v[1]
            # the first such line after the vendor's is the vendor's unless another vendor's line comes first:
            # looked for only up to it, as finding where a vendor's block ends costs more (Intel's is 372 KB)
            pos = self._find_line(b"\n\t%04x" % did, start, self._blocks_at)
            if pos >= 0 and not _vendor_line_between(self._data, start + 4, pos):
                at = pos + 1
        self._devices[key] = at
        return at

    def _subsystem_local(self, vid: int, did: int, svid: int, sdid: int) -> str | None:
        at = self._device_at(vid, did)
        if at is None:
            return None
        data = self._data
        pos, stop = data.find(b"\n", at) + 1, self._blocks_at
        while 0 < pos < stop:  # the device's sub-lines: two tabs, or comments and blank lines (a vendor's ends them)
            eol = data.find(b"\n", pos)
            eol = stop if eol < 0 or eol > stop else eol
            line = data[pos:eol]
            if line.startswith(b"\t\t"):
                try:
                    if int(line[2:6], 16) == svid and int(line[7:11], 16) == sdid and line[6:7] in (b" ", b"\t"):
                        return self._line(pos, 12)
                except ValueError:
                    pass
            elif line.strip() and not line.lstrip().startswith(b"#"):
                break
            pos = eol + 1
        return None

    def _parse_blocks(self) -> None:
        """The class list ("C xx") and generic subsystem blocks ("S vvvv") after the vendors."""
        self._load()
        classes: dict[tuple[int, ...], str] = {}
        generic: dict[tuple[int, int], str] = {}
        text = self._data[self._blocks_at:].decode("utf-8", errors="replace")
        kind = None
        top: int | None = None
        sub: int | None = None
        for raw in text.splitlines():
            line = raw[:-1] if raw[-1:] in (" ", "\t") else raw  # _clean, written out: ~200 lines a start-up
            tabs = 2 if line[:2] == "\t\t" else 1 if line[:1] == "\t" else 0
            stripped = line[tabs:].lstrip(" \t") if tabs else line.lstrip(" \t")
            if not stripped or stripped[0] == "#":
                continue
            try:
                if tabs == 2:
                    if kind == "C" and sub is not None:
                        classes.setdefault((top, sub, int(line[2:4], 16)), line[5:].lstrip(" \t"))
                elif tabs == 1:
                    if kind == "C":
                        sub = int(line[1:3], 16)
                        classes.setdefault((top, sub), line[4:].lstrip(" \t"))
                    elif kind == "S":
                        generic.setdefault((top, int(line[1:5], 16)), line[6:].lstrip(" \t"))
                elif line.startswith("C "):
                    kind, top, sub = "C", int(line[2:4], 16), None
                    classes.setdefault((top,), line[5:].lstrip(" \t"))
                elif line.startswith("S "):
                    kind, top = "S", int(line[2:6], 16)
                elif line[:1].isupper() and line[1:2] == " ":
                    kind = None
            except ValueError:
                continue
        self._classes = classes
        self._generic_subsys = generic

    # -- udev hwdb (what lspci's libudev lookup consults when pci.ids has no entry) -------------
    def _hwdb_lookup(self, key_text: str, prop: str) -> str | None:
        if self._hwdb is None:
            self._hwdb = Hwdb(self._hwdb_path)
        return self._hwdb.lookup(key_text + "*").get(prop)

    # -- lookups (libpci's id_lookup: local list, then hwdb) ------------------------------------
    def vendor(self, vid: int) -> str | None:
        v = self._vendor(vid)
        if v is not None:
            return v[0] or None
        return self._hwdb_lookup(f"pci:v{vid:08X}", "ID_VENDOR_FROM_DATABASE")

    def device(self, vid: int, did: int) -> str | None:
        at = self._device_at(vid, did)
        name = self._line(at, 6) if at is not None else None
        if name is None:
            name = self._hwdb_lookup(f"pci:v{vid:08X}d{did:08X}", "ID_MODEL_FROM_DATABASE")
        return name or None

    def subsystem(self, vid: int, did: int, svid: int, sdid: int) -> str | None:
        """libpci's id_lookup_subsys: per-device entry, generic `S` entry, then the device itself."""
        name = None
        if vid > 0 and did > 0:
            name = self._subsystem_local(vid, did, svid, sdid)
            if name is None:
                name = self._hwdb_lookup(f"pci:v{vid:08X}d{did:08X}sv{svid:08X}sd{sdid:08X}",
                                         "ID_MODEL_FROM_DATABASE")
        if not name:
            if self._generic_subsys is None:
                self._parse_blocks()
            name = self._generic_subsys.get((svid, sdid))
            if name is None:
                name = self._hwdb_lookup(f"pci:v*d*sv{svid:08X}sd{sdid:08X}", "ID_MODEL_FROM_DATABASE")
        if not name and vid == svid and did == sdid:
            name = self.device(vid, did)
        return name or None

    def _class(self, key: tuple[int, ...], hwdb_key: str, prop: str) -> str | None:
        if self._classes is None:
            self._parse_blocks()
        name = self._classes.get(key)
        if name is None:
            name = self._hwdb_lookup(hwdb_key, prop)
        return name or None

    def base_class(self, base: int) -> str | None:
        return self._class((base,), f"pci:v*d*sv*sd*bc{base:02X}", "ID_PCI_CLASS_FROM_DATABASE")

    def subclass(self, base: int, sub: int) -> str | None:
        return self._class((base, sub), f"pci:v*d*sv*sd*bc{base:02X}sc{sub:02X}", "ID_PCI_SUBCLASS_FROM_DATABASE")

    def prog_if(self, base: int, sub: int, pif: int) -> str | None:
        return self._class((base, sub, pif), f"pci:v*d*sv*sd*bc{base:02X}sc{sub:02X}i{pif:02X}",
                           "ID_PCI_INTERFACE_FROM_DATABASE")

    # -- lspci's formatting (lib/names.c format_name / format_name_pair) ------------------------
    @_memo
    def class_text(self, cls: int, mode: int) -> str:
        """The 16-bit class as lspci's first line shows it ("Ethernet controller", "0200", ...)."""
        num = f"{cls:04x}"
        if mode == NUMERIC:
            return num
        name = self.subclass(cls >> 8, cls & 0xFF)
        if name is None:
            name = self.base_class(cls >> 8)
            if name is not None:  # only the base class is known: show the full number too
                return f"{name} [{num}]"
        return _single(name, num, "Class", mode)

    @_memo
    def vendor_device_text(self, vid: int, did: int, mode: int) -> str:
        num = f"{vid:04x}:{did:04x}"
        if mode == NUMERIC:
            return num
        return _pair(self.vendor(vid), self.device(vid, did), num, mode)

    @_memo
    def subsystem_text(self, vid: int, did: int, svid: int, sdid: int, mode: int) -> str:
        num = f"{svid:04x}:{sdid:04x}"
        if mode == NUMERIC:
            return num
        return _pair(self.vendor(svid), self.subsystem(vid, did, svid, sdid), num, mode)

    @_memo
    def single_text(self, kind: str, mode: int, *ids: int) -> str:
        """One name the way lspci -m prints it: kind "vendor" (vid), "device" (vid, did), "svendor" (svid)
        or "sdevice" (vid, did, svid, sdid); unknown ones as "Vendor 1234", "Device 5678", ..."""
        num = f"{ids[-1]:04x}"
        if mode == NUMERIC:
            return num
        if kind == "vendor":
            return _single(self.vendor(ids[0]), num, "Vendor", mode)
        if kind == "svendor":
            return _single(self.vendor(ids[0]), num, "Unknown vendor", mode)
        if kind == "device":
            return _single(self.device(ids[0], ids[1]), num, "Device", mode)
        return _single(self.subsystem(*ids), num, "Device", mode)

    @_memo
    def prog_if_text(self, cls: int, pif: int) -> str | None:
        """The prog-if name alone (lspci's PCI_LOOKUP_NO_NUMBERS), IDE's bit meanings when unlisted."""
        name = self.prog_if(cls >> 8, cls & 0xFF, pif)
        if name is None and cls == 0x0101 and not pif & 0x70:
            bits = [(0x80, "Master"), (0x08, "SecP"), (0x04, "SecO"), (0x02, "PriP"), (0x01, "PriO")]
            name = " ".join(label for bit, label in bits if pif & bit)
        return name


class Hwdb:
    """Read-only lookups in systemd's compiled hardware database (hwdb.bin, a trie of glob patterns),
    giving what sd_hwdb_get_properties gives: every matching pattern's properties, a later line of
    the same source file overriding an earlier one."""

    def __init__(self, path: str | None) -> None:
        self.data = b""
        self._cache: dict[str, dict[str, str]] = {}
        if path:
            import mmap

            try:
                with open(path, "rb") as f:
                    self.data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)  # pages read on demand
            except (OSError, ValueError):
                self.data = b""
        if self.data[:8] != b"KSLPHHRH":
            self.data = b""
            return
        import struct

        self._unpack_from = struct.unpack_from
        self._value_record = struct.calcsize(_VALUE)
        if len(self.data) < struct.calcsize(_HWDB_HEADER):
            self.data = b""
            return
        (_, _, _, _, self.node_size, self.child_size, self.value_size, self.root,
         _, _) = struct.unpack_from(_HWDB_HEADER, self.data)

    def _string(self, off: int) -> str:
        end = self.data.find(b"\0", off)
        return self.data[off:end].decode("utf-8", errors="replace")

    def _node(self, off: int) -> tuple[str, list[tuple[str, int]], int, int]:
        """(prefix, [(child char, child offset)], values offset, values count)."""
        prefix_off, nchildren, nvalues = self._unpack_from(_NODE, self.data, off)
        prefix = self._string(prefix_off) if prefix_off else ""
        base = off + self.node_size
        children = []
        for k in range(nchildren):
            c, child = self._unpack_from(_CHILD, self.data, base + k * self.child_size)
            children.append((chr(c), child))
        return prefix, children, base + nchildren * self.child_size, nvalues

    def _add_values(self, props: dict[str, tuple[str, tuple[int, int]]], at: int, count: int) -> None:
        for k in range(count):
            off = at + k * self.value_size
            key_off, value_off = self._unpack_from("<QQ", self.data, off)
            rank = (0, 0)
            if self.value_size >= self._value_record:
                _, _, filename_off, line, prio = self._unpack_from(_VALUE, self.data, off)
                rank = (prio, line) if prio else (filename_off, line)
            key = self._string(key_off)
            if not key.startswith(" "):
                continue
            old = props.get(key[1:])
            if old is None or rank >= old[1]:
                props[key[1:]] = (self._string(value_off), rank)

    def _fnmatch(self, off: int, skip: int, pattern: str, search: str, props) -> None:
        from fnmatch import fnmatchcase

        prefix, children, values_at, nvalues = self._node(off)
        pattern += prefix[skip:]
        if "[" not in pattern and not fnmatchcase(search, pattern + "*"):
            return  # nothing below can match: every extension of a matching pattern starts like it
        for c, child in children:
            self._fnmatch(child, 0, pattern + c, search, props)
        if nvalues and fnmatchcase(search, pattern):
            self._add_values(props, values_at, nvalues)

    def lookup(self, search: str) -> dict[str, str]:
        """Properties of every pattern matching `search` (sd-hwdb's trie_search_f)."""
        found = self._cache.get(search)
        if found is None:
            found = self._cache[search] = self._search(search) if self.data else {}
        return found

    def _search(self, search: str) -> dict[str, str]:
        props: dict[str, tuple[str, tuple[int, int]]] = {}
        off, i, path = self.root, 0, ""
        while off:
            prefix, children, values_at, nvalues = self._node(off)
            for p, c in enumerate(prefix):
                if c in "*?[":
                    self._fnmatch(off, p, path + prefix[:p], search, props)
                    return {k: v for k, (v, _) in props.items()}
                if i + p >= len(search) or c != search[i + p]:
                    return {k: v for k, (v, _) in props.items()}
            i += len(prefix)
            path += prefix
            child_of = dict(children)
            for glob in "*?[":
                if glob in child_of:
                    self._fnmatch(child_of[glob], 0, path + glob, search, props)
            if i == len(search):
                self._add_values(props, values_at, nvalues)
                break
            off = child_of.get(search[i], 0)
            path += search[i]
            i += 1
        return {k: v for k, (v, _) in props.items()}


def fit(text: str, size: int) -> str:
    """What libpci's snprintf into a `size`-byte buffer leaves: over-long names cut (in bytes, as C does)
    and ended with "..."; a cut through a UTF-8 character leaves its raw bytes (surrogate escapes)."""
    raw = text.encode("utf-8", errors="surrogateescape")
    if len(raw) < size:
        return text
    return (raw[:size - 4] + b"...").decode("utf-8", errors="surrogateescape")


def _single(name: str | None, num: str, unknown: str, mode: int) -> str:
    if name is None:
        return f"{unknown} [{num}]" if mode == MIXED else f"{unknown} {num}"
    return f"{name} [{num}]" if mode == MIXED else name


def _pair(vendor: str | None, device: str | None, num: str, mode: int) -> str:
    if mode == MIXED:
        if vendor and device:
            return f"{vendor} {device} [{num}]"
        return f"{vendor} Device [{num}]" if vendor else f"Device [{num}]"
    if vendor and device:
        return f"{vendor} {device}"
    return f"{vendor} Device {num[5:]}" if vendor else f"Device {num}"


@cache
def default() -> PciIds:
    """The system's database, opened once per process."""
    return PciIds()

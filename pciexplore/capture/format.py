"""The capture file format, version 1: plain data classes, their JSON form and a strict validator.

A capture file is untrusted input (it arrives attached to a bug report), so reading one only ever
parses JSON, checks every field's type and bounds, and names the bad field in a one-line error
("functions[2].config: not hex").  The format is described in docs/capture-format.md.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..address import Address
from ..errors import InputError

FORMAT = "pciexplore-capture"
VERSION = 1

# Bounds on what a capture may hold; a file over them is refused before anything is decoded.
MAX_FILE_BYTES = 128 << 20  # room for MAX_FUNCTIONS full 4096-byte configs (hex doubles them)
MAX_FUNCTIONS = 8192
MAX_CONFIG = 4096  # PCIe extended config space
MAX_WINDOW = 1 << 20  # one BAR window (an MSI-X table is at most 2048 * 16 = 32 KiB)
MAX_WINDOWS = 64  # BAR windows per function
MAX_ANNOTATIONS = 100_000
MAX_TEXT = 16_384  # characters of one annotation's text
MAX_STRING = 4096  # any other string
MAX_LIST = 4096  # tags, modules, msi_irqs, /proc/interrupts lines
MAX_VPD = 1 << 15  # the VPD address is 15 bits
MAX_VALUES = 4_000_000  # commas in the file: far above what the other bounds allow, far below 128 MiB of "0,"
MAX_BAR = 6  # BAR 0..5, 6 is the expansion ROM
MAX_STEPS = 200_000  # steps of a recorded bring-up (a Debian boot with three devices records about 900)
STEP_KEYS = ("step", "function", "device", "kind", "register", "index", "value", "old", "text")
U64 = (1 << 64) - 1

_HEX = re.compile(r"[0-9a-fA-F]*")


@dataclass(slots=True)
class BarWindow:
    """Bytes read from a BAR: `size` bytes at `offset` (from the start of the BAR)."""

    bar: int
    offset: int
    data: bytes
    what: str = ""  # "msix-table", "msix-pba", or "requested"

    @property
    def end(self) -> int:
        return self.offset + len(self.data)


@dataclass(slots=True)
class MissingWindow:
    """A BAR window the capture wanted but could not read, and why."""

    bar: int
    offset: int
    size: int
    what: str
    reason: str


@dataclass(slots=True)
class InterruptSample:
    """The rows of /proc/interrupts for a function's IRQs, verbatim, at `time`."""

    header: str  # the "CPU0 CPU1 ..." line
    lines: list[str]
    time: str


@dataclass(slots=True)
class Annotation:
    """A note on bytes of one function: config space (bar None) or a captured BAR window."""

    function: Address
    offset: int
    length: int
    text: str
    author: str = ""
    time: str = ""  # ISO 8601, UTC
    tags: list[str] = field(default_factory=list)
    field: str | None = None  # the pci_regs.h register or field name the note was attached to
    bar: int | None = None

    def key(self) -> tuple:
        """Identity for merging: the same note on the same bytes by the same author at the same time."""
        return (self.function, self.bar, self.offset, self.length, self.field, self.text, self.author,
                self.time, tuple(self.tags))

    @property
    def where(self) -> str:
        space = "config" if self.bar is None else f"BAR {self.bar}"
        span = f"0x{self.offset:x}" if self.length == 1 else f"0x{self.offset:x}-0x{self.offset + self.length - 1:x}"
        return f"{space} {span}" + (f" ({self.field})" if self.field else "")


@dataclass(slots=True)
class CapturedFunction:
    address: Address
    config: bytes
    bar_regions: list[dict[str, int]] | None = None  # [{"index", "base", "size", "flags"}]
    windows: list[BarWindow] = field(default_factory=list)
    missing: list[MissingWindow] = field(default_factory=list)
    kernel: dict[str, Any] | None = None  # KernelInfo fields named in KERNEL_FIELDS
    interrupts: InterruptSample | None = None
    vpd: bytes | None = None  # Vital Product Data as the kernel gave it (sysfs `vpd`)


KERNEL_FIELDS = ("driver", "modules", "irq", "msi_irqs", "numa_node", "iommu_group", "ids", "resources", "label",
                 "phys_slot")
KERNEL_IDS = ("vendor", "device", "class", "revision", "subsystem_vendor", "subsystem_device")
METADATA_KEYS = ("title", "description", "tool", "time", "host", "kernel", "source_kind", "source", "how")


# -- to JSON ------------------------------------------------------------------------------------------
def to_json(functions: list[CapturedFunction], metadata: dict[str, Any], annotations: list[Annotation],
            timeline: list[dict] | None = None) -> dict:
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "metadata": metadata,
        "functions": [_function_json(f) for f in functions],
        "annotations": [_annotation_json(a) for a in annotations],
    }
    if timeline is not None:
        doc["timeline"] = timeline
    return doc


def _function_json(f: CapturedFunction) -> dict:
    out: dict[str, Any] = {"address": str(f.address), "config": f.config.hex()}
    if f.bar_regions is not None:
        out["bar_regions"] = f.bar_regions
    out["windows"] = [{"bar": w.bar, "offset": w.offset, "what": w.what, "data": w.data.hex()} for w in f.windows]
    out["missing"] = [{"bar": m.bar, "offset": m.offset, "size": m.size, "what": m.what, "reason": m.reason}
                      for m in f.missing]
    if f.kernel is not None:
        out["kernel"] = f.kernel
    if f.vpd is not None:
        out["vpd"] = f.vpd.hex()
    if f.interrupts is not None:
        out["interrupts"] = {"header": f.interrupts.header, "lines": f.interrupts.lines, "time": f.interrupts.time}
    return out


def _annotation_json(a: Annotation) -> dict:
    out: dict[str, Any] = {"function": str(a.function)}
    if a.bar is not None:
        out["bar"] = a.bar
    out.update(offset=a.offset, length=a.length)
    if a.field:
        out["field"] = a.field
    out.update(text=a.text, author=a.author, time=a.time, tags=list(a.tags))
    return out


def dumps(doc: dict) -> bytes:
    # a lone surrogate (a non-UTF-8 sysfs label read with surrogateescape, a title from a non-UTF-8 argv)
    # becomes the JSON escape \udcXX, which reads back as the same string
    data = (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode("utf-8", "backslashreplace")
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"capture would be {len(data)} bytes, more than the {MAX_FILE_BYTES} a capture may have")
    return data


# -- from JSON: read bounded, parse, validate ---------------------------------------------------------
def read_document(path: str | Path) -> dict:
    """Read and parse a capture file, refusing anything that is not a bounded regular JSON file."""
    return parse_document(read_bytes(path), str(path))


def read_bytes(path: str | Path) -> bytes:
    """The bytes of a capture file, refusing anything that is not a bounded regular file."""
    name = str(path)
    try:
        st = os.stat(path)
    except OSError as e:
        raise InputError(f"cannot open: {e.strerror}", file=name) from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError("not a regular file", file=name)
    if st.st_size > MAX_FILE_BYTES:
        raise InputError(f"capture is {st.st_size} bytes, more than the {MAX_FILE_BYTES} allowed", file=name)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", file=name) from None
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(f"capture is more than the {MAX_FILE_BYTES} bytes allowed", file=name)
    return raw


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    out = dict(pairs)  # in C; only an object that lost a key to a repeat is looked at in Python
    if len(out) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise ValueError(f"key {k!r} appears twice in one object")
            seen.add(k)
    return out


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in a capture")


def parse_document(raw: bytes, name: str) -> dict:
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")  # RFC 8259 §8.1: a parser may ignore a BOM
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text (byte {e.start})", file=name) from None
    if raw.count(b",") > MAX_VALUES:  # bound the parsed objects too, not just the bytes
        raise InputError(f"not a capture: more than {MAX_VALUES} JSON values", file=name)
    try:
        doc = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except json.JSONDecodeError as e:
        raise InputError(f"broken JSON, not a capture: {e.msg}", file=name, line=e.lineno) from None
    except RecursionError:
        raise InputError("not a capture: JSON nested too deeply", file=name) from None
    except ValueError as e:  # duplicate keys, NaN/Infinity, integers with thousands of digits
        raise InputError(f"not a valid capture: {e}", file=name) from None
    return doc


class _Checker:
    """Checks one value against the schema; every error names the JSON path of the bad field."""

    def __init__(self, name: str | None) -> None:
        self.name = name

    def fail(self, path: str, message: str) -> InputError:
        return InputError(f"{path}: {message}", file=self.name)

    def obj(self, v: Any, path: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
        if not isinstance(v, dict):
            raise self.fail(path, f"expected an object, got {_kind(v)}")
        for k in required:
            if k not in v:
                raise self.fail(f"{path}.{k}" if path else k, "missing")
        for k in v:
            if k not in required and k not in optional:
                raise self.fail(f"{path}.{k}" if path else k, "unknown field")
        return v

    def int(self, v: Any, path: str, lo: int = 0, hi: int = U64) -> int:
        if not isinstance(v, int) or isinstance(v, bool):
            raise self.fail(path, f"expected an integer, got {_kind(v)}")
        if not lo <= v <= hi:
            raise self.fail(path, f"{v} out of range {lo}..{hi}")
        return v

    def opt_int(self, v: Any, path: str, lo: int = 0, hi: int = U64) -> int | None:
        return None if v is None else self.int(v, path, lo, hi)

    def str(self, v: Any, path: str, limit: int = MAX_STRING) -> str:
        if not isinstance(v, str):
            raise self.fail(path, f"expected a string, got {_kind(v)}")
        if len(v) > limit:
            raise self.fail(path, f"string of {len(v)} characters, more than {limit}")
        return v

    def opt_str(self, v: Any, path: str) -> str | None:
        return None if v is None else self.str(v, path)

    def list(self, v: Any, path: str, limit: int = MAX_LIST) -> list:
        if not isinstance(v, list):
            raise self.fail(path, f"expected a list, got {_kind(v)}")
        if len(v) > limit:
            raise self.fail(path, f"{len(v)} entries, more than {limit}")
        return v

    def hex(self, v: Any, path: str, lo: int, hi: int) -> bytes:
        if not isinstance(v, str):
            raise self.fail(path, f"expected a string, got {_kind(v)}")
        s = v
        if len(s) > 2 * hi:
            raise self.fail(path, f"{(len(s) + 1) // 2} bytes, expected {lo} to {hi}")
        try:
            data = bytes.fromhex(s)
        except ValueError:
            data = b""
        if 2 * len(data) != len(s):  # not hex digits alone (fromhex also skips spaces between bytes)
            if not _HEX.fullmatch(s):
                bad = next(i for i, c in enumerate(s) if c not in "0123456789abcdefABCDEF")
                raise self.fail(path, f"not hex (character {bad}: {s[bad]!r})")
            raise self.fail(path, "not hex (odd number of digits)")
        if not lo <= len(data) <= hi:
            raise self.fail(path, f"{len(data)} bytes, expected {lo} to {hi}")
        return data

    def address(self, v: Any, path: str) -> Address:
        s = self.str(v, path, limit=32)
        try:
            return Address.parse(s)
        except InputError:
            raise self.fail(path, f"not a PCI address [[domain:]bus:]dev.fn: {s!r}") from None


def _kind(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null",
            int: "an integer", float: "a number"}.get(type(v), type(v).__name__)


def validate(doc: Any, name: str) -> tuple[list[CapturedFunction], dict[str, Any], list[Annotation]]:
    """Check a parsed document against format version 1 and build its parts."""
    c = _Checker(name)
    if not isinstance(doc, dict):
        raise c.fail("(top level)", f"expected an object, got {_kind(doc)}")
    if doc.get("format") != FORMAT:
        raise InputError(f"not a pciexplore capture (\"format\" is not {FORMAT!r})", file=name)
    version = doc.get("version")
    if type(version) is not int or version != VERSION:  # true and 1.0 equal 1 in Python, not in the format
        raise InputError(f"capture format version {version!r} is not supported (this pciexplore reads "
                         f"version {VERSION})", file=name)
    c.obj(doc, "", ("format", "version", "functions"), ("metadata", "annotations", "timeline"))
    metadata = c.obj(doc.get("metadata", {}), "metadata", (), METADATA_KEYS + ("extra",))
    for k in METADATA_KEYS:
        if k in metadata:
            c.str(metadata[k], f"metadata.{k}", limit=MAX_TEXT)
    if "extra" in metadata:
        extra = metadata["extra"]
        if not isinstance(extra, dict):
            raise c.fail("metadata.extra", f"expected an object, got {_kind(extra)}")
        if len(extra) > MAX_LIST:
            raise c.fail("metadata.extra", f"{len(extra)} entries, more than {MAX_LIST}")
        for k, v in extra.items():
            c.str(k, "metadata.extra (a key)", limit=256)
            c.str(v, f"metadata.extra.{k}", limit=MAX_TEXT)

    functions = [_function(c, f, f"functions[{i}]")
                 for i, f in enumerate(c.list(doc["functions"], "functions", MAX_FUNCTIONS))]
    seen: set[Address] = set()
    for i, f in enumerate(functions):
        if f.address in seen:
            raise c.fail(f"functions[{i}].address", f"{f.address} appears twice")
        seen.add(f.address)

    windows = {f.address: f.windows for f in functions}
    annotations = []
    for i, a in enumerate(c.list(doc.get("annotations", []), "annotations", MAX_ANNOTATIONS)):
        ann = _annotation(c, a, f"annotations[{i}]")
        if ann.function not in seen:
            raise c.fail(f"annotations[{i}].function", f"{ann.function} is not one of the captured functions")
        if ann.bar is not None and not any(w.bar == ann.bar and w.offset <= ann.offset and ann.offset + ann.length
                                           <= w.end for w in windows[ann.function]):
            # what Capture.annotate refuses to write: a note must cover captured bytes (a length of 2**63
            # over a window once ran the HTML export out of memory)
            raise c.fail(f"annotations[{i}]", f"BAR {ann.bar} 0x{ann.offset:x}+{ann.length} is not inside a "
                         "captured window")
        annotations.append(ann)
    return functions, dict(metadata), annotations


def _function(c: _Checker, v: Any, path: str) -> CapturedFunction:
    c.obj(v, path, ("address", "config"), ("bar_regions", "windows", "missing", "kernel", "interrupts", "vpd"))
    fn = CapturedFunction(c.address(v["address"], f"{path}.address"),
                          c.hex(v["config"], f"{path}.config", 1, MAX_CONFIG))
    if v.get("bar_regions") is not None:
        fn.bar_regions = []
        for i, r in enumerate(c.list(v["bar_regions"], f"{path}.bar_regions", MAX_BAR + 1)):
            p = f"{path}.bar_regions[{i}]"
            c.obj(r, p, ("index", "base", "size"), ("flags",))
            fn.bar_regions.append({"index": c.int(r["index"], f"{p}.index", 0, MAX_BAR),
                                   "base": c.int(r["base"], f"{p}.base"),
                                   "size": c.int(r["size"], f"{p}.size"),
                                   "flags": c.int(r.get("flags", 0), f"{p}.flags")})
    for i, w in enumerate(c.list(v.get("windows", []), f"{path}.windows", MAX_WINDOWS)):
        p = f"{path}.windows[{i}]"
        c.obj(w, p, ("bar", "offset", "data"), ("what",))
        fn.windows.append(BarWindow(c.int(w["bar"], f"{p}.bar", 0, MAX_BAR), c.int(w["offset"], f"{p}.offset"),
                                    c.hex(w["data"], f"{p}.data", 1, MAX_WINDOW),
                                    c.str(w.get("what", ""), f"{p}.what", 64)))
        if fn.windows[-1].end > U64 + 1:
            raise c.fail(p, "window extends past 2^64")
    for i, m in enumerate(c.list(v.get("missing", []), f"{path}.missing", MAX_WINDOWS)):
        p = f"{path}.missing[{i}]"
        c.obj(m, p, ("bar", "offset", "size", "what", "reason"))
        fn.missing.append(MissingWindow(c.int(m["bar"], f"{p}.bar", 0, 7), c.int(m["offset"], f"{p}.offset"),
                                        c.int(m["size"], f"{p}.size"), c.str(m["what"], f"{p}.what", 64),
                                        c.str(m["reason"], f"{p}.reason")))
    if v.get("kernel") is not None:
        p = f"{path}.kernel"
        k = c.obj(v["kernel"], p, (), KERNEL_FIELDS)
        fn.kernel = {
            "driver": c.opt_str(k.get("driver"), f"{p}.driver"),
            "modules": [c.str(m, f"{p}.modules[{i}]", 256)
                        for i, m in enumerate(c.list(k.get("modules", []), f"{p}.modules", 256))],
            "irq": c.opt_int(k.get("irq"), f"{p}.irq", 0, 1 << 32),
            "msi_irqs": [c.int(n, f"{p}.msi_irqs[{i}]", 0, 1 << 32)
                         for i, n in enumerate(c.list(k.get("msi_irqs", []), f"{p}.msi_irqs"))],
            "numa_node": c.opt_int(k.get("numa_node"), f"{p}.numa_node", -1, 1 << 16),
            "iommu_group": c.opt_str(k.get("iommu_group"), f"{p}.iommu_group"),
            "ids": {c.str(name, f"{p}.ids (a key)", 32): c.int(n, f"{p}.ids.{name}", 0, 0xFFFFFF)
                    for name, n in c.obj(k.get("ids", {}), f"{p}.ids", (), KERNEL_IDS).items()},
            "resources": [_resource(c, r, f"{p}.resources[{i}]")
                          for i, r in enumerate(c.list(k.get("resources", []), f"{p}.resources", 64))],
            "label": c.opt_str(k.get("label"), f"{p}.label"),
            "phys_slot": c.opt_str(k.get("phys_slot"), f"{p}.phys_slot"),
        }
    if v.get("vpd") is not None:
        fn.vpd = c.hex(v["vpd"], f"{path}.vpd", 0, MAX_VPD)
    if v.get("interrupts") is not None:
        p = f"{path}.interrupts"
        s = c.obj(v["interrupts"], p, ("header", "lines"), ("time",))
        fn.interrupts = InterruptSample(
            c.str(s["header"], f"{p}.header"),
            [c.str(line, f"{p}.lines[{i}]") for i, line in enumerate(c.list(s["lines"], f"{p}.lines"))],
            c.str(s.get("time", ""), f"{p}.time", 64))
    return fn


def check_annotation(a: Annotation) -> None:
    """Apply the reader's checks to one note (InputError naming the bad field)."""
    _annotation(_Checker(None), _annotation_json(a), "annotation")


def _resource(c: _Checker, v: Any, path: str) -> list[int]:
    # a list, as JSON has it: save() validates the document built from what was read (a tuple here failed
    # "expected a list" when a capture with kernel resources was annotated)
    items = c.list(v, path, 3)
    if len(items) != 3:
        raise c.fail(path, "expected [start, end, flags]")
    return [c.int(items[0], f"{path}[0]"), c.int(items[1], f"{path}[1]"), c.int(items[2], f"{path}[2]")]


def _annotation(c: _Checker, v: Any, path: str) -> Annotation:
    c.obj(v, path, ("function", "offset", "length", "text"), ("bar", "field", "author", "time", "tags"))
    bar = c.opt_int(v.get("bar"), f"{path}.bar", 0, MAX_BAR)
    limit = MAX_CONFIG if bar is None else U64 + 1
    offset = c.int(v["offset"], f"{path}.offset", 0, limit - 1)
    length = c.int(v["length"], f"{path}.length", 1, limit - offset)
    tags = [c.str(t, f"{path}.tags[{i}]", 64) for i, t in enumerate(c.list(v.get("tags", []), f"{path}.tags", 64))]
    return Annotation(c.address(v["function"], f"{path}.function"), offset, length,
                      c.str(v["text"], f"{path}.text", MAX_TEXT), c.str(v.get("author", ""), f"{path}.author", 256),
                      c.str(v.get("time", ""), f"{path}.time", 64), tags,
                      c.opt_str(v.get("field"), f"{path}.field"), bar)


def validate_timeline(doc: dict, name: str) -> list[dict] | None:
    """The recorded bring-up of a running VM (`pciexplore vm`), when the document has one: a list of steps."""
    if "timeline" not in doc:
        return None
    c = _Checker(name)
    steps = []
    for i, step in enumerate(c.list(doc["timeline"], "timeline", MAX_STEPS)):
        path = f"timeline[{i}]"
        c.obj(step, path, STEP_KEYS)
        for k in ("step", "value"):
            c.int(step[k], f"{path}.{k}")
        for k in ("index", "old"):
            if step[k] is not None:
                c.int(step[k], f"{path}.{k}")
        for k in ("function", "device", "kind", "register", "text"):
            c.str(step[k], f"{path}.{k}")
        steps.append({k: step[k] for k in STEP_KEYS})
    return steps

"""A capture opened as a Source: read-only device state, plus annotations people add and share."""

from __future__ import annotations

import getpass
import hashlib
import html
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..address import Address
from ..errors import InputError, NotSupported, ReadOnlyError
from ..locate import resolve
from ..sources.base import BarRegion, KernelInfo, Source
from ..words import plural
from . import format as fmt
from .atomic import directory_lock, write_atomic
from .format import Annotation, CapturedFunction

if TYPE_CHECKING:
    import pandas

    from ..model import Function

def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def default_author() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


class Capture(Source):
    """Captured functions served like a live source (read-only), with metadata and annotations."""

    kind = "capture"

    def __init__(self, name: str, functions: list[CapturedFunction], metadata: dict[str, Any] | None = None,
                 annotations: list[Annotation] | None = None, path: str | Path | None = None,
                 timeline: list[dict] | None = None) -> None:
        super().__init__(name)
        #: steps of a running VM's recorded bring-up (`pciexplore vm`), as Timeline.to_list() gives them
        self.steps = timeline
        self.path = Path(path) if path is not None else None
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.annotations: list[Annotation] = list(annotations or [])
        self._captured: dict[Address, CapturedFunction] = {f.address: f for f in functions}
        #: sha256 of the file as last read or written (to notice someone else's save in between)
        self._digest: bytes | None = None

    # -- the Source protocol ------------------------------------------------------------------------
    def addresses(self) -> list[Address]:
        return list(self._captured)

    def captured(self, addr: Address | str) -> CapturedFunction:
        a = addr if isinstance(addr, Address) else Address.parse(str(addr))
        try:
            return self._captured[a]
        except KeyError:
            raise InputError(f"no function {a} in this capture", file=self.name) from None

    def read_config(self, addr: Address) -> bytes:
        return self.captured(addr).config

    def bar_regions(self, addr: Address) -> dict[int, BarRegion] | None:
        regions = self.captured(addr).bar_regions
        if regions is None:
            return None
        return {r["index"]: BarRegion(r["index"], r["base"], r["size"], r.get("flags", 0)) for r in regions}

    def read_bar(self, addr: Address, bar: int, offset: int, size: int) -> bytes:
        """Bytes of a captured BAR window; anything else was not captured, and the error says what was."""
        cf = self.captured(addr)
        for w in cf.windows:
            if w.bar == bar and w.offset <= offset and offset + size <= w.end:
                return w.data[offset - w.offset : offset - w.offset + size]
        got = ", ".join(f"BAR {w.bar} 0x{w.offset:x}+0x{len(w.data):x}" + (f" ({w.what})" if w.what else "")
                        for w in cf.windows) or "no BAR windows"
        reasons = dict.fromkeys(m.reason for m in cf.missing if m.bar == bar)
        why = "".join(f"; BAR {bar} was not readable when captured: {r}" for r in reasons)
        raise NotSupported(f"BAR {bar} 0x{offset:x}+0x{size:x} was not captured (the capture has {got}{why})",
                           file=self.name, device=str(cf.address), offset=offset)

    def kernel_info(self, addr: Address) -> KernelInfo | None:
        k = self.captured(addr).kernel
        if k is None:
            return None
        known = set(KernelInfo.FIELDS)
        info = KernelInfo(**{name: v for name, v in k.items() if name in known})
        if "resources" in known:
            info.resources = [tuple(r) for r in k.get("resources", [])]
        return info

    def read_vpd(self, addr: Address) -> bytes | None:
        return self.captured(addr).vpd

    def interrupts(self, addr: Address | str) -> fmt.InterruptSample | None:
        """The /proc/interrupts rows of this function's IRQs when the capture was taken, if sampled."""
        return self.captured(addr).interrupts

    def windows(self, addr: Address | str) -> list[fmt.BarWindow]:
        return list(self.captured(addr).windows)

    # -- annotations ----------------------------------------------------------------------------------
    def annotate(self, fn: Function | Address | str, target: Any, text: str, *, author: str | None = None,
                 tags: list[str] | tuple[str, ...] = (), bar: int | None = None) -> Annotation:
        """Attach a note to bytes of `fn`: a register or field name ("PCI_MSIX_FLAGS_MASKALL"), an
        (offset, length) range, or one offset; `bar` makes the range relative to a captured BAR window."""
        addr = _address_of(fn)
        cf = self.captured(addr)
        field_name = None
        if isinstance(target, str):
            if bar is not None:
                raise InputError("a register name says where its bytes are; give (offset, length) with bar=")
            place = resolve(self.function(addr), target)  # config, or a captured MSI-X table entry's BAR
            (offset, length), bar, field_name = place.byte_range, place.bar, place.name
        elif isinstance(target, int) and not isinstance(target, bool):
            offset, length = target, 1
        elif isinstance(target, tuple) and len(target) == 2 and all(isinstance(t, int) for t in target):
            offset, length = target
        else:
            raise InputError(f"annotation target must be a register/field name, (offset, length) or an offset, "
                             f"not {target!r}")
        if length < 1 or offset < 0:
            raise InputError(f"annotation range 0x{offset:x}+{length} is empty or negative", file=self.name,
                             device=str(addr))
        if bar is None and offset + length > len(cf.config):
            raise InputError(f"config bytes 0x{offset:x}+{length} are past the {len(cf.config)} captured",
                             file=self.name, device=str(addr), offset=offset)
        if bar is not None and not any(w.bar == bar and w.offset <= offset and offset + length <= w.end
                                       for w in cf.windows):
            raise InputError(f"BAR {bar} 0x{offset:x}+{length} is not in a captured window", file=self.name,
                             device=str(addr), offset=offset)
        if not isinstance(text, str) or not text.strip():
            raise InputError("annotation text is empty")
        note = Annotation(addr, offset, length, text, default_author() if author is None else author, now(),
                          [str(t) for t in tags], field_name, bar)
        fmt.check_annotation(note)  # the bounds a reader applies, so a saved note always reads back
        self.annotations.append(note)
        return note

    def notes(self, fn: Function | Address | str | None = None, tag: str | None = None) -> list[Annotation]:
        """Annotations, optionally only those of one function and/or carrying one tag."""
        addr = None if fn is None else _address_of(fn)
        return [a for a in self.annotations
                if (addr is None or a.function == addr) and (tag is None or tag in a.tags)]

    def annotations_frame(self) -> pandas.DataFrame:
        import pandas

        rows = [{"function": a.function.short if a.function.domain == 0 else str(a.function), "where": a.where,
                 "offset": a.offset, "length": a.length, "bar": a.bar, "field": a.field, "text": a.text,
                 "author": a.author, "time": a.time, "tags": ", ".join(a.tags)} for a in self.annotations]
        from ..render.frames import hex_frame

        frame = pandas.DataFrame(rows, columns=["function", "where", "offset", "length", "bar", "field", "text",
                                                "author", "time", "tags"])
        frame["bar"] = frame["bar"].astype("Int64")  # None for config space notes: stays an integer column
        return hex_frame(frame, {"offset": 3})

    def merge(self, other: Capture) -> int:
        """Take in another copy's annotations (and functions this one lacks); returns notes added.

        Both must hold the same device state: a function captured in both with different bytes is an
        error (compare them with `pciexplore diff` instead)."""
        for addr, theirs in other._captured.items():  # check everything before changing anything
            ours = self._captured.get(addr)
            if ours is not None and ours.config != theirs.config:
                raise InputError(f"cannot merge: {addr} has different config bytes in {other.name} (a different "
                                 "state of the device; compare them with `pciexplore diff`)", file=self.name)
        for addr, theirs in other._captured.items():
            ours = self._captured.get(addr)
            if ours is None:
                self._captured[addr] = theirs
                continue
            for w in theirs.windows:
                if not any(o.bar == w.bar and o.offset == w.offset and o.data == w.data for o in ours.windows):
                    ours.windows.append(w)
        self._functions = None  # the function list is rebuilt with any functions taken in
        keys = {a.key() for a in self.annotations}
        added = 0
        for a in other.annotations:
            if a.key() not in keys:
                self.annotations.append(a)
                keys.add(a.key())
                added += 1
        return added

    # -- saving -----------------------------------------------------------------------------------------
    def to_json(self) -> dict:
        return fmt.to_json(list(self._captured.values()), self.metadata, self.annotations, self.steps)

    def timeline(self) -> Any:
        """The recorded bring-up of the VM this capture was taken of, or None."""
        if self.steps is None:
            return None
        from ..sources.qemu.timeline import Timeline

        # a capture's steps never change: decoded once (the doctor asks for every virtio function)
        if getattr(self, "_timeline", None) is None:
            self._timeline = Timeline.from_list(self.steps, name=self.name)
        return self._timeline

    def save(self, path: str | Path | None = None) -> Path:
        """Write the capture atomically (old or new file, never a torn one); returns the path.

        Saving back to the file it came from first takes in notes someone else saved there since
        (another notebook, `pciexplore annotate`), so concurrent annotators lose nothing."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise InputError("this capture was not opened from a file: give save() a path")
        with directory_lock(target.parent):
            if self._digest is not None and self.path is not None and target.resolve() == self.path.resolve():
                try:
                    current = fmt.read_bytes(target)
                except InputError:
                    current = None  # gone or unreadable: nothing to take in
                if current is not None and hashlib.sha256(current).digest() != self._digest:
                    functions, metadata, notes = fmt.validate(fmt.parse_document(current, str(target)), str(target))
                    self.merge(Capture(str(target), functions, metadata, notes))
            doc = self.to_json()
            fmt.validate(doc, str(target))  # never write what a reader would refuse
            data = fmt.dumps(doc)
            write_atomic(target, data)
        self.path = target
        self._digest = hashlib.sha256(data).digest()
        return target

    # -- looks ------------------------------------------------------------------------------------------
    def __repr__(self) -> str:
        title = self.metadata.get("title") or self.name
        return f"<Capture {title!r}: {plural(len(self._captured), 'function')}, {plural(len(self.annotations), 'annotation')}>"

    def _repr_html_(self) -> str:
        e = html.escape
        meta = "".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in self.metadata.items()
                       if k != "extra")
        fns = "".join(
            f"<tr><td><code>{e(str(f.address))}</code></td><td>{len(f.config)}</td>"
            f"<td>{e(', '.join(w.what or f'BAR {w.bar}' for w in f.windows)) or '-'}</td>"
            f"<td>{len(self.notes(f.address))}</td></tr>" for f in self._captured.values())
        notes = "".join(f"<li><code>{e(str(a.function))} {e(a.where)}</code>: {e(a.text)} "
                        f"<i>{e(a.author)}</i></li>" for a in self.annotations)
        return (f"<div><b>Capture</b> {e(str(self.metadata.get('title') or self.name))}"
                f"<table>{meta}</table><table><tr><th>function</th><th>config bytes</th><th>BAR windows</th>"
                f"<th>notes</th></tr>{fns}</table><ul>{notes}</ul></div>")


def _address_of(fn: Any) -> Address:
    if isinstance(fn, Address):
        return fn
    addr = getattr(fn, "address", None)
    if isinstance(addr, Address):
        return addr
    return Address.parse(str(fn))


def locate(fn: Function, name: str) -> tuple[int, int]:
    """(offset, length) of the config bytes holding a declared register or field, by its pci_regs.h name."""
    target = resolve(fn, name)
    if target.bar is not None:
        raise InputError(f"{name} is in BAR {target.bar}, not in config space", **fn.where())
    return target.byte_range


def open_capture(path: str | Path, **options: Any) -> Capture:
    """Open a capture file: parsed as JSON only, validated and bounded (errors name the bad field)."""
    name = str(path)
    if options.get("allow_writes"):
        raise ReadOnlyError("a capture is a record of a device's state and cannot be written", file=name)
    if set(options) - {"allow_writes"}:
        raise InputError(f"a capture takes no options (got {', '.join(sorted(options))})", file=name)
    raw = fmt.read_bytes(path)
    doc = fmt.parse_document(raw, name)
    functions, metadata, annotations = fmt.validate(doc, name)
    cap = Capture(name, functions, metadata, annotations, path=path, timeline=fmt.validate_timeline(doc, name))
    cap._digest = hashlib.sha256(raw).digest()
    return cap

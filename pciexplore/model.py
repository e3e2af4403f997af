"""The decoded model: Function, Capability, RegisterValue.  Built from a source's bytes and the
declarations in `regs`; registers are decoded when first asked for, so listing 4096 functions is cheap.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from functools import cached_property

from . import regs
from .address import Address
from .decode import Problem, header_problem, walk_extended, walk_standard
from .regs.base import Field, Layout, Register

TYPE_CHECKING = False  # typing's constant without importing typing: every command's start-up pays for it
if TYPE_CHECKING:
    from typing import Any

    from .sources.base import KernelInfo, Source


class RegisterValue:
    """One register of one function: its declaration, absolute offset and value (None: not readable)."""

    __slots__ = ("decl", "offset", "value")

    def __init__(self, decl: Register, offset: int, value: int | None) -> None:
        self.decl = decl
        self.offset = offset
        self.value = value

    @property
    def name(self) -> str:
        return self.decl.name

    def __getitem__(self, field_name: str) -> int | None:
        v = self.value
        if v is None:
            return None
        f = self.decl._by_name[field_name]  # Register.field() without the call: renderers ask for every field
        return (v >> f.shift) & f.value_mask

    def fields(self) -> dict[str, int | None]:
        v = self.value
        if v is None:
            return {f.name: None for f in self.decl.fields}
        return {name: (v >> lo) & mask for name, lo, mask in self.decl.extractors}

    def describe(self) -> list[tuple[Field, int, str | None]]:
        """(field, value, meaning) for every declared field."""
        if self.value is None:
            return []
        return [(f, f.extract(self.value), f.meaning(f.extract(self.value))) for f in self.decl.fields]

    def __repr__(self) -> str:
        width = self.decl.width * 2
        v = "unreadable" if self.value is None else f"0x{self.value:0{width}x}"
        return f"<{self.decl.name} @0x{self.offset:03x} = {v}>"


class ConfigWindow:
    """Config bytes one verb read (`data` from `offset`), standing in for a Function in a `Block` so
    registers decode from their declarations out of just those bytes.  Like a short config space, it
    ends where the bytes end; an offset before them is a mistake, not a register that reads 0."""

    def __init__(self, offset: int, data: bytes) -> None:
        self.offset = offset
        self.data = data

    @property
    def config(self) -> ConfigWindow:
        return self

    def __len__(self) -> int:
        return self.offset + len(self.data)

    def __getitem__(self, at: slice) -> bytes:
        if at.start < self.offset:
            raise IndexError(f"config offset {at.start:#x} lies before the bytes read (from {self.offset:#x})")
        return self.data[at.start - self.offset : at.stop - self.offset]

    def read(self, offset: int, width: int) -> int | None:
        return None if offset + width > len(self) else int.from_bytes(self[offset : offset + width], "little")


class Block:
    """A declared layout decoded at an offset of a function's config space (or of a `ConfigWindow`)."""

    def __init__(self, function: Function | ConfigWindow, layout: Layout | None, offset: int) -> None:
        self.function = function
        self.layout = layout
        self.offset = offset

    def read(self, rel: int, width: int) -> int | None:
        """Little-endian value at `offset + rel`, or None when the source does not have those bytes."""
        return self.function.read(self.offset + rel, width)

    def __getitem__(self, name: str) -> RegisterValue:
        if self.layout is None:
            raise KeyError(name)
        decl = self.layout._by_name[name]  # Layout.register() without the call, as in get()
        at = self.offset + decl.offset
        end = at + decl.width
        cfg = self.function.config
        return RegisterValue(decl, at, int.from_bytes(cfg[at:end], "little") if 0 <= at and end <= len(cfg) else None)

    def get(self, reg_name: str, field_name: str | None = None) -> int | None:
        """A register's value, or one field of it; None if not readable."""
        if self.layout is None:
            raise KeyError(reg_name)
        decl = self.layout._by_name[reg_name]  # the renderers' most frequent call: no method calls inside
        at = self.offset + decl.offset
        end = at + decl.width
        cfg = self.function.config
        if at < 0 or end > len(cfg):
            return None
        value = int.from_bytes(cfg[at:end], "little")
        if field_name is None:
            return value
        f = decl._by_name[field_name]
        return (value >> f.shift) & f.value_mask

    def registers(self) -> list[RegisterValue]:
        if self.layout is None:
            return []
        cfg = self.function.config
        size = len(cfg)
        base = self.offset
        from_bytes = int.from_bytes
        present: dict[Callable[[Any], bool], bool] = {}  # a condition shared by registers is asked once
        out = []
        for decl, rel, width, when in self.layout.plan:
            if when is not None:
                ok = present.get(when)
                if ok is None:
                    ok = present[when] = bool(when(self))
                if not ok:
                    continue
            at = base + rel
            end = at + width
            out.append(RegisterValue(decl, at, from_bytes(cfg[at:end], "little") if 0 <= at and end <= size else None))
        return out

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for rv in self.registers():
            entry: dict[str, Any] = {"offset": rv.offset, "value": rv.value}
            if rv.decl.fields and rv.value is not None:
                entry["fields"] = rv.fields()
            out[rv.name] = entry
        return out


class Capability(Block):
    """One entry of the standard or extended capability list."""

    def __init__(self, function: Function, offset: int, cap_id: int, next_ptr: int,
                 extended: bool, version: int = 0) -> None:
        table = regs.ecap_layouts() if extended else regs.cap_layouts()
        super().__init__(function, table.get(cap_id), offset)
        self.id = cap_id
        self.next = next_ptr
        self.extended = extended
        self.version = version

    @property
    def key(self) -> str:
        return self.layout.key if self.layout else f"{'ecap' if self.extended else 'cap'}_{self.id:04x}"

    @property
    def name(self) -> str:
        if self.layout:
            return self.layout.name
        return f"Extended capability ID {self.id:#06x}" if self.extended else f"Capability ID {self.id:#04x}"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"key": self.key, "name": self.name, "id": self.id, "offset": self.offset,
                             "extended": self.extended, "next": self.next}
        if self.extended:
            d["version"] = self.version
        d["registers"] = super().to_dict()
        return d

    def __repr__(self) -> str:
        width = 3 if self.extended else 2
        return f"<Capability [{self.offset:0{width}x}] {self.name} (id {self.id:#x})>"


class Function:
    """One PCI function of a source: config bytes, header, capabilities, BARs and kernel view.

    Views follow it: `observe(callback)` calls `callback(function, what)` after every change the kit makes
    to the device through any source or model verb ("write"), after `changed()` ("refresh": the device
    changed by itself, e.g. a live host or a running guest read again) and when its source is closed
    ("closed": nothing can be read any more)."""

    #: the observers' callbacks, made on first use (most functions of a big host have none)
    _observers: list[Any] | None = None
    _notifying = False

    def __init__(self, source: Source, address: Address) -> None:
        self.source = source
        self.address = address

    def refresh(self) -> None:
        """Forget what was read so the next access reads the source again (announces nothing)."""
        for name in ("config", "capabilities", "_problems", "_last_caps", "_first_caps", "kernel"):
            self.__dict__.pop(name, None)

    def observe(self, callback: Callable[[Function, str], None]) -> None:
        """Call `callback(function, what)` after each change; a bound method is held weakly, so a view
        nobody shows any more is not kept alive by the function it showed."""
        ref = weakref.WeakMethod(callback) if hasattr(callback, "__self__") else (lambda: callback)
        if self._observers is None:
            self._observers = []
        self._observers.append(ref)

    def unobserve(self, callback: Callable[[Function, str], None]) -> None:
        self._observers = [r for r in self._observers or () if r() not in (None, callback)]

    def changed(self, what: str = "refresh") -> None:
        """Forget what was read and tell every observer once.  An observer that changes the device while
        it is told is not told again about its own change (no loops)."""
        self.refresh()
        if not self._observers or self._notifying:
            return
        self._notifying = True
        try:
            for ref in list(self._observers):
                callback = ref()
                if callback is not None:
                    callback(self, what)
        finally:
            self._notifying = False
            self._observers = [r for r in self._observers if r() is not None]

    @cached_property
    def config(self) -> bytes:
        return self.source.read_config(self.address)

    def config_head(self, length: int) -> bytes:
        """The first `length` config bytes: a slice of `config` once that was read, else only those bytes."""
        cfg = self.__dict__.get("config")
        return cfg[:length] if cfg is not None else self.source.read_config_head(self.address, length)

    def where(self, offset: int | None = None) -> dict[str, Any]:
        """Keyword arguments that make an error name this function: its source's file (or spec), its
        address and, when given, the config offset."""
        return {"file": self.source.name, "device": str(self.address), "offset": offset}

    def read(self, offset: int, width: int) -> int | None:
        cfg = self.config
        if offset < 0 or offset + width > len(cfg):
            return None
        return int.from_bytes(cfg[offset : offset + width], "little")

    # -- identity -------------------------------------------------------------------------------
    @property
    def vendor_id(self) -> int:
        return self.read(0, 2) or 0

    @property
    def device_id(self) -> int:
        return self.read(2, 2) or 0

    @property
    def revision(self) -> int:
        return self.read(8, 1) or 0

    @property
    def class_code(self) -> int:
        """24-bit class code: base class, subclass, programming interface."""
        return self.read(9, 3) or 0

    @property
    def header_type(self) -> int:
        return (self.read(0x0E, 1) or 0) & 0x7F

    @property
    def header(self) -> Block:
        # made on each access (three fields): a large source keeps fewer objects for gc to walk
        return Block(self, regs.HEADERS.get(self.header_type), 0)

    # -- capabilities ---------------------------------------------------------------------------
    @cached_property
    def capabilities(self) -> list[Capability]:
        cfg = self.config
        unknown = header_problem(cfg)
        if unknown is not None:
            self.__dict__["_problems"] = [unknown]
            return []
        std, problems = walk_standard(cfg)
        caps = [Capability(self, f.offset, f.cap_id, f.next, False) for f in std]
        ext, ext_problems = walk_extended(cfg) if len(cfg) > 0x100 else ([], [])
        caps += [Capability(self, f.offset, f.cap_id, f.next, True, f.version) for f in ext]
        if problems or ext_problems:  # most functions have none, and then keep nothing for them
            self.__dict__["_problems"] = problems + ext_problems
        return caps

    @property
    def problems(self) -> list[Problem]:
        """What the capability walks found wrong (pointer loops, chains cut short, ...), or why there was
        nothing to walk (kind "no_answer": all 0xFF; "unknown_header")."""
        self.capabilities  # noqa: B018 - walking records them
        return list(self.__dict__.get("_problems", ()))

    @cached_property
    def _last_caps(self) -> dict[tuple[int, bool], Capability]:
        return {(c.id, c.extended): c for c in self.capabilities}

    def last_cap(self, cap_id: int, extended: bool = False) -> Capability | None:
        """The last capability with this id: the one lspci's look-ups by id find (e.g. Express for AER)."""
        return self._last_caps.get((cap_id, extended))

    @cached_property
    def _first_caps(self) -> dict[str, Capability]:
        first: dict[str, Capability] = {}
        for c in self.capabilities:
            first.setdefault(c.key, c)
        return first

    def cap(self, which: str | int, extended: bool | None = None) -> Capability | None:
        """First capability with this key ("msix", "exp", "aer") or id (extended=True for ecap ids)."""
        if isinstance(which, str):  # the checks and models ask by key a dozen times per function
            return self._first_caps.get(which)
        for c in self.capabilities:
            if c.id == which and (extended is None or c.extended == extended):
                return c
        return None

    # -- interrupts: models with verbs (pciexplore.msi, imported when first asked for) -----------
    @cached_property
    def _interrupt_models(self) -> dict[str, Any]:
        """The MSI and MSI-X models by kind ("msi", "msix"), kept on the function so each event log lasts as
        long as the function and no longer; refresh() keeps them."""
        return {}

    @property
    def msix(self) -> Any:
        """MSI-X model (`pciexplore.msi.Msix`: table, PBA, verbs), or None without the capability."""
        from .msi import msix_of

        return msix_of(self)

    @property
    def msi(self) -> Any:
        """MSI model (`pciexplore.msi.Msi`), or None without the capability."""
        from .msi import msi_of

        return msi_of(self)

    @property
    def virtio(self) -> Any:
        """virtio-pci transport model (`pciexplore.virtio.Virtio`: queues, vectors, verbs), or None."""
        from .virtio import virtio_of

        return virtio_of(self)

    # -- kernel and BARs ------------------------------------------------------------------------
    @cached_property
    def kernel(self) -> KernelInfo | None:
        return self.source.kernel_info(self.address)

    def write(self, offset: int, data: bytes) -> None:
        """Write config space through the source (which decides whether that is allowed); observers are told."""
        self.source.write_config(self.address, offset, data)
        self.refresh()  # also when this object is not one of its source's listed functions

    def set(self, name: str, value: int) -> tuple[int, int]:
        """Set a register or field by name ("PCI_COMMAND_MASTER", "PCI_EXP_DEVCTL_READRQ",
        "MSIX[3].VECTOR_CTRL"): a field's value is encoded into its bits and the rest of the register
        kept.  Returns the register's (old, new) value.  See pciexplore/locate.py."""
        from .locate import assign

        return assign(self, name, value)

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": str(self.address),
            "vendor_id": self.vendor_id,
            "device_id": self.device_id,
            "revision": self.revision,
            "class": self.class_code,
            "header_type": self.header_type,
            "config_length": len(self.config),
            "header": self.header.to_dict(),
            "capabilities": [c.to_dict() for c in self.capabilities],
            "problems": [{"offset": p.offset, "kind": p.kind, "message": p.message} for p in self.problems],
        }

    def __repr__(self) -> str:
        return (f"<Function {self.address} [{self.vendor_id:04x}:{self.device_id:04x}] class "
                f"{self.class_code:06x}, {len(self.capabilities)} capabilities>")

    def _repr_html_(self) -> str:
        import html  # only notebooks ask, and its entity table costs every command's start-up

        rows = "".join(
            f"<tr><td><code>{c.offset:#05x}</code></td><td>{html.escape(c.name)}</td>"
            f"<td><code>{c.id:#x}</code></td></tr>"
            for c in self.capabilities
        )
        return (f"<div><b>{html.escape(str(self.address))}</b> "
                f"<code>{self.vendor_id:04x}:{self.device_id:04x}</code> "
                f"class <code>{self.class_code:06x}</code>"
                f"<table><tr><th>offset</th><th>capability</th><th>id</th></tr>{rows}</table></div>")

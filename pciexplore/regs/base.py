"""The vocabulary of declarations: a Layout (header or capability) is a table of Registers, a
Register a table of Fields.  Names are Linux `pci_regs.h` names; `label` is lspci's word for it.

Everything that shows a register (lspci text, JSON, HTML, hex highlighting, widget tooltips, diff)
is derived from these declarations, so adding a capability means adding a declaration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

TYPE_CHECKING = False  # typing's constant without importing typing: every command's start-up pays for it
if TYPE_CHECKING:
    from typing import Any


class _Declaration:
    """Equality and repr over the attributes in `_compared`, like the dataclasses these were: plain classes
    because every command imports the declarations, and dataclasses' import (inspect, ast, dis) cost each
    command's start-up more than the rest of it.  Declarations are never changed once made."""

    __slots__ = ()
    _compared: tuple[str, ...] = ()

    def _key(self) -> tuple:
        return tuple(getattr(self, name) for name in self._compared)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._key() == other._key()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{n}={getattr(self, n)!r}' for n in self._compared)})"


class Field(_Declaration):
    _compared = ("name", "lo", "hi", "label", "values", "doc", "in_place")
    __slots__ = (*_compared, "low_mask", "shift", "value_mask", "flag_words")

    def __init__(self, name: str, lo: int, hi: int, label: str = "", values: Mapping[int, str] | None = None,
                 doc: str = "", in_place: bool = False) -> None:
        self.name = name  # e.g. PCI_EXP_DEVCTL_CERE
        self.lo = lo  # lowest bit
        self.hi = hi  # highest bit, inclusive
        self.label = label  # lspci's word, e.g. "CorrErr"
        self.values = values  # meaning of each value, where the spec names them
        self.doc = doc
        #: the value is the register's bits where they stand, not shifted down: pci_regs.h declares such fields
        #: as masks of a byte offset or address (PCI_MSIX_TABLE_OFFSET = 0xfffffff8: offset = reg & mask)
        self.in_place = in_place
        #: (1 << width) - 1, computed once: extract() runs for every field of every decoded register
        self.low_mask = (1 << (hi - lo + 1)) - 1
        #: value = (reg >> shift) & value_mask: lo and low_mask, or 0 and mask for an in-place field
        self.shift = 0 if in_place else lo
        self.value_mask = self.low_mask << lo if in_place else self.low_mask
        #: lspci's FLAG() words for this field, ("Label-", "Label+"), indexed by "is any bit set"
        self.flag_words = (label + "-", label + "+")

    @property
    def width(self) -> int:
        return self.hi - self.lo + 1

    @property
    def mask(self) -> int:
        return self.low_mask << self.lo

    def extract(self, reg: int) -> int:
        return (reg >> self.shift) & self.value_mask

    def encode(self, value: int) -> int:
        """The register bits that hold `value` in this field (the inverse of extract)."""
        return (value << self.shift) & self.mask

    def meaning(self, raw: int) -> str | None:
        if self.values is not None:
            return self.values.get(raw)
        return None

    @property
    def is_flag(self) -> bool:
        return self.lo == self.hi and self.values is None


def bit(name: str, n: int, label: str = "", doc: str = "") -> Field:
    return Field(name, n, n, label, None, doc)


def bits(
    name: str, lo: int, hi: int, label: str = "", values: Mapping[int, str] | None = None, doc: str = "",
    in_place: bool = False,
) -> Field:
    return Field(name, lo, hi, label, values, doc, in_place)


class Register(_Declaration):
    _compared = ("name", "offset", "width", "fields", "label", "doc", "when")
    __slots__ = (*_compared, "_by_name", "extractors", "labeled_flags", "_runs")

    def __init__(self, name: str, offset: int, width: int, fields: tuple[Field, ...] = (), label: str = "",
                 doc: str = "", when: Callable[[Any], bool] | None = None) -> None:
        self.name = name  # e.g. PCI_EXP_DEVCTL
        self.offset = offset  # from the start of the layout
        self.width = width  # bytes: 1, 2, 4 or 8
        self.fields = fields
        self.label = label  # lspci's word, e.g. "DevCtl"
        self.doc = doc
        #: present only when this returns true for the decoded block (e.g. MSI 64-bit address high)
        self.when = when
        self._by_name: dict[str, Field] = {f.name: f for f in fields} if fields else {}
        #: (name, shift, value_mask) of every field, for decoding a value without attribute look-ups
        self.extractors = tuple([(f.name, f.shift, f.value_mask) for f in fields]) if fields else ()
        #: the one-bit fields lspci shows as "Label+/-" (those with a label), in declaration order
        self.labeled_flags = tuple([f for f in fields if f.is_flag and f.label]) if fields else ()
        #: field tuples already looked up by `fields_named`, keyed by the names asked for
        self._runs: dict[tuple[str, ...], tuple[Field, ...]] = {}

    def field(self, name: str) -> Field:
        return self._by_name[name]

    def fields_named(self, names: tuple[str, ...]) -> tuple[Field, ...]:
        """The fields with these names, in that order (looked up once per tuple of names)."""
        run = self._runs.get(names)
        if run is None:
            run = self._runs[names] = tuple(self._by_name[n] for n in names)
        return run


def reg(
    name: str, offset: int, width: int, *fields: Field, label: str = "", doc: str = "",
    when: Callable[[Any], bool] | None = None,
) -> Register:
    return Register(name, offset, width, tuple(fields), label, doc, when)


class Layout(_Declaration):
    """A declared structure: a config header, a capability or an extended capability."""

    _compared = ("key", "name", "cap_id", "extended", "registers", "doc")
    __slots__ = (*_compared, "_by_name", "plan")

    def __init__(self, key: str, name: str, cap_id: int | None, extended: bool, registers: tuple[Register, ...],
                 doc: str = "") -> None:
        self.key = key  # short stable name used in JSON and the API: "msix", "exp", "aer", ...
        self.name = name  # what people call it: "MSI-X", "Express", "Advanced Error Reporting"
        self.cap_id = cap_id  # PCI_CAP_ID_* or PCI_EXT_CAP_ID_*, None for headers
        self.extended = extended
        self.registers = registers
        self.doc = doc
        self._by_name: dict[str, Register] = {r.name: r for r in registers}
        #: (register, offset, width, when) of every register, for decoding a block without attribute look-ups
        self.plan = tuple((r, r.offset, r.width, r.when) for r in registers)

    def register(self, name: str) -> Register:
        return self._by_name[name]

    @property
    def length(self) -> int:
        """Bytes spanned by the declared registers (for highlighting)."""
        return max((r.offset + r.width for r in self.registers), default=0)


def layout(
    key: str, name: str, cap_id: int | None, *registers: Register, extended: bool = False, doc: str = ""
) -> Layout:
    return Layout(key, name, cap_id, extended, tuple(registers), doc)

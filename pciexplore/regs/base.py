"""The vocabulary of declarations: a Layout (header or capability) is a table of Registers, a
Register a table of Fields.  Names are Linux `pci_regs.h` names; `label` is lspci's word for it.

Everything that shows a register (lspci text, JSON, HTML, hex highlighting, widget tooltips, diff)
is derived from these declarations, so adding a capability means adding a declaration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

TYPE_CHECKING = False  # typing's constant without importing typing: every command's start-up pays for it
if TYPE_CHECKING:
    from typing import Any


@dataclass(frozen=True, slots=True)
class Field:
    name: str  # e.g. PCI_EXP_DEVCTL_CERE
    lo: int  # lowest bit
    hi: int  # highest bit, inclusive
    label: str = ""  # lspci's word, e.g. "CorrErr"
    values: Mapping[int, str] | None = None  # meaning of each value, where the spec names them
    doc: str = ""
    #: the value is the register's bits where they stand, not shifted down: pci_regs.h declares such fields
    #: as masks of a byte offset or address (PCI_MSIX_TABLE_OFFSET = 0xfffffff8: offset = reg & mask)
    in_place: bool = False
    #: (1 << width) - 1, computed once: extract() runs for every field of every decoded register
    low_mask: int = field(init=False, repr=False, compare=False)
    #: value = (reg >> shift) & value_mask: lo and low_mask, or 0 and mask for an in-place field
    shift: int = field(init=False, repr=False, compare=False)
    value_mask: int = field(init=False, repr=False, compare=False)
    #: lspci's FLAG() words for this field, ("Label-", "Label+"), indexed by "is any bit set"
    flag_words: tuple[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "low_mask", (1 << (self.hi - self.lo + 1)) - 1)
        object.__setattr__(self, "shift", 0 if self.in_place else self.lo)
        object.__setattr__(self, "value_mask", self.low_mask << self.lo if self.in_place else self.low_mask)
        object.__setattr__(self, "flag_words", (self.label + "-", self.label + "+"))

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


@dataclass(frozen=True, slots=True)
class Register:
    name: str  # e.g. PCI_EXP_DEVCTL
    offset: int  # from the start of the layout
    width: int  # bytes: 1, 2, 4 or 8
    fields: tuple[Field, ...] = ()
    label: str = ""  # lspci's word, e.g. "DevCtl"
    doc: str = ""
    #: present only when this returns true for the decoded block (e.g. MSI 64-bit address high)
    when: Callable[[Any], bool] | None = None
    _by_name: dict[str, Field] = field(default_factory=dict, compare=False, repr=False)
    #: (name, shift, value_mask) of every field, for decoding a value without attribute look-ups
    extractors: tuple[tuple[str, int, int], ...] = field(init=False, compare=False, repr=False)
    #: the one-bit fields lspci shows as "Label+/-" (those with a label), in declaration order
    labeled_flags: tuple[Field, ...] = field(init=False, compare=False, repr=False)
    #: field tuples already looked up by `fields_named`, keyed by the names asked for
    _runs: dict[tuple[str, ...], tuple[Field, ...]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({f.name: f for f in self.fields})
        object.__setattr__(self, "extractors", tuple((f.name, f.shift, f.value_mask) for f in self.fields))
        object.__setattr__(self, "labeled_flags", tuple(f for f in self.fields if f.is_flag and f.label))

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


@dataclass(frozen=True, slots=True)
class Layout:
    """A declared structure: a config header, a capability or an extended capability."""

    key: str  # short stable name used in JSON and the API: "msix", "exp", "aer", ...
    name: str  # what people call it: "MSI-X", "Express", "Advanced Error Reporting"
    cap_id: int | None  # PCI_CAP_ID_* or PCI_EXT_CAP_ID_*, None for headers
    extended: bool
    registers: tuple[Register, ...]
    doc: str = ""
    _by_name: dict[str, Register] = field(default_factory=dict, compare=False, repr=False)
    #: (register, offset, width, when) of every register, for decoding a block without attribute look-ups
    plan: tuple[tuple[Register, int, int, Callable[[Any], bool] | None], ...] = field(
        init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({r.name: r for r in self.registers})
        object.__setattr__(self, "plan", tuple((r, r.offset, r.width, r.when) for r in self.registers))

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

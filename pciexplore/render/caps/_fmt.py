"""Small helpers the capability renderers share: lspci's `Label+`/`Label-` flags, taken from the
declarations so each field's word is written once (in regs/caps/)."""

from __future__ import annotations

from collections.abc import Iterable

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module

if TYPE_CHECKING:
    from ...model import RegisterValue
    from ...regs.base import Field


def flag(rv: RegisterValue, name: str) -> str:
    """lspci's FLAG(): the field's label, then '+' when any of its bits is set, else '-'."""
    f = rv.decl._by_name[name]  # Register.field() without the call: this runs for every flag printed
    return f.flag_words[(rv.value or 0) >> f.lo & f.low_mask != 0]


def flags(rv: RegisterValue, *names: str, sep: str = " ") -> str:
    """Several flags of one register, in the order given."""
    value = rv.value or 0
    return sep.join([f.flag_words[value >> f.lo & f.low_mask != 0] for f in rv.decl.fields_named(names)])


def flag_words(value: int, fields: Iterable[Field]) -> list[str]:
    """lspci's FLAG() word of each field for a register value (an unreadable register: pass 0)."""
    return [f.flag_words[value >> f.lo & f.low_mask != 0] for f in fields]


def meaning(rv: RegisterValue, name: str) -> str:
    """The declared meaning of a field's value (the field must declare every value it can take)."""
    f = rv.decl._by_name[name]
    v = rv.value
    return f.values[None if v is None else v >> f.lo & f.low_mask]  # type: ignore[index]

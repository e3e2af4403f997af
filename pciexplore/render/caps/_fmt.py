"""Small helpers the capability renderers share: lspci's `Label+`/`Label-` flags, taken from the
declarations so each field's word is written once (in regs/caps/)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...model import RegisterValue


def flag(rv: RegisterValue, name: str) -> str:
    """lspci's FLAG(): the field's label, then '+' when any of its bits is set, else '-'."""
    return rv.decl.field(name).label + ("+" if rv[name] else "-")


def flags(rv: RegisterValue, *names: str, sep: str = " ") -> str:
    """Several flags of one register, in the order given."""
    return sep.join(flag(rv, n) for n in names)


def meaning(rv: RegisterValue, name: str) -> str:
    """The declared meaning of a field's value (the field must declare every value it can take)."""
    f = rv.decl.field(name)
    return f.values[rv[name]]  # type: ignore[index]

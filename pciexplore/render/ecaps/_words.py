"""Helpers the extended-capability renderers share: register values and lspci's "Label+ Label-" runs,
both taken from the declarations in `regs/ecaps`.

Renderers check `ctx.have()` before reading, as lspci checks config_fetch(); a register read after
that check is always present, so `value()` returns 0 only for bytes lspci would not print either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..caps._fmt import flag

if TYPE_CHECKING:
    from ...model import Block
    from ...regs.base import Field, Register


def value(block: Block, reg_name: str) -> int:
    """The register's value (0 when the source does not have its bytes)."""
    v = block.get(reg_name)
    return 0 if v is None else v


def field(block: Block, reg_name: str, field_name: str) -> int:
    """One declared field of a register."""
    decl = _register(block, reg_name)
    return decl.field(field_name).extract(value(block, reg_name))


def flag_fields(block: Block, reg_name: str) -> list[Field]:
    """The one-bit fields lspci shows (those with a label), in declaration order."""
    return [f for f in _register(block, reg_name).fields if f.is_flag and f.label]


def flags(block: Block, reg_name: str, names: Sequence[str] | None = None, *, sep: str = " ",
          start: int = 0, stop: int | None = None, colon: bool = False) -> str:
    """lspci's run of flags for a register: "DLP- SDES+ ...".

    `names` picks fields (in that order) instead of every labeled flag; `start`/`stop` slice the run;
    `colon` writes "Requester:+" as the PTM lines do.
    """
    rv = block[reg_name]
    chosen = list(names) if names is not None else [f.name for f in flag_fields(block, reg_name)]
    words = [flag(rv, n) for n in chosen[start:stop]]
    return sep.join(f"{w[:-1]}:{w[-1]}" if colon else w for w in words)


def _register(block: Block, reg_name: str) -> Register:
    if block.layout is None:
        raise KeyError(reg_name)
    return block.layout.register(reg_name)

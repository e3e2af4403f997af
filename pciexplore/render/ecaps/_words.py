"""Helpers the extended-capability renderers share: register values and lspci's "Label+ Label-" runs,
both taken from the declarations in `regs/ecaps`.

Renderers check `ctx.have()` before reading, as lspci checks config_fetch(); a register read after
that check is always present, so `value()` returns 0 only for bytes lspci would not print either.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..caps._fmt import flag_words

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module

if TYPE_CHECKING:
    from ...model import Block
    from ...regs.base import Field, Register


def value(block: Block, reg_name: str) -> int:
    """The register's value (0 when the source does not have its bytes)."""
    return block.get(reg_name) or 0


def field(block: Block, reg_name: str, field_name: str) -> int:
    """One declared field of a register."""
    return block.get(reg_name, field_name) or 0


def flag_fields(block: Block, reg_name: str) -> tuple[Field, ...]:
    """The one-bit fields lspci shows (those with a label), in declaration order."""
    return _register(block, reg_name).labeled_flags


def flags(block: Block, reg_name: str, names: Sequence[str] | None = None, *, sep: str = " ",
          start: int = 0, stop: int | None = None, colon: bool = False) -> str:
    """lspci's run of flags for a register: "DLP- SDES+ ...".

    `names` picks fields (in that order) instead of every labeled flag; `start`/`stop` slice the run;
    `colon` writes "Requester:+" as the PTM lines do.
    """
    decl = _register(block, reg_name)
    chosen = decl.labeled_flags if names is None else decl.fields_named(tuple(names))
    words = flag_words(block.get(reg_name) or 0, chosen[start:stop])
    return sep.join([f"{w[:-1]}:{w[-1]}" for w in words] if colon else words)


def _register(block: Block, reg_name: str) -> Register:
    if block.layout is None:
        raise KeyError(reg_name)
    return block.layout.register(reg_name)

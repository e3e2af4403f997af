"""Extended capability declarations, one module per capability (or family)."""

from __future__ import annotations

from ..caps.express import PCI_CAP_ID_EXP

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module
if TYPE_CHECKING:
    from typing import Any


def express_of(block: Any) -> Any | None:
    """The Express capability that governs a block's function: the last one, as lspci takes it."""
    return block.function.last_cap(PCI_CAP_ID_EXP)

"""lspci text for the Device Serial Number."""

from __future__ import annotations

from ...regs.ecaps.dsn import PCI_EXT_CAP_ID_DSN
from ._words import value

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module

if TYPE_CHECKING:
    from ...model import Capability
    from ..lspci import Ctx


def dsn(ctx: Ctx, cap: Capability) -> None:
    # lspci prints nothing at all (not even the newline) when the 8 bytes are missing
    if not ctx.have(cap.offset + 4, 8):
        return
    serial = value(cap, "PCI_DSN_HIGH") << 32 | value(cap, "PCI_DSN_LOW")
    ctx.p("Device Serial Number " + "-".join(f"{b:02x}" for b in serial.to_bytes(8, "big")) + "\n")


RENDERERS = {PCI_EXT_CAP_ID_DSN: dsn}

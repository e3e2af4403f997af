"""lspci text for Secondary PCI Express (the other link and physical layer capabilities are only named
by lspci 3.9, see named.py, or shown as unknown ids)."""

from __future__ import annotations

from ...regs.ecaps.phy import PCI_EXT_CAP_ID_SECPCI
from ._words import flags, value

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module

if TYPE_CHECKING:
    from ...model import Capability
    from ..lspci import Ctx


def secpci(ctx: Ctx, cap: Capability) -> None:
    ctx.p("Secondary PCI Express\n")
    if ctx.verbose < 2 or not ctx.have(cap.offset + 4, 12):
        return
    ctx.p(f"\t\tLnkCtl3: {flags(cap, 'PCI_EXP_LNKCTL3', ('PCI_EXP_LNKCTL3_LINK_EQU_REQ_INT_EN', 'PCI_EXP_LNKCTL3_PERFORM_LINK_EQU'))}\n")
    lanes = value(cap, "PCI_EXP_LANE_ERR_STA") & 0xFFFF  # lspci reads only the low 16 lanes
    if lanes:
        ctx.p("\t\tLaneErrStat: LaneErr at lane:" + "".join(f" {n}" for n in range(16) if lanes >> n & 1) + "\n")
    else:
        ctx.p("\t\tLaneErrStat: 0\n")


RENDERERS = {PCI_EXT_CAP_ID_SECPCI: secpci}

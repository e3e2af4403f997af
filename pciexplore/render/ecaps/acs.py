"""lspci text for Access Control Services and Alternative Routing-ID Interpretation."""

from __future__ import annotations

from ...regs.ecaps.acs import PCI_EXT_CAP_ID_ACS
from ...regs.ecaps.ari import PCI_EXT_CAP_ID_ARI
from ._words import field, flags

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module

if TYPE_CHECKING:
    from ...model import Capability
    from ..lspci import Ctx


def acs(ctx: Ctx, cap: Capability) -> None:
    ctx.p("Access Control Services\n")
    if ctx.verbose < 2 or not ctx.have(cap.offset + 4, 4):
        return
    ctx.p(f"\t\tACSCap:\t{flags(cap, 'PCI_ACS_CAP')}\n")
    ctx.p(f"\t\tACSCtl:\t{flags(cap, 'PCI_ACS_CTRL')}\n")


def ari(ctx: Ctx, cap: Capability) -> None:
    ctx.p("Alternative Routing-ID Interpretation (ARI)\n")
    if ctx.verbose < 2 or not ctx.have(cap.offset + 4, 4):
        return
    ctx.p(f"\t\tARICap:\t{flags(cap, 'PCI_ARI_CAP')}, Next Function: {field(cap, 'PCI_ARI_CAP', 'PCI_ARI_CAP_NFN')}\n")
    ctx.p(f"\t\tARICtl:\t{flags(cap, 'PCI_ARI_CTRL')}, Function Group: {field(cap, 'PCI_ARI_CTRL', 'PCI_ARI_CTRL_FG')}\n")


RENDERERS = {PCI_EXT_CAP_ID_ACS: acs, PCI_EXT_CAP_ID_ARI: ari}

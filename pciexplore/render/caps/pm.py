"""lspci text for Power Management (ls-caps.c cap_pm)."""

from __future__ import annotations

from ._fmt import flag, flags, meaning

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module

if TYPE_CHECKING:
    from ...model import Capability
    from ..lspci import Ctx

_PME_FROM = ("PCI_PM_CAP_PME_D0", "PCI_PM_CAP_PME_D1", "PCI_PM_CAP_PME_D2", "PCI_PM_CAP_PME_D3hot",
             "PCI_PM_CAP_PME_D3cold")


def cap_pm(ctx: Ctx, cap: Capability) -> None:
    pmc = cap["PCI_PM_PMC"]
    ctx.p(f"Power Management version {pmc['PCI_PM_CAP_VER_MASK']}\n")
    if ctx.verbose < 2:
        return
    ctx.p(f"\t\tFlags: {flags(pmc, 'PCI_PM_CAP_PME_CLOCK', 'PCI_PM_CAP_DSI', 'PCI_PM_CAP_D1', 'PCI_PM_CAP_D2')} "
          f"AuxCurrent={meaning(pmc, 'PCI_PM_CAP_AUX_POWER')}mA PME({flags(pmc, *_PME_FROM, sep=',')})\n")
    if not ctx.have(cap.offset + 4, 4):
        return
    ctrl = cap["PCI_PM_CTRL"]
    ctx.p(f"\t\tStatus: D{ctrl['PCI_PM_CTRL_STATE_MASK']} "
          f"{flags(ctrl, 'PCI_PM_CTRL_NO_SOFT_RESET', 'PCI_PM_CTRL_PME_ENABLE')} "
          f"DSel={ctrl['PCI_PM_CTRL_DATA_SEL_MASK']} DScale={ctrl['PCI_PM_CTRL_DATA_SCALE_MASK']} "
          f"{flag(ctrl, 'PCI_PM_CTRL_PME_STATUS')}\n")
    ppb = cap["PCI_PM_PPB_EXTENSIONS"]
    if ppb.value:
        # B2_B3 set means the bus goes to B2, so lspci shows "B3-"
        ctx.p(f"\t\tBridge: {flag(ppb, 'PCI_PM_BPCC_ENABLE')} B3{'-' if ppb['PCI_PM_PPB_B2_B3'] else '+'}\n")


RENDERERS = {0x01: cap_pm}

"""lspci text for L1 PM Substates and Precision Time Measurement."""

from __future__ import annotations

from ...regs.ecaps.l1pm import PCI_EXT_CAP_ID_L1SS
from ...regs.ecaps.ptm import PCI_EXT_CAP_ID_PTM
from ._words import field, flags, value
from .tph import ltr_scale

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module

if TYPE_CHECKING:
    from ...model import Capability
    from ..lspci import Ctx

_POWER_ON_UNITS = {0: 2, 1: 10, 2: 100}  # T_POWER_ON scale -> microseconds per unit


def _power_on(scale: int, val: int) -> str:
    return f"{_POWER_ON_UNITS[scale] * val}us" if scale in _POWER_ON_UNITS else "<error>"


def l1pm(ctx: Ctx, cap: Capability) -> None:
    ctx.p("L1 PM Substates\n")
    if ctx.verbose < 2:
        return
    if not ctx.have(cap.offset + 4, 12):
        ctx.p("\t\t<unreadable>\n")
        return
    c, c1, c2 = "PCI_L1SS_CAP", "PCI_L1SS_CTL1", "PCI_L1SS_CTL2"
    ctx.p(f"\t\tL1SubCap: {flags(cap, c)}\n")
    l12 = bool(value(cap, c) & 0b101)  # PCI-PM or ASPM L1.2 supported: the timing fields matter
    if l12:
        ctx.p(f"\t\t\t  PortCommonModeRestoreTime={field(cap, c, 'PCI_L1SS_CAP_CM_RESTORE_TIME')}us "
              f"PortTPowerOnTime={_power_on(field(cap, c, 'PCI_L1SS_CAP_P_PWR_ON_SCALE'), field(cap, c, 'PCI_L1SS_CAP_P_PWR_ON_VALUE'))}\n")
    ctx.p(f"\t\tL1SubCtl1: {flags(cap, c1)}\n")
    if l12:
        ctx.p(f"\t\t\t   T_CommonMode={field(cap, c1, 'PCI_L1SS_CTL1_CM_RESTORE_TIME')}us")
        if field(cap, c, "PCI_L1SS_CAP_ASPM_L1_2"):
            scale = field(cap, c1, "PCI_L1SS_CTL1_LTR_L12_TH_SCALE")
            ns = field(cap, c1, "PCI_L1SS_CTL1_LTR_L12_TH_VALUE") * ltr_scale(scale)
            ctx.p(f" LTR1.2_Threshold={ns}ns" if scale <= 5 else " LTR1.2_Threshold=<error>")
        ctx.p("\n")
    ctx.p("\t\tL1SubCtl2:")
    if l12:
        ctx.p(f" T_PwrOn={_power_on(field(cap, c2, 'PCI_L1SS_CTL2_T_PWR_ON_SCALE'), field(cap, c2, 'PCI_L1SS_CTL2_T_PWR_ON_VALUE'))}")
    ctx.p("\n")


def _granularity(ns: int, zero: str) -> str:
    return zero if ns == 0 else "Greater than 254ns" if ns == 0xFF else f"{ns}ns"


def ptm(ctx: Ctx, cap: Capability) -> None:
    ctx.p("Precision Time Measurement\n")
    if ctx.verbose < 2:
        return
    if not ctx.have(cap.offset + 4, 8):
        ctx.p("\t\t<unreadable>\n")
        return
    ctx.p(f"\t\tPTMCap: {flags(cap, 'PCI_PTM_CAP', colon=True)}\n")
    ctx.p(f"\t\tPTMClockGranularity: {_granularity(field(cap, 'PCI_PTM_CAP', 'PCI_PTM_GRANULARITY_MASK'), 'Unimplemented')}\n")
    ctx.p(f"\t\tPTMControl: {flags(cap, 'PCI_PTM_CTRL', colon=True)}\n")
    ctx.p(f"\t\tPTMEffectiveGranularity: {_granularity(field(cap, 'PCI_PTM_CTRL', 'PCI_PTM_CTRL_GRANULARITY'), 'Unknown')}\n")


RENDERERS = {PCI_EXT_CAP_ID_L1SS: l1pm, PCI_EXT_CAP_ID_PTM: ptm}

"""lspci text for Downstream Port Containment."""

from __future__ import annotations

from ...regs.ecaps.dpc import PCI_EXT_CAP_ID_DPC
from ._words import field, flags, value

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module

if TYPE_CHECKING:
    from ...model import Capability
    from ..lspci import Ctx


def dpc(ctx: Ctx, cap: Capability) -> None:
    ctx.p("Downstream Port Containment\n")
    if ctx.verbose < 2 or not ctx.have(cap.offset + 4, 8):
        return
    c = "PCI_EXP_DPC_CAP"
    ctx.p(f"\t\tDpcCap:\tINT Msg #{field(cap, c, 'PCI_EXP_DPC_IRQ')}, "
          f"{flags(cap, c, ('PCI_EXP_DPC_CAP_RP_EXT', 'PCI_EXP_DPC_CAP_POISONED_TLP', 'PCI_EXP_DPC_CAP_SW_TRIGGER'))}"
          f" RP PIO Log {field(cap, c, 'PCI_EXP_DPC_RP_PIO_LOG_SIZE')}, "
          f"{flags(cap, c, ('PCI_EXP_DPC_CAP_DL_ACTIVE',))}\n")
    c = "PCI_EXP_DPC_CTL"
    ctx.p(f"\t\tDpcCtl:\tTrigger:{field(cap, c, 'PCI_EXP_DPC_CTL_TRIGGER'):x} {flags(cap, c)}\n")
    s = "PCI_EXP_DPC_STATUS"
    ctx.p(f"\t\tDpcSta:\t{flags(cap, s, ('PCI_EXP_DPC_STATUS_TRIGGER',))} "
          f"Reason:{field(cap, s, 'PCI_EXP_DPC_STATUS_TRIGGER_RSN'):02x} "
          f"{flags(cap, s, ('PCI_EXP_DPC_STATUS_INTERRUPT', 'PCI_EXP_DPC_RP_BUSY'))} "
          f"TriggerExt:{field(cap, s, 'PCI_EXP_DPC_STATUS_TRIGGER_RSN_EXT'):02x} "
          f"RP PIO ErrPtr:{field(cap, s, 'PCI_EXP_DPC_RP_PIO_FEP'):02x}\n")
    ctx.p(f"\t\tSource:\t{value(cap, 'PCI_EXP_DPC_SOURCE_ID'):04x}\n")


RENDERERS = {PCI_EXT_CAP_ID_DPC: dpc}

"""lspci text for Data Object Exchange."""

from __future__ import annotations

from ...regs.ecaps.doe import PCI_EXT_CAP_ID_DOE
from ._words import field, flags, value

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module

if TYPE_CHECKING:
    from ...model import Capability
    from ..lspci import Ctx

_LSPCI_ERROR_MASK = 0x3  # lspci 3.9 tests these bits for "Error" (the spec's bit is 2)


def doe(ctx: Ctx, cap: Capability) -> None:
    ctx.p("Data Object Exchange\n")
    if ctx.verbose < 2:
        return
    if not ctx.have(cap.offset + 4, 0x14):
        ctx.p("\t\t<unreadable>\n")
        return
    ctx.p(f"\t\tDOECap: {flags(cap, 'PCI_DOE_CAP')}\n")
    if field(cap, "PCI_DOE_CAP", "PCI_DOE_CAP_INT_SUP"):
        ctx.p(f"\t\t\tInterrupt Message Number {field(cap, 'PCI_DOE_CAP', 'PCI_DOE_CAP_INT_MSG_NUM'):03x}\n")
    ctx.p(f"\t\tDOECtl: {flags(cap, 'PCI_DOE_CTRL')}\n")
    s = "PCI_DOE_STATUS"
    error = "+" if value(cap, s) & _LSPCI_ERROR_MASK else "-"
    ctx.p(f"\t\tDOESta: {flags(cap, s, ('PCI_DOE_STATUS_BUSY', 'PCI_DOE_STATUS_INT_STATUS'))} Error{error} "
          f"{flags(cap, s, ('PCI_DOE_STATUS_DATA_OBJECT_READY',))}\n")


RENDERERS = {PCI_EXT_CAP_ID_DOE: doe}

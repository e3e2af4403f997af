"""lspci text for ATS, PRI and PASID."""

from __future__ import annotations

from ...regs.ecaps.ats import PCI_EXT_CAP_ID_ATS, PCI_EXT_CAP_ID_PASID, PCI_EXT_CAP_ID_PRI
from ._words import field, flags, value

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module

if TYPE_CHECKING:
    from ...model import Capability
    from ..lspci import Ctx


def ats(ctx: Ctx, cap: Capability) -> None:
    ctx.p("Address Translation Service (ATS)\n")
    if ctx.verbose < 2 or not ctx.have(cap.offset + 4, 4):
        return
    ctx.p(f"\t\tATSCap:\tInvalidate Queue Depth: {field(cap, 'PCI_ATS_CAP', 'PCI_ATS_CAP_QDEP'):02x}\n")
    ctx.p(f"\t\tATSCtl:\t{flags(cap, 'PCI_ATS_CTRL')}, "
          f"Smallest Translation Unit: {field(cap, 'PCI_ATS_CTRL', 'PCI_ATS_CTRL_STU'):02x}\n")


def pri(ctx: Ctx, cap: Capability) -> None:
    ctx.p("Page Request Interface (PRI)\n")
    if ctx.verbose < 2 or not ctx.have(cap.offset + 4, 0x0C):
        return
    ctx.p(f"\t\tPRICtl: {flags(cap, 'PCI_PRI_CTRL')}\n")
    ctx.p(f"\t\tPRISta: {flags(cap, 'PCI_PRI_STATUS')}\n")
    ctx.p(f"\t\tPage Request Capacity: {value(cap, 'PCI_PRI_MAX_REQ'):08x}, "
          f"Page Request Allocation: {value(cap, 'PCI_PRI_ALLOC_REQ'):08x}\n")


def pasid(ctx: Ctx, cap: Capability) -> None:
    ctx.p("Process Address Space ID (PASID)\n")
    if ctx.verbose < 2 or not ctx.have(cap.offset + 4, 4):
        return
    ctx.p(f"\t\tPASIDCap: {flags(cap, 'PCI_PASID_CAP')}, "
          f"Max PASID Width: {field(cap, 'PCI_PASID_CAP', 'PCI_PASID_CAP_WIDTH'):02x}\n")
    ctx.p(f"\t\tPASIDCtl: {flags(cap, 'PCI_PASID_CTRL')}\n")


RENDERERS = {PCI_EXT_CAP_ID_ATS: ats, PCI_EXT_CAP_ID_PRI: pri, PCI_EXT_CAP_ID_PASID: pasid}

"""lspci text for TPH Requester and Latency Tolerance Reporting."""

from __future__ import annotations

from ...regs.ecaps.ltr import PCI_EXT_CAP_ID_LTR
from ...regs.ecaps.tph import PCI_EXT_CAP_ID_TPH, ST_LOCATIONS
from ._words import field, flag_fields, value

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module

if TYPE_CHECKING:
    from ...model import Capability
    from ..lspci import Ctx


def tph(ctx: Ctx, cap: Capability) -> None:
    ctx.p("Transaction Processing Hints\n")
    if ctx.verbose < 2 or not ctx.have(cap.offset + 4, 4):
        return
    v = value(cap, "PCI_TPH_CAP")
    for f in flag_fields(cap, "PCI_TPH_CAP"):  # each supported mode is a sentence of its own
        if v & f.mask:
            ctx.p(f"\t\t{f.label}\n")
    ctx.p(f"\t\t{ST_LOCATIONS[field(cap, 'PCI_TPH_CAP', 'PCI_TPH_CAP_LOC_MASK')]}\n")


def ltr_scale(scale: int) -> int:
    """32^scale as lspci computes it (a 32-bit shift: scale 7 wraps, as on x86)."""
    return (1 << (scale * 5 & 31)) & 0xFFFFFFFF


def ltr(ctx: Ctx, cap: Capability) -> None:
    ctx.p("Latency Tolerance Reporting\n")
    if ctx.verbose < 2 or not ctx.have(cap.offset + 4, 4):
        return
    for label, name in (("Max snoop latency", "PCI_LTR_MAX_SNOOP_LAT"), ("Max no snoop latency", "PCI_LTR_MAX_NOSNOOP_LAT")):
        ns = field(cap, name, "PCI_LTR_VALUE_MASK") * ltr_scale(field(cap, name, "PCI_LTR_SCALE_MASK"))
        ctx.p(f"\t\t{label}: {ns}ns\n")


RENDERERS = {PCI_EXT_CAP_ID_TPH: tph, PCI_EXT_CAP_ID_LTR: ltr}

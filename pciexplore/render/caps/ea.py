"""lspci text for Enhanced Allocation (ls-caps.c cap_ea)."""

from __future__ import annotations

from ...model import Block
from ...regs.caps.ea import EA_ENTRY, PCI_EA_FIRST_ENT, PCI_EA_FIRST_ENT_BRIDGE, is_bridge
from ._fmt import flags, meaning

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module

if TYPE_CHECKING:
    from ...model import Capability
    from ..lspci import Ctx


def _property(entry: Block, name: str) -> str:
    rv = entry["PCI_EA_ENTRY_HEADER"]
    value = rv[name]
    known = rv.decl.field(name).meaning(value)
    return known if known is not None else f"[{value:02x}]"


def _upper(ctx: Ctx, at: int) -> str:
    """An upper DWORD as lspci prints it (%x, no padding); bytes the source lacks read as 0."""
    return f"{ctx.u32(at) if ctx.have(at, 4) else 0:x}"


def cap_ea(ctx: Ctx, cap: Capability) -> None:
    count = cap.get("PCI_EA_NUM_ENT", "PCI_EA_NUM_ENT_MASK") or 0
    ctx.p(f"Enhanced Allocation (EA): NumEntries={count}")
    at = cap.offset + PCI_EA_FIRST_ENT
    if is_bridge(cap):
        at = cap.offset + PCI_EA_FIRST_ENT_BRIDGE
        if not ctx.have(cap.offset + 4, 2):
            ctx.p("\n")
            return
        ctx.p(f", secondary={cap.get('PCI_EA_SEC_BUS')}, subordinate={cap.get('PCI_EA_SUB_BUS')}")
    ctx.p("\n")
    if ctx.verbose < 2:
        return
    for n in range(count):
        if not ctx.have(at, 4):
            return
        entry = Block(ctx.fn, EA_ENTRY, at)
        head = entry["PCI_EA_ENTRY_HEADER"]
        size = head["PCI_EA_ES"] or 0
        if not ctx.have(at + 4, size * 4):
            return
        ctx.p(f"\t\tEntry {n}: {flags(head, 'PCI_EA_ENABLE', 'PCI_EA_WRITABLE')} EntrySize={size}\n")
        ctx.p(f"\t\t\t BAR Equivalent Indicator: {meaning(head, 'PCI_EA_BEI')}\n")
        ctx.p(f"\t\t\t PrimaryProperties: {_property(entry, 'PCI_EA_PP')}\n")
        ctx.p(f"\t\t\t SecondaryProperties: {_property(entry, 'PCI_EA_SP')}\n")
        base = entry["PCI_EA_BASE"]
        limit = entry["PCI_EA_MAX_OFFSET"]
        upper_at = at + 12
        ctx.p("\t\t\t Base: ")
        if base["PCI_EA_IS_64"]:
            ctx.p(_upper(ctx, upper_at))
            upper_at += 4
        ctx.p(f"{(base.value or 0) & base.decl.field('PCI_EA_FIELD_MASK').mask:08x}\n")
        ctx.p("\t\t\t MaxOffset: ")
        if limit["PCI_EA_IS_64"]:
            ctx.p(_upper(ctx, upper_at))
        ctx.p(f"{(limit.value or 0) | 3:08x}\n")
        at += 4 + 4 * size


RENDERERS = {0x14: cap_ea}

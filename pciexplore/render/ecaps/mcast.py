"""lspci text for Multicast; which registers show depends on the Express port type."""

from __future__ import annotations

from ...regs.caps.express import (
    PCI_EXP_TYPE_DOWNSTREAM,
    PCI_EXP_TYPE_ENDPOINT,
    PCI_EXP_TYPE_RC_END,
    PCI_EXP_TYPE_ROOT_PORT,
    PCI_EXP_TYPE_UPSTREAM,
)
from ...regs.ecaps.mcast import PCI_EXT_CAP_ID_MCAST
from ._words import field, flags, value

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module

if TYPE_CHECKING:
    from ...model import Capability
    from ..lspci import Ctx


def _c_int_shift(n: int) -> int:
    """1 << n as lspci computes it: a 32-bit int shift on x86 (count taken mod 32, result signed)."""
    v = (1 << (n & 31)) & 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def mcast(ctx: Ctx, cap: Capability) -> None:
    ctx.p("Multicast\n")
    if ctx.verbose < 2 or not ctx.have(cap.offset + 4, 0x30):
        return
    kind = ctx.state.get("exp_type", -1)
    endpoint = kind in (PCI_EXP_TYPE_ENDPOINT, PCI_EXP_TYPE_RC_END)
    c = "PCI_MCAST_CAP"
    ctx.p(f"\t\tMcastCap: MaxGroups {field(cap, c, 'PCI_MCAST_CAP_MAX_GROUP') + 1}")
    if endpoint:
        size = field(cap, c, "PCI_MCAST_CAP_WIN_SIZE")
        ctx.p(f", WindowSz {size} ({_c_int_shift(size)} bytes)")
    # lspci ends this line only for switch and root ports; other types run on into McastCtl
    if kind in (PCI_EXP_TYPE_ROOT_PORT, PCI_EXP_TYPE_UPSTREAM, PCI_EXP_TYPE_DOWNSTREAM):
        ctx.p(f", {flags(cap, c)}\n")
    ctx.p(f"\t\tMcastCtl: NumGroups {field(cap, 'PCI_MCAST_CTRL', 'PCI_MCAST_CTRL_NUM_GROUP') + 1}, "
          f"{flags(cap, 'PCI_MCAST_CTRL')}\n")
    bar = value(cap, "PCI_MCAST_BAR")
    ctx.p(f"\t\tMcastBAR: IndexPos {field(cap, 'PCI_MCAST_BAR', 'PCI_MCAST_BAR_INDEX_POS')}, "
          f"BaseAddr {bar & ~0xFFF:016x}\n")
    ctx.p(f"\t\tMcastReceiveVec:      {value(cap, 'PCI_MCAST_RCV'):016x}\n")
    ctx.p(f"\t\tMcastBlockAllVec:     {value(cap, 'PCI_MCAST_BLOCK'):016x}\n")
    ctx.p(f"\t\tMcastBlockUntransVec: {value(cap, 'PCI_MCAST_BLOCK_UNTRANS'):016x}\n")
    if endpoint:
        return
    ovl = value(cap, "PCI_MCAST_OVL_BAR")
    size = field(cap, "PCI_MCAST_OVL_BAR", "PCI_MCAST_OVL_SIZE")
    shown = f"({_c_int_shift(size)} bytes)" if size >= 6 else "(disabled)"
    ctx.p(f"\t\tMcastOverlayBAR: OverlaySize {size} {shown}, BaseAddr {ovl & ~0x3F:016x}\n")


RENDERERS = {PCI_EXT_CAP_ID_MCAST: mcast}

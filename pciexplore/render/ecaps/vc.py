"""lspci text for Virtual Channel (both ids); MFVC is only named (see named.py)."""

from __future__ import annotations

from ...model import Block
from ...regs.ecaps.vc import (
    PCI_CAP_VC_PER_VC_SIZEOF,
    PCI_EXT_CAP_ID_VC,
    PCI_EXT_CAP_ID_VC9,
    PCI_VC_RES_CAP,
    PORT_ARB,
    REF_CLOCKS,
    VC_ARB,
    VC_RESOURCE,
)
from ._words import field, flags, value

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module

if TYPE_CHECKING:
    from ...model import Capability
    from ..lspci import Ctx


def _table(names: dict[int, str], n: int) -> str:
    return names.get(n, f"??{n}")


def _arbitration(names: dict[int, str], caps: int) -> str:
    """Known schemes always, unknown ones ("??6") only when their capability bit is set."""
    shown = [f"{_table(names, i)}{'+' if caps >> i & 1 else '-'}" for i in range(8) if i in names or caps >> i & 1]
    return "\t" + " ".join(shown) if shown else ""


def vc(ctx: Ctx, cap: Capability) -> None:
    ctx.p("Virtual Channel\n")
    if ctx.verbose < 2 or not ctx.have(cap.offset + 4, 0x18):
        return
    c1 = "PCI_VC_PORT_CAP1"
    evc = field(cap, c1, "PCI_VC_CAP1_EVCC")
    ctx.p(f"\t\tCaps:\tLPEVC={field(cap, c1, 'PCI_VC_CAP1_LPEVCC')} "
          f"RefClk={_table(REF_CLOCKS, field(cap, c1, 'PCI_VC_CAP1_REFCLK'))} "
          f"PATEntryBits={1 << field(cap, c1, 'PCI_VC_CAP1_ARB_SIZE')}\n")
    ctx.p(f"\t\tArb:{_arbitration(VC_ARB, value(cap, 'PCI_VC_PORT_CAP2') & 0xFF)}\n")
    ctx.p(f"\t\tCtrl:\tArbSelect={_table(VC_ARB, field(cap, 'PCI_VC_PORT_CTRL', 'PCI_VC_PORT_CTRL_ARB_SELECT'))}\n")
    ctx.p(f"\t\tStatus:\t{flags(cap, 'PCI_VC_PORT_STATUS')}\n")
    table = field(cap, "PCI_VC_PORT_CAP2", "PCI_VC_CAP2_ARB_OFF")
    if table:
        ctx.p(f"\t\tPort Arbitration Table [{cap.offset + 16 * table:x}] <?>\n")
    for n in range(evc + 1):
        res = Block(cap.function, VC_RESOURCE, cap.offset + PCI_VC_RES_CAP + PCI_CAP_VC_PER_VC_SIZEOF * n)
        ctx.p(f"\t\tVC{n}:\t")
        if not ctx.have(res.offset, PCI_CAP_VC_PER_VC_SIZEOF):
            ctx.p("<unreadable>\n")
            continue
        rc, rt = "PCI_VC_RES_CAP", "PCI_VC_RES_CTRL"
        pat = field(res, rc, "PCI_VC_RES_CAP_ARB_OFF")
        ctx.p(f"Caps:\tPATOffset={pat:02x} MaxTimeSlots={field(res, rc, 'PCI_VC_RES_CAP_MAX_TIME_SLOTS') + 1} "
              f"{flags(res, rc, ('PCI_VC_RES_CAP_REJ_SNOOP',))}\n")
        ctx.p(f"\t\t\tArb:{_arbitration(PORT_ARB, value(res, rc) & 0xFF)}\n")
        ctx.p(f"\t\t\tCtrl:\t{flags(res, rt, ('PCI_VC_RES_CTRL_ENABLE',))} ID={field(res, rt, 'PCI_VC_RES_CTRL_ID')} "
              f"ArbSelect={_table(PORT_ARB, field(res, rt, 'PCI_VC_RES_CTRL_ARB_SELECT'))} "
              f"TC/VC={field(res, rt, 'PCI_VC_RES_CTRL_TC_VC'):02x}\n")
        ctx.p(f"\t\t\tStatus:\t{flags(res, 'PCI_VC_RES_STATUS', ('PCI_VC_RES_STATUS_NEGO', 'PCI_VC_RES_STATUS_TABLE'))}\n")
        if pat:
            ctx.p("\t\t\tPort Arbitration Table <?>\n")


RENDERERS = {PCI_EXT_CAP_ID_VC: vc, PCI_EXT_CAP_ID_VC9: vc}

"""lspci text for the small capabilities (ls-caps.c): Null, Slot ID, CompactPCI hot-swap and central
resource control, debug port, hot-plug, bridge subsystem ID, secure device, SATA HBA, Advanced
Features."""

from __future__ import annotations

from collections.abc import Callable

from ._fmt import flag, flags

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module

if TYPE_CHECKING:
    from ...model import Capability
    from ..lspci import Ctx


def _name_only(text: str) -> Callable[[Ctx, Capability], None]:
    """A renderer for capabilities lspci names without decoding anything."""

    def render(ctx: Ctx, cap: Capability) -> None:
        ctx.p(text + "\n")
    return render


def cap_slotid(ctx: Ctx, cap: Capability) -> None:
    esr = cap["PCI_SID_ESR"]
    ctx.p(f"Slot ID: {esr['PCI_SID_ESR_NSLOTS']} slots, {flag(esr, 'PCI_SID_ESR_FIC')}, "
          f"chassis {cap.get('PCI_SID_CHASSIS_NR'):02x}\n")


def cap_dbg(ctx: Ctx, cap: Capability) -> None:
    port = cap["PCI_DBG_PORT"]
    ctx.p(f"Debug port: BAR={port['PCI_DBG_PORT_BAR']} offset={port['PCI_DBG_PORT_OFFSET']:04x}\n")


def cap_ssvid(ctx: Ctx, cap: Capability) -> None:
    if not ctx.have(cap.offset, 8):
        return  # lspci prints nothing more, not even the newline
    from ...names import default

    fn = ctx.fn
    text = default().subsystem_text(fn.vendor_id, fn.device_id, cap.get("PCI_SSVID_VENDOR_ID"),
                                    cap.get("PCI_SSVID_DEVICE_ID"), ctx.opts.numeric)
    ctx.p(f"Subsystem: {text}\n")


def cap_sata(ctx: Ctx, cap: Capability) -> None:
    rev = cap["PCI_SATA_REVISION"]
    ctx.p(f"SATA HBA v{rev['PCI_SATA_REVISION_MAJOR']}.{rev['PCI_SATA_REVISION_MINOR']}")
    if ctx.verbose < 2 or not ctx.have(cap.offset + 4, 4):
        ctx.p("\n")
        return
    regs = cap["PCI_SATA_REGS"]
    where = regs["PCI_SATA_REGS_MASK"] or 0
    if 4 <= where <= 9:
        ctx.p(f" BAR{where - 4} Offset={regs['PCI_SATA_REGS_OFFSET']:08x}\n")
    elif where == 15:
        ctx.p(" InCfgSpace\n")
    else:
        ctx.p(f" BAR??{where}\n")


def cap_af(ctx: Ctx, cap: Capability) -> None:
    ctx.p("PCI Advanced Features\n")
    if ctx.verbose < 2 or not ctx.have(cap.offset + 3, 3):
        return
    ctx.p(f"\t\tAFCap: {flags(cap['PCI_AF_CAP'], 'PCI_AF_CAP_TP', 'PCI_AF_CAP_FLR')}\n")
    ctx.p(f"\t\tAFCtrl: {flag(cap['PCI_AF_CTRL'], 'PCI_AF_CTRL_FLR')}\n")
    ctx.p(f"\t\tAFStatus: {flag(cap['PCI_AF_STATUS'], 'PCI_AF_STATUS_TP')}\n")


RENDERERS = {
    0x00: _name_only("Null"),
    0x04: cap_slotid,
    0x06: _name_only("CompactPCI hot-swap <?>"),
    0x0A: cap_dbg,
    0x0B: _name_only("CompactPCI central resource control <?>"),
    0x0C: _name_only("Hot-plug capable"),
    0x0D: cap_ssvid,
    0x0F: _name_only("Secure device <?>"),
    0x12: cap_sata,
    0x13: cap_af,
}

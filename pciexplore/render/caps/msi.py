"""lspci text for MSI (ls-caps.c cap_msi)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...regs.caps.msi import is_64bit, is_maskable
from ._fmt import flag

if TYPE_CHECKING:
    from ...model import Capability
    from ..lspci import Ctx


def cap_msi(ctx: Ctx, cap: Capability) -> None:
    fl = cap["PCI_MSI_FLAGS"]
    ctx.p(f"MSI: {flag(fl, 'PCI_MSI_FLAGS_ENABLE')} "
          f"Count={1 << (fl['PCI_MSI_FLAGS_QSIZE'] or 0)}/{1 << (fl['PCI_MSI_FLAGS_QMASK'] or 0)} "
          f"{flag(fl, 'PCI_MSI_FLAGS_MASKBIT')} {flag(fl, 'PCI_MSI_FLAGS_64BIT')}\n")
    if ctx.verbose < 2:
        return
    wide = is_64bit(cap)
    data_reg = "PCI_MSI_DATA_64" if wide else "PCI_MSI_DATA_32"
    data_at = cap.layout.register(data_reg).offset  # type: ignore[union-attr]
    if not ctx.have(cap.offset + 4, data_at + 2 - 4):
        return
    high = f"{cap.get('PCI_MSI_ADDRESS_HI'):08x}" if wide else ""
    ctx.p(f"\t\tAddress: {high}{cap.get('PCI_MSI_ADDRESS_LO'):08x}  Data: {cap.get(data_reg):04x}\n")
    if is_maskable(cap):
        mask, pending = ("PCI_MSI_MASK_64", "PCI_MSI_PENDING_64") if wide else ("PCI_MSI_MASK_32",
                                                                                 "PCI_MSI_PENDING_32")
        # mask and pending are fetched together, as lspci does
        if not ctx.have(cap.offset + cap.layout.register(mask).offset, 8):  # type: ignore[union-attr]
            return
        ctx.p(f"\t\tMasking: {cap.get(mask):08x}  Pending: {cap.get(pending):08x}\n")


RENDERERS = {0x05: cap_msi}

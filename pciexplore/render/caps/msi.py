"""lspci text for MSI (ls-caps.c cap_msi)."""

from __future__ import annotations

from ._fmt import flag

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module

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
    # the registers this MSI shape has (32/64-bit address, with/without masking: Register.when)
    regs = {rv.name: rv for rv in cap.registers()}
    data = regs.get("PCI_MSI_DATA_64") or regs["PCI_MSI_DATA_32"]
    if not ctx.have(cap.offset + 4, data.offset + data.decl.width - cap.offset - 4):
        return
    high = regs.get("PCI_MSI_ADDRESS_HI")
    ctx.p(f"\t\tAddress: {'' if high is None else f'{high.value:08x}'}{regs['PCI_MSI_ADDRESS_LO'].value:08x}"
          f"  Data: {data.value:04x}\n")
    mask = regs.get("PCI_MSI_MASK_64") or regs.get("PCI_MSI_MASK_32")
    pending = regs.get("PCI_MSI_PENDING_64") or regs.get("PCI_MSI_PENDING_32")
    if mask is None or pending is None or not ctx.have(mask.offset, 8):  # both fetched at once, as lspci does
        return
    ctx.p(f"\t\tMasking: {mask.value:08x}  Pending: {pending.value:08x}\n")


RENDERERS = {0x05: cap_msi}

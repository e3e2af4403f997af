"""lspci text for SR-IOV, VF BARs included (MR-IOV is only named, see named.py)."""

from __future__ import annotations

from ...regs.ecaps.iov import PCI_EXT_CAP_ID_SRIOV, PCI_SRIOV_BAR, PCI_SRIOV_NUM_BARS
from ._words import field, flags, value

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module

if TYPE_CHECKING:
    from ...model import Capability
    from ..lspci import Ctx

PCI_BASE_ADDRESS_MEM_TYPE_64 = 2  # value of the 2-bit type field


def sriov(ctx: Ctx, cap: Capability) -> None:
    ctx.p("Single Root I/O Virtualization (SR-IOV)\n")
    if ctx.verbose < 2 or not ctx.have(cap.offset + 4, 0x3C):
        return
    ctx.p(f"\t\tIOVCap:\t{flags(cap, 'PCI_SRIOV_CAP')} "
          f"Interrupt Message Number: {field(cap, 'PCI_SRIOV_CAP', 'PCI_SRIOV_CAP_INTR'):03x}\n")
    ctx.p(f"\t\tIOVCtl:\t{flags(cap, 'PCI_SRIOV_CTRL')}\n")
    ctx.p(f"\t\tIOVSta:\t{flags(cap, 'PCI_SRIOV_STATUS')}\n")
    ctx.p(f"\t\tInitial VFs: {value(cap, 'PCI_SRIOV_INITIAL_VF')}, Total VFs: {value(cap, 'PCI_SRIOV_TOTAL_VF')}, "
          f"Number of VFs: {value(cap, 'PCI_SRIOV_NUM_VF')}, "
          f"Function Dependency Link: {value(cap, 'PCI_SRIOV_FUNC_LINK'):02x}\n")
    ctx.p(f"\t\tVF offset: {value(cap, 'PCI_SRIOV_VF_OFFSET')}, stride: {value(cap, 'PCI_SRIOV_VF_STRIDE')}, "
          f"Device ID: {value(cap, 'PCI_SRIOV_VF_DID'):04x}\n")
    ctx.p(f"\t\tSupported Page Size: {value(cap, 'PCI_SRIOV_SUP_PGSIZE'):08x}, "
          f"System Page Size: {value(cap, 'PCI_SRIOV_SYS_PGSIZE'):08x}\n")
    n = 0
    while n < PCI_SRIOV_NUM_BARS:
        bar = f"PCI_SRIOV_BAR{n}"
        raw = value(cap, bar)
        if raw in (0, 0xFFFFFFFF):
            n += 1
            continue
        ctx.p(f"\t\tRegion {n}: Memory at ")
        kind = field(cap, bar, "PCI_BASE_ADDRESS_MEM_TYPE_MASK")
        if kind == PCI_BASE_ADDRESS_MEM_TYPE_64:
            # the high half is the next BAR (after VF BAR5 that is the migration state register)
            n += 1
            ctx.p(f"{cap.read(PCI_SRIOV_BAR + 4 * n, 4) or 0:08x}")
        # lspci calls every type but 32-bit "64-bit" (the reserved below-1M type included)
        ctx.p(f"{raw & ~0xF & 0xFFFFFFFF:08x} ({'32' if kind == 0 else '64'}-bit, "
              f"{'' if field(cap, bar, 'PCI_BASE_ADDRESS_MEM_PREFETCH') else 'non-'}prefetchable)\n")
        n += 1
    ctx.p(f"\t\tVF Migration: offset: {value(cap, 'PCI_SRIOV_VFM') & ~7 & 0xFFFFFFFF:08x}, "
          f"BIR: {field(cap, 'PCI_SRIOV_VFM', 'PCI_SRIOV_VFM_BIR'):x}\n")


RENDERERS = {PCI_EXT_CAP_ID_SRIOV: sriov}

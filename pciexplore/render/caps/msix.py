"""lspci text for MSI-X (ls-caps.c cap_msix)."""

from __future__ import annotations

from ._fmt import flag

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module

if TYPE_CHECKING:
    from ...model import Capability
    from ..lspci import Ctx


def cap_msix(ctx: Ctx, cap: Capability) -> None:
    fl = cap["PCI_MSIX_FLAGS"]
    ctx.p(f"MSI-X: {flag(fl, 'PCI_MSIX_FLAGS_ENABLE')} Count={(fl['PCI_MSIX_FLAGS_QSIZE'] or 0) + 1} "
          f"{flag(fl, 'PCI_MSIX_FLAGS_MASKALL')}\n")
    if ctx.verbose < 2 or not ctx.have(cap.offset + 4, 8):
        return
    for name in ("PCI_MSIX_TABLE", "PCI_MSIX_PBA"):
        rv = cap[name]
        offset = rv.value & rv.decl.field(f"{name}_OFFSET").mask  # type: ignore[operator]
        ctx.p(f"\t\t{rv.decl.label}: BAR={rv[f'{name}_BIR']} offset={offset:08x}\n")


RENDERERS = {0x11: cap_msix}

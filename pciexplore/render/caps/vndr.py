"""lspci text for vendor-specific capabilities (ls-caps-vendor.c): virtio's structure pointers on
virtio devices, "Len=xx <?>" for everything else."""

from __future__ import annotations

from ...regs.caps.vndr import is_virtio

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module

if TYPE_CHECKING:
    from ...model import Capability
    from ..lspci import Ctx

_LSPCI_VIRTIO_TYPES = (1, 2, 3, 4)  # the structure types lspci 3.9 names; others are "<unknown>"
_NOTIFY = 2


def _virtio(ctx: Ctx, cap: Capability) -> bool:
    length = cap.get("VIRTIO_PCI_CAP_LEN") or 0
    if length < 16 or not ctx.have(cap.offset, length):
        return False
    kind = cap["VIRTIO_PCI_CAP_CFG_TYPE"]
    name = kind.decl.fields[0].meaning(kind.value) if kind.value in _LSPCI_VIRTIO_TYPES else "<unknown>"
    ctx.p(f"VirtIO: {name}\n")
    if ctx.verbose < 2:
        return True
    ctx.p(f"\t\tBAR={cap.get('VIRTIO_PCI_CAP_BAR')} offset={cap.get('VIRTIO_PCI_CAP_OFFSET'):08x} "
          f"size={cap.get('VIRTIO_PCI_CAP_LENGTH'):08x}")
    if kind.value == _NOTIFY and length >= 20:
        ctx.p(f" multiplier={cap.get('VIRTIO_PCI_NOTIFY_CAP_MULT'):08x}")
    ctx.p("\n")
    return True


def cap_vndr(ctx: Ctx, cap: Capability) -> None:
    ctx.p("Vendor Specific Information: ")
    if is_virtio(cap) and _virtio(ctx, cap):
        return
    ctx.p(f"Len={cap.get('VIRTIO_PCI_CAP_LEN'):02x} <?>\n")


RENDERERS = {0x09: cap_vndr}

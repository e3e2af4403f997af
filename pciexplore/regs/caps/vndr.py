"""Vendor-specific capability (PCI_CAP_ID_VNDR, PCI 3.0 §6.7): a length byte, then the vendor's data.

The one vendor format lspci 3.9 decodes is virtio's (virtio 1.x §4.1.4, Linux `virtio_pci.h`), on
Red Hat/virtio devices 1af4:1000-107f; its registers carry `when=is_virtio`.
"""

from __future__ import annotations

from ..base import Layout, bits, layout, reg

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module
if TYPE_CHECKING:
    from typing import Any

PCI_CAP_ID_VNDR = 0x09
VIRTIO_VENDOR = 0x1AF4
VIRTIO_DEVICES = range(0x1000, 0x1080)

#: virtio structure types (VIRTIO_PCI_CAP_*_CFG), lspci's words
VIRTIO_CFG_TYPES = {1: "CommonCfg", 2: "Notify", 3: "ISR", 4: "DeviceCfg", 5: "PCICfg", 8: "SharedMemory",
                    9: "Vendor"}


def is_virtio(block: Any) -> bool:
    """Is this a virtio device, whose vendor capabilities are virtio structure pointers?"""
    fn = block.function
    return fn.vendor_id == VIRTIO_VENDOR and fn.device_id in VIRTIO_DEVICES


def is_virtio_notify(block: Any) -> bool:
    return is_virtio(block) and block.get("VIRTIO_PCI_CAP_CFG_TYPE") == 2


def is_virtio_pci_cfg(block: Any) -> bool:
    return is_virtio(block) and block.get("VIRTIO_PCI_CAP_CFG_TYPE") == 5


def is_virtio_cap64(block: Any) -> bool:
    """struct virtio_pci_cap64 (shared memory regions): offset and length have high DWORDs."""
    return is_virtio(block) and block.get("VIRTIO_PCI_CAP_CFG_TYPE") == 8


VNDR = layout(
    "vndr", "Vendor Specific Information", PCI_CAP_ID_VNDR,
    reg("VIRTIO_PCI_CAP_LEN", 0x02, 1, label="Len",
        doc="Capability length in bytes, header included (pci_regs.h has no name for it)"),
    reg("VIRTIO_PCI_CAP_CFG_TYPE", 0x03, 1, bits("VIRTIO_PCI_CAP_CFG_TYPE", 0, 7, "VirtIO", VIRTIO_CFG_TYPES),
        label="VirtIO", when=is_virtio, doc="Which virtio structure this capability points to"),
    reg("VIRTIO_PCI_CAP_BAR", 0x04, 1, label="BAR", when=is_virtio, doc="BAR holding the structure"),
    reg("VIRTIO_PCI_CAP_ID", 0x05, 1, label="id", when=is_virtio,
        doc="Tells apart several structures of one type (shared memory regions)"),
    reg("VIRTIO_PCI_CAP_OFFSET", 0x08, 4, label="offset", when=is_virtio, doc="Offset of the structure in the BAR"),
    reg("VIRTIO_PCI_CAP_LENGTH", 0x0C, 4, label="size", when=is_virtio, doc="Length of the structure"),
    reg("VIRTIO_PCI_NOTIFY_CAP_MULT", 0x10, 4, label="multiplier", when=is_virtio_notify,
        doc="Queue notify address = offset + queue_notify_off * multiplier"),
    reg("VIRTIO_PCI_CFG_DATA", 0x10, 4, label="pci_cfg_data", when=is_virtio_pci_cfg,
        doc="PCI_CFG access window: BAR, offset and length set above, then the data moves through here "
            "(virtio 1.2 §4.1.4.9); writing the window's registers is a write to the device"),
    reg("VIRTIO_PCI_CAP_OFFSET_HI", 0x10, 4, label="offset_hi", when=is_virtio_cap64),
    reg("VIRTIO_PCI_CAP_LENGTH_HI", 0x14, 4, label="length_hi", when=is_virtio_cap64),
)

LAYOUTS: list[Layout] = [VNDR]

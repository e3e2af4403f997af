"""Bridge subsystem vendor/device ID (PCI_CAP_ID_SSVID, PCI-to-PCI Bridge 1.2 §3.2.5.13)."""

from __future__ import annotations

from ..base import Layout, layout, reg

PCI_CAP_ID_SSVID = 0x0D

SSVID = layout(
    "ssvid", "Bridge subsystem ID", PCI_CAP_ID_SSVID,
    reg("PCI_SSVID_VENDOR_ID", 0x04, 2, label="Subsystem vendor"),
    reg("PCI_SSVID_DEVICE_ID", 0x06, 2, label="Subsystem"),
    doc="Type 1 headers have no subsystem ID fields; bridges that need one carry this capability.",
)

LAYOUTS: list[Layout] = [SSVID]

"""Alternative Routing-ID Interpretation (PCI_EXT_CAP_ID_ARI, PCIe 6.0 §7.8.7): up to 256 functions
per device, linked by Next Function Number."""

from __future__ import annotations

from ..base import Layout, bit, bits, layout, reg

PCI_EXT_CAP_ID_ARI = 0x0E

ARI = layout(
    "ari", "Alternative Routing-ID Interpretation", PCI_EXT_CAP_ID_ARI,
    reg("PCI_ARI_CAP", 0x04, 2,
        bit("PCI_ARI_CAP_MFVC", 0, "MFVC", "MFVC Function Groups Capability"),
        bit("PCI_ARI_CAP_ACS", 1, "ACS", "ACS Function Groups Capability"),
        bits("PCI_ARI_CAP_NFN", 8, 15, "Next Function", None, "Next Function Number in the device"),
        label="ARICap"),
    reg("PCI_ARI_CTRL", 0x06, 2,
        bit("PCI_ARI_CTRL_MFVC", 0, "MFVC", "MFVC Function Groups Enable"),
        bit("PCI_ARI_CTRL_ACS", 1, "ACS", "ACS Function Groups Enable"),
        bits("PCI_ARI_CTRL_FG", 4, 6, "Function Group", None, "Function Group this function belongs to"),
        label="ARICtl"),
    extended=True,
)

LAYOUTS: list[Layout] = [ARI]

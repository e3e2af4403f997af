"""PCI Advanced Features (PCI_CAP_ID_AF, ECN "Advanced Capabilities for Conventional PCI"): FLR for
conventional PCI functions."""

from __future__ import annotations

from ..base import Layout, bit, layout, reg

PCI_CAP_ID_AF = 0x13

AF = layout(
    "af", "PCI Advanced Features", PCI_CAP_ID_AF,
    reg("PCI_AF_LENGTH", 0x02, 1, label="Length", doc="Capability length (6)"),
    reg("PCI_AF_CAP", 0x03, 1,
        bit("PCI_AF_CAP_TP", 0, "TP", "Transactions Pending bit supported"),
        bit("PCI_AF_CAP_FLR", 1, "FLR", "Function Level Reset supported"),
        label="AFCap"),
    reg("PCI_AF_CTRL", 0x04, 1, bit("PCI_AF_CTRL_FLR", 0, "FLR", "Initiate Function Level Reset"),
        label="AFCtrl"),
    reg("PCI_AF_STATUS", 0x05, 1, bit("PCI_AF_STATUS_TP", 0, "TP", "Transactions pending"), label="AFStatus"),
)

LAYOUTS: list[Layout] = [AF]

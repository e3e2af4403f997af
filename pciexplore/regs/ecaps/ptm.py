"""Precision Time Measurement (PCI_EXT_CAP_ID_PTM, PCIe 6.0 §7.9.15)."""

from __future__ import annotations

from ..base import Layout, bit, bits, layout, reg

PCI_EXT_CAP_ID_PTM = 0x1F

PTM = layout(
    "ptm", "Precision Time Measurement", PCI_EXT_CAP_ID_PTM,
    reg("PCI_PTM_CAP", 0x04, 4,
        bit("PCI_PTM_CAP_REQ", 0, "Requester", "PTM Requester Capable"),
        bit("PCI_PTM_CAP_RES", 1, "Responder", "PTM Responder Capable"),
        bit("PCI_PTM_CAP_ROOT", 2, "Root", "PTM Root Capable"),
        bits("PCI_PTM_GRANULARITY_MASK", 8, 15, "PTMClockGranularity", None,
             "Local Clock Granularity in ns (0: not implemented, 255: more than 254)"),
        label="PTMCap"),
    reg("PCI_PTM_CTRL", 0x08, 4,
        bit("PCI_PTM_CTRL_ENABLE", 0, "Enabled", "PTM Enable"),
        bit("PCI_PTM_CTRL_ROOT", 1, "RootSelected", "Root Select"),
        bits("PCI_PTM_CTRL_GRANULARITY", 8, 15, "PTMEffectiveGranularity", None, "Effective Granularity in ns"),
        label="PTMControl"),
    extended=True,
)

LAYOUTS: list[Layout] = [PTM]

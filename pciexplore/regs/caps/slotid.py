"""Slot Identification (PCI_CAP_ID_SLOTID, PCI-to-PCI Bridge 1.2 §13.1): bridges to expansion chassis."""

from __future__ import annotations

from ..base import Layout, bit, bits, layout, reg

PCI_CAP_ID_SLOTID = 0x04

SLOTID = layout(
    "slotid", "Slot ID", PCI_CAP_ID_SLOTID,
    reg("PCI_SID_ESR", 0x02, 1,
        bits("PCI_SID_ESR_NSLOTS", 0, 4, "slots", None, "Number of expansion slots behind the bridge"),
        bit("PCI_SID_ESR_FIC", 5, "First", "First in chassis"),
        label="Expansion Slot"),
    reg("PCI_SID_CHASSIS_NR", 0x03, 1, label="chassis", doc="Chassis number"),
)

LAYOUTS: list[Layout] = [SLOTID]

"""TPH Requester (PCI_EXT_CAP_ID_TPH, PCIe 6.0 §7.9.13): steering tags for cache placement hints."""

from __future__ import annotations

from ..base import Layout, bit, bits, layout, reg

PCI_EXT_CAP_ID_TPH = 0x17

ST_LOCATIONS = {0: "No steering table available", 1: "Steering table in TPH capability structure",
                2: "Steering table in MSI-X table", 3: "Reserved steering table location"}

TPH = layout(
    "tph", "Transaction Processing Hints", PCI_EXT_CAP_ID_TPH,
    reg("PCI_TPH_CAP", 0x04, 4,
        bit("PCI_TPH_CAP_NO_ST", 0, "", "No ST Mode Supported"),
        bit("PCI_TPH_CAP_INT_VEC", 1, "Interrupt vector mode supported", "Interrupt Vector Mode Supported"),
        bit("PCI_TPH_CAP_DEV_SPEC", 2, "Device specific mode supported", "Device Specific Mode Supported"),
        bit("PCI_TPH_CAP_EXT_TPH", 8, "Extended requester support", "Extended TPH Requester Supported"),
        bits("PCI_TPH_CAP_LOC_MASK", 9, 10, "", ST_LOCATIONS, "ST Table Location"),
        bits("PCI_TPH_CAP_ST_MASK", 16, 26, "", None, "ST Table Size minus one"),
        label="TPH Requester Capability"),
    reg("PCI_TPH_CTRL", 0x08, 4,
        bits("PCI_TPH_CTRL_MODE_SEL", 0, 2, "", {0: "No ST", 1: "Interrupt Vector", 2: "Device Specific"},
             "ST Mode Select"),
        bits("PCI_TPH_CTRL_REQ_EN", 8, 9, "", {0: "disabled", 1: "TPH only", 3: "TPH and Extended TPH"},
             "TPH Requester Enable"),
        label="TPH Requester Control"),
    extended=True,
)

LAYOUTS: list[Layout] = [TPH]

"""Power Budgeting (PCI_EXT_CAP_ID_PWR, PCIe 6.0 §7.8.1) and Dynamic Power Allocation (DPA, §7.8.12).

lspci 3.9 names both and decodes neither.
"""

from __future__ import annotations

from ..base import Layout, bit, bits, layout, reg

PCI_EXT_CAP_ID_PWR = 0x04
PCI_EXT_CAP_ID_DPA = 0x16

PWR = layout(
    "pb", "Power Budgeting", PCI_EXT_CAP_ID_PWR,
    reg("PCI_PWR_DSR", 0x04, 1, label="Data Select", doc="Selects which power budget entry PCI_PWR_DATA shows"),
    reg("PCI_PWR_DATA", 0x08, 4,
        bits("PCI_PWR_DATA_BASE", 0, 7, "Base Power", None, "Base Power (watts, before scaling)"),
        bits("PCI_PWR_DATA_SCALE", 8, 9, "Data Scale", {0: "x1.0", 1: "x0.1", 2: "x0.01", 3: "x0.001"}),
        bits("PCI_PWR_DATA_PM_SUB", 10, 12, "PM Sub State"),
        bits("PCI_PWR_DATA_PM_STATE", 13, 14, "PM State", {0: "D0", 1: "D1", 2: "D2", 3: "D3"}),
        bits("PCI_PWR_DATA_TYPE", 15, 17, "Type", {0: "PME Aux", 1: "Auxiliary", 2: "Idle", 3: "Sustained",
                                                    4: "Sustained (EPRS)", 5: "Maximum (EPRS)", 7: "Maximum"}),
        bits("PCI_PWR_DATA_RAIL", 18, 20, "Power Rail", {0: "12V", 1: "3.3V", 2: "1.5V or 1.8V", 7: "Thermal"}),
        label="Data"),
    reg("PCI_PWR_CAP", 0x0C, 1,
        bit("PCI_PWR_CAP_BUDGET", 0, "System Allocated", "Power already included in the system budget"),
        label="Capability"),
    extended=True,
    doc="Power the function draws in each state, one entry at a time through the data select register.",
)

DPA = layout(
    "dpa", "Dynamic Power Allocation", PCI_EXT_CAP_ID_DPA,
    reg("PCI_DPA_CAP", 0x04, 4,
        bits("PCI_DPA_CAP_SUBSTATE_MASK", 0, 4, "Substate_Max", None, "Number of substates minus one"),
        bits("PCI_DPA_CAP_TLUNIT", 8, 9, "Tlunit", None, "Transition Latency Unit"),
        bits("PCI_DPA_CAP_PAS", 12, 13, "PAS", None, "Power Allocation Scale"),
        bits("PCI_DPA_CAP_XLCY0", 16, 23, "Xlcy0", None, "Transition Latency Value 0"),
        bits("PCI_DPA_CAP_XLCY1", 24, 31, "Xlcy1", None, "Transition Latency Value 1"),
        label="DPA Capability"),
    reg("PCI_DPA_LATENCY", 0x08, 4, label="Latency Indicator", doc="Which substates use transition latency 1"),
    reg("PCI_DPA_STATUS", 0x0C, 2,
        bits("PCI_DPA_STATUS_SUBSTATE", 0, 4, "Substate Status"),
        bit("PCI_DPA_STATUS_CTRL_EN", 8, "Substate Control Enabled"),
        label="Status"),
    reg("PCI_DPA_CTRL", 0x0E, 2, bits("PCI_DPA_CTRL_SUBSTATE", 0, 4, "Substate Control"), label="Control"),
    extended=True,
    doc="Power substates of D0 software can select, each with a power allocation.",
)

LAYOUTS: list[Layout] = [PWR, DPA]

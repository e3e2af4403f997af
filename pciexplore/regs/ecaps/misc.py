"""Capabilities lspci 3.9 names but does not decode, or shows as unknown ids: Null (PCIe 6.0 §7.9.28),
LN Requester (§7.9.19), FRS Queueing (§7.8.10), Readiness Time Reporting (§7.9.16), Hierarchy ID
(§7.9.17), Native PCIe Enclosure Management (§7.9.20) and System Firmware Intermediary (§7.9.23).
"""

from __future__ import annotations

from ..base import Layout, bit, bits, layout, reg

PCI_EXT_CAP_ID_NULL = 0x00
PCI_EXT_CAP_ID_LNR = 0x1C
PCI_EXT_CAP_ID_FRS = 0x21
PCI_EXT_CAP_ID_RTR = 0x22
PCI_EXT_CAP_ID_HIER_ID = 0x28
PCI_EXT_CAP_ID_NPEM = 0x29
PCI_EXT_CAP_ID_SFI = 0x2C

NULL = layout("null", "Null", PCI_EXT_CAP_ID_NULL, extended=True,
              doc="A placeholder entry with no registers; the chain may continue after it.")

LNR = layout(
    "lnr", "LN Requester", PCI_EXT_CAP_ID_LNR,
    reg("PCI_LNR_CAP", 0x04, 2,
        bit("PCI_LNR_CAP_64", 0, "", "LNR-64 Supported"),
        bit("PCI_LNR_CAP_128", 1, "", "LNR-128 Supported"),
        bits("PCI_LNR_CAP_REG_MAX", 8, 12, "", None, "LNR Registration Max (log2)"),
        label="LNR Capability"),
    reg("PCI_LNR_CTRL", 0x06, 2,
        bit("PCI_LNR_CTRL_EN", 0, "", "LNR Enable"),
        bit("PCI_LNR_CTRL_CLS", 1, "", "LNR CLS (128-byte lines)"),
        bits("PCI_LNR_CTRL_REG_LIMIT", 8, 12, "", None, "LNR Registration Limit (log2)"),
        label="LNR Control"),
    extended=True,
)

FRS = layout(
    "frs", "FRS Queueing", PCI_EXT_CAP_ID_FRS,
    reg("PCI_FRS_CAP", 0x04, 4,
        bits("PCI_FRS_CAP_QUEUE_MAX", 0, 11, "", None, "FRS Queue Max Depth"),
        bits("PCI_FRS_CAP_IRQ", 16, 20, "", None, "FRS Interrupt Message Number"),
        label="FRS Queueing Capability"),
    reg("PCI_FRS_STATUS", 0x08, 2, bit("PCI_FRS_STATUS_OVERFLOW", 0, "", "FRS Message Overflow"),
        label="FRS Queueing Status"),
    reg("PCI_FRS_CTRL", 0x0A, 2, label="FRS Queueing Control"),
    reg("PCI_FRS_MSG_QUEUE", 0x0C, 4, label="FRS Message Queue"),
    extended=True,
)

RTR = layout(
    "rtr", "Readiness Time Reporting", PCI_EXT_CAP_ID_RTR,
    reg("PCI_RTR_1", 0x04, 4,
        bits("PCI_RTR_RESET_TIME", 0, 11, "", None, "Reset Time (value + scale)"),
        bits("PCI_RTR_DL_UP_TIME", 12, 23, "", None, "DL_Up Time (value + scale)"),
        bit("PCI_RTR_VALID", 31, "", "Times valid"),
        label="Readiness Time Reporting 1"),
    reg("PCI_RTR_2", 0x08, 4,
        bits("PCI_RTR_FLR_TIME", 0, 11, "", None, "FLR Time"),
        bits("PCI_RTR_D3HOT_D0_TIME", 12, 23, "", None, "D3hot to D0 Time"),
        label="Readiness Time Reporting 2"),
    extended=True,
)

HIER_ID = layout(
    "hier_id", "Hierarchy ID", PCI_EXT_CAP_ID_HIER_ID,
    reg("PCI_HIER_ID_STATUS", 0x04, 4, label="Hierarchy ID Status"),
    reg("PCI_HIER_ID_DATA", 0x08, 4, label="Hierarchy ID Data"),
    reg("PCI_HIER_ID_GUID1", 0x0C, 4, label="Hierarchy ID GUID 1"),
    reg("PCI_HIER_ID_GUID2", 0x10, 4, label="Hierarchy ID GUID 2"),
    reg("PCI_HIER_ID_GUID3", 0x14, 4, label="Hierarchy ID GUID 3"),
    reg("PCI_HIER_ID_GUID4", 0x18, 4, label="Hierarchy ID GUID 4"),
    reg("PCI_HIER_ID_GUID5", 0x1C, 4, label="Hierarchy ID GUID 5"),
    extended=True,
)

NPEM = layout(
    "npem", "Native PCIe Enclosure Management", PCI_EXT_CAP_ID_NPEM,
    reg("PCI_NPEM_CAP", 0x04, 4,
        bit("PCI_NPEM_CAP_CAPABLE", 0, "", "NPEM Capable"),
        bit("PCI_NPEM_CAP_RESET", 1, "", "NPEM Reset Capable"),
        bit("PCI_NPEM_CAP_OK", 2, "", "NPEM OK Capable"),
        bit("PCI_NPEM_CAP_LOCATE", 3, "", "NPEM Locate Capable"),
        bit("PCI_NPEM_CAP_FAIL", 4, "", "NPEM Fail Capable"),
        bit("PCI_NPEM_CAP_REBUILD", 5, "", "NPEM Rebuild Capable"),
        bit("PCI_NPEM_CAP_PFA", 6, "", "NPEM PFA Capable"),
        bit("PCI_NPEM_CAP_HOT_SPARE", 7, "", "NPEM Hot Spare Capable"),
        bit("PCI_NPEM_CAP_ICA", 8, "", "NPEM In A Critical Array Capable"),
        bit("PCI_NPEM_CAP_IFA", 9, "", "NPEM In A Failed Array Capable"),
        bit("PCI_NPEM_CAP_IDT", 10, "", "NPEM Invalid Device Type Capable"),
        bit("PCI_NPEM_CAP_DISABLED", 11, "", "NPEM Disabled Capable"),
        label="NPEM Capability"),
    reg("PCI_NPEM_CTRL", 0x08, 4, bit("PCI_NPEM_CTRL_ENABLE", 0, "", "NPEM Enable"), label="NPEM Control"),
    reg("PCI_NPEM_STATUS", 0x0C, 4, bit("PCI_NPEM_STATUS_CC", 0, "", "NPEM Command Completed"),
        label="NPEM Status"),
    extended=True,
)

SFI = layout(
    "sfi", "System Firmware Intermediary", PCI_EXT_CAP_ID_SFI,
    reg("PCI_SFI_CAP", 0x04, 2, label="SFI Capability"),
    reg("PCI_SFI_CTRL", 0x06, 2, label="SFI Control"),
    reg("PCI_SFI_STATUS", 0x08, 2, label="SFI Status"),
    reg("PCI_SFI_OOB_PD_STATUS", 0x0A, 2, label="SFI OOB PD Status"),
    reg("PCI_SFI_CAM_ADDR", 0x0C, 4, label="SFI CAM Address"),
    reg("PCI_SFI_CAM_DATA", 0x10, 4, label="SFI CAM Data"),
    extended=True,
)

LAYOUTS: list[Layout] = [NULL, LNR, FRS, RTR, HIER_ID, NPEM, SFI]

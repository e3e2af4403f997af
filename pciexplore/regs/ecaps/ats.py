"""Address translation for devices behind an IOMMU: ATS (PCI_EXT_CAP_ID_ATS, PCIe 6.0 §10.5.1),
Page Request Interface (PRI, §10.5.2) and Process Address Space ID (PASID, §7.8.8)."""

from __future__ import annotations

from ..base import Layout, bit, bits, layout, reg

PCI_EXT_CAP_ID_ATS = 0x0F
PCI_EXT_CAP_ID_PRI = 0x13
PCI_EXT_CAP_ID_PASID = 0x1B

ATS = layout(
    "ats", "Address Translation Service", PCI_EXT_CAP_ID_ATS,
    reg("PCI_ATS_CAP", 0x04, 2,
        bits("PCI_ATS_CAP_QDEP", 0, 4, "Invalidate Queue Depth", None, "0 means 32"),
        bit("PCI_ATS_CAP_PAGE_ALIGNED", 5, "", "Page Aligned Request"),
        bit("PCI_ATS_CAP_GLOBAL_INV", 6, "", "Global Invalidate Supported"),
        label="ATSCap"),
    reg("PCI_ATS_CTRL", 0x06, 2,
        bits("PCI_ATS_CTRL_STU", 0, 4, "Smallest Translation Unit", None, "STU: 2^(12+n) bytes"),
        bit("PCI_ATS_CTRL_ENABLE", 15, "Enable", "ATS Enable"),
        label="ATSCtl"),
    extended=True,
)

PRI = layout(
    "pri", "Page Request Interface", PCI_EXT_CAP_ID_PRI,
    reg("PCI_PRI_CTRL", 0x04, 2,
        bit("PCI_PRI_CTRL_ENABLE", 0, "Enable", "PRI Enable"),
        bit("PCI_PRI_CTRL_RESET", 1, "Reset", "PRI Reset"),
        label="PRICtl"),
    reg("PCI_PRI_STATUS", 0x06, 2,
        bit("PCI_PRI_STATUS_RF", 0, "RF", "Response Failure"),
        bit("PCI_PRI_STATUS_UPRGI", 1, "UPRGI", "Unexpected Page Request Group Index"),
        bit("PCI_PRI_STATUS_STOPPED", 8, "Stopped", "PRI Stopped"),
        bit("PCI_PRI_STATUS_PASID", 15, "", "PRG Response PASID Required"),
        label="PRISta"),
    reg("PCI_PRI_MAX_REQ", 0x08, 4, label="Page Request Capacity", doc="Outstanding Page Request Capacity"),
    reg("PCI_PRI_ALLOC_REQ", 0x0C, 4, label="Page Request Allocation",
        doc="Outstanding Page Request Allocation"),
    extended=True,
)

PASID = layout(
    "pasid", "Process Address Space ID", PCI_EXT_CAP_ID_PASID,
    reg("PCI_PASID_CAP", 0x04, 2,
        bit("PCI_PASID_CAP_EXEC", 1, "Exec", "Execute Permission Supported"),
        bit("PCI_PASID_CAP_PRIV", 2, "Priv", "Privileged Mode Supported"),
        bits("PCI_PASID_CAP_WIDTH", 8, 12, "Max PASID Width", None, "Max PASID Width (bits)"),
        label="PASIDCap"),
    reg("PCI_PASID_CTRL", 0x06, 2,
        bit("PCI_PASID_CTRL_ENABLE", 0, "Enable", "PASID Enable"),
        bit("PCI_PASID_CTRL_EXEC", 1, "Exec", "Execute Permission Enable"),
        bit("PCI_PASID_CTRL_PRIV", 2, "Priv", "Privileged Mode Enable"),
        label="PASIDCtl"),
    extended=True,
)

LAYOUTS: list[Layout] = [ATS, PRI, PASID]

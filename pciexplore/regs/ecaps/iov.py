"""Single Root I/O Virtualization (PCI_EXT_CAP_ID_SRIOV, PCIe 6.0 §9.3.3) and Multi-Root IOV (MRIOV).

The six VF BARs describe each VF's memory resources the way header BARs do (64-bit BARs take two).
"""

from __future__ import annotations

from ..base import Layout, bit, bits, layout, reg

PCI_EXT_CAP_ID_SRIOV = 0x10
PCI_EXT_CAP_ID_MRIOV = 0x11
PCI_SRIOV_BAR = 0x24
PCI_SRIOV_NUM_BARS = 6

SRIOV = layout(
    "sriov", "Single Root I/O Virtualization", PCI_EXT_CAP_ID_SRIOV,
    reg("PCI_SRIOV_CAP", 0x04, 4,
        bit("PCI_SRIOV_CAP_VFM", 0, "Migration", "VF Migration Capable"),
        bit("PCI_SRIOV_CAP_ARI_PRESERVED", 1, "", "ARI Capable Hierarchy Preserved"),
        bit("PCI_SRIOV_CAP_VF_10BIT_TAG_REQ", 2, "10BitTagReq", "VF 10-Bit Tag Requester Supported"),
        bits("PCI_SRIOV_CAP_INTR", 21, 31, "Interrupt Message Number", None, "VF Migration Interrupt Message Number"),
        label="IOVCap"),
    reg("PCI_SRIOV_CTRL", 0x08, 2,
        bit("PCI_SRIOV_CTRL_VFE", 0, "Enable", "VF Enable"),
        bit("PCI_SRIOV_CTRL_VFM", 1, "Migration", "VF Migration Enable"),
        bit("PCI_SRIOV_CTRL_INTR", 2, "Interrupt", "VF Migration Interrupt Enable"),
        bit("PCI_SRIOV_CTRL_MSE", 3, "MSE", "VF Memory Space Enable"),
        bit("PCI_SRIOV_CTRL_ARI", 4, "ARIHierarchy", "ARI Capable Hierarchy"),
        bit("PCI_SRIOV_CTRL_VF_10BIT_TAG_REQ_EN", 5, "10BitTagReq", "VF 10-Bit Tag Requester Enable"),
        label="IOVCtl"),
    reg("PCI_SRIOV_STATUS", 0x0A, 2, bit("PCI_SRIOV_STATUS_VFM", 0, "Migration", "VF Migration Status"),
        label="IOVSta"),
    reg("PCI_SRIOV_INITIAL_VF", 0x0C, 2, label="Initial VFs"),
    reg("PCI_SRIOV_TOTAL_VF", 0x0E, 2, label="Total VFs"),
    reg("PCI_SRIOV_NUM_VF", 0x10, 2, label="Number of VFs"),
    reg("PCI_SRIOV_FUNC_LINK", 0x12, 1, label="Function Dependency Link"),
    reg("PCI_SRIOV_VF_OFFSET", 0x14, 2, label="VF offset", doc="Routing ID offset of the first VF"),
    reg("PCI_SRIOV_VF_STRIDE", 0x16, 2, label="stride", doc="Routing ID distance between VFs"),
    reg("PCI_SRIOV_VF_DID", 0x1A, 2, label="Device ID", doc="Device ID the VFs have"),
    reg("PCI_SRIOV_SUP_PGSIZE", 0x1C, 4, label="Supported Page Size", doc="Bit n: 2^(n+12) byte pages"),
    reg("PCI_SRIOV_SYS_PGSIZE", 0x20, 4, label="System Page Size"),
    *(reg(f"PCI_SRIOV_BAR{i}", PCI_SRIOV_BAR + 4 * i, 4,
          bit("PCI_BASE_ADDRESS_SPACE_IO", 0, "", "Always 0: VF BARs are memory"),
          bits("PCI_BASE_ADDRESS_MEM_TYPE_MASK", 1, 2, "", {0: "32-bit", 2: "64-bit"}),
          bit("PCI_BASE_ADDRESS_MEM_PREFETCH", 3, "prefetchable"),
          bits("PCI_BASE_ADDRESS_MEM_MASK", 4, 31, "", None, "Address bits 31:4"),
          label=f"Region {i}") for i in range(PCI_SRIOV_NUM_BARS)),
    reg("PCI_SRIOV_VFM", 0x3C, 4,
        bits("PCI_SRIOV_VFM_BIR", 0, 2, "BIR", None, "VF Migration State BIR"),
        bits("PCI_SRIOV_VFM_OFFSET", 3, 31, "offset", None, "VF Migration State Offset (8-byte units)"),
        label="VF Migration"),
    extended=True,
    doc="A physical function that creates virtual functions: how many, their IDs and their BARs.",
)

MRIOV = layout(
    "mriov", "Multi-Root I/O Virtualization", PCI_EXT_CAP_ID_MRIOV, extended=True,
    doc="Defined by the MR-IOV specification; lspci 3.9 names it without decoding.",
)

LAYOUTS: list[Layout] = [SRIOV, MRIOV]

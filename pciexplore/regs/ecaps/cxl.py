"""CXL structures carried in a DVSEC (vendor PCI_DVSEC_VENDOR_ID_CXL, CXL 3.0 §8.1), by DVSEC ID.

These are not capabilities of their own (the capability is the DVSEC), so `LAYOUTS` is empty and
`CXL_DVSECS` maps the DVSEC ID to the layout found at the capability's offset.
"""

from __future__ import annotations

from ..base import Layout, Register, bit, bits, layout, reg

PCI_DVSEC_VENDOR_ID_CXL = 0x1E98
PCI_CXL_DEV_LEN = 0x38
PCI_CXL_PORT_EXT_LEN = 0x28

#: Memory range size-low register: lspci's words for the encoded fields
RANGE_TYPES = {0: "Volatile", 1: "Non-volatile", 2: "CDAT"}
RANGE_CLASSES = {0: "DRAM", 1: "Storage", 2: "CDAT"}
RANGE_INTERLEAVE = {0: "0", 1: "256", 2: "4096", 3: "512", 4: "1024", 5: "2048", 6: "8192", 7: "16384"}
GPF_TIME_SCALES = {0: "1us", 1: "10us", 2: "100us", 3: "1ms", 4: "10ms", 5: "100ms", 6: "1s", 7: "10s"}


def _range(n: int, at: int) -> tuple[Register, ...]:
    return (
        reg(f"PCI_CXL_DEV_RANGE{n}_SIZE_HI", at, 4, label=f"Range{n}", doc=f"Range {n} size, high DWORD"),
        reg(f"PCI_CXL_DEV_RANGE{n}_SIZE_LO", at + 4, 4,
            bit("PCI_CXL_RANGE_VALID", 0, "Valid", "Memory Info Valid"),
            bit("PCI_CXL_RANGE_ACTIVE", 1, "Active", "Memory Active"),
            bits("PCI_CXL_RANGE_TYPE", 2, 4, "Type", RANGE_TYPES, "Media Type"),
            bits("PCI_CXL_RANGE_CLASS", 5, 7, "Class", RANGE_CLASSES, "Memory Class"),
            bits("PCI_CXL_RANGE_INTERLEAVE", 8, 12, "interleave", RANGE_INTERLEAVE, "Desired Interleave"),
            bits("PCI_CXL_RANGE_TIMEOUT", 13, 15, "timeout", None, "Memory Active Timeout: 4^n seconds"),
            bits("PCI_CXL_RANGE_SIZE_LOW", 28, 31, "", None, "Memory Size bits 31:28"),
            label=f"Range{n}"),
        reg(f"PCI_CXL_DEV_RANGE{n}_BASE_HI", at + 8, 4, label=f"Range{n}", doc=f"Range {n} base, high DWORD"),
        reg(f"PCI_CXL_DEV_RANGE{n}_BASE_LO", at + 12, 4, label=f"Range{n}", doc=f"Range {n} base, low DWORD"),
    )


CXL_DEVICE = layout(
    "cxl_device", "CXL PCIe DVSEC for CXL Devices", 0,
    reg("PCI_CXL_DEV_CAP", 0x0A, 2,
        bit("PCI_CXL_DEV_CAP_CACHE", 0, "Cache", "CXL.cache capable"),
        bit("PCI_CXL_DEV_CAP_IO", 1, "IO", "CXL.io capable"),
        bit("PCI_CXL_DEV_CAP_MEM", 2, "Mem", "CXL.mem capable"),
        bit("PCI_CXL_DEV_CAP_MEM_HWINIT", 3, "Mem HW Init", "Mem HwInit Mode"),
        bits("PCI_CXL_DEV_CAP_HDM_CNT", 4, 5, "HDMCount", None, "HDM Count"),
        bit("PCI_CXL_DEV_CAP_VIRAL", 14, "Viral", "Viral handling capable"),
        label="CXLCap"),
    reg("PCI_CXL_DEV_CTRL", 0x0C, 2,
        bit("PCI_CXL_DEV_CTRL_CACHE", 0, "Cache", "CXL.cache enable"),
        bit("PCI_CXL_DEV_CTRL_IO", 1, "IO", "CXL.io enable"),
        bit("PCI_CXL_DEV_CTRL_MEM", 2, "Mem", "CXL.mem enable"),
        bits("PCI_CXL_DEV_CTRL_CACHE_SF_COV", 3, 7, "Cache SF Cov", None, "Cache snoop filter coverage"),
        bits("PCI_CXL_DEV_CTRL_CACHE_SF_GRAN", 8, 10, "Cache SF Gran", None, "Cache snoop filter granularity"),
        bit("PCI_CXL_DEV_CTRL_CACHE_CLN", 11, "Cache Clean", "Cache clean eviction"),
        bit("PCI_CXL_DEV_CTRL_VIRAL", 14, "Viral", "Viral enable"),
        label="CXLCtl"),
    reg("PCI_CXL_DEV_STATUS", 0x0E, 2, bit("PCI_CXL_DEV_STATUS_VIRAL", 14, "Viral", "Viral status"), label="CXLSta"),
    reg("PCI_CXL_DEV_STATUS2", 0x12, 2,
        bit("PCI_CXL_DEV_STATUS_CACHE_INV", 0, "", "Cache invalid"),
        bit("PCI_CXL_DEV_STATUS_RC", 1, "ResetComplete", "CXL reset complete"),
        bit("PCI_CXL_DEV_STATUS_RE", 2, "ResetError", "CXL reset error"),
        bit("PCI_CXL_DEV_STATUS_PMC", 15, "PMComplete", "Power management initialization complete"),
        label="CXLSta2"),
    reg("PCI_CXL_DEV_CAP2", 0x16, 2,
        bits("PCI_CXL_DEV_CAP2_CACHE_UNIT", 0, 3, "", {0: "not reported", 1: "64K", 2: "1M"}, "Cache Size Unit"),
        bits("PCI_CXL_DEV_CAP2_CACHE_SIZE", 8, 15, "Cache Size", None, "Cache Size in units"),
        label="CXLCap2"),
    *_range(1, 0x18),
    *_range(2, 0x28),
)

CXL_FUNCTION_MAP = layout(
    "cxl_function_map", "Non-CXL Function Map DVSEC", 2,
    *(reg(f"PCI_CXL_FUN_MAP_REG_{i}", 0x0C + 4 * i, 4, label=f"FuncMap {i}",
          doc=f"Bit n set: function n of device {i} (or function 8*{i}+n with ARI) is not a CXL function")
      for i in range(8)),
)

CXL_PORT = layout(
    "cxl_port", "CXL Extensions DVSEC for Ports", 3,
    reg("PCI_CXL_PORT_EXT_STATUS", 0x0A, 2,
        bit("PCI_CXL_PORT_PM_INIT_COMPLETE", 0, "", "Port Power Management Initialization Complete"),
        label="CXLPortSta"),
    reg("PCI_CXL_PORT_CTRL", 0x0C, 2,
        bit("PCI_CXL_PORT_UNMASK_SBR", 0, "UnmaskSBR", "Unmask Secondary Bus Reset"),
        bit("PCI_CXL_PORT_UNMASK_LINK", 1, "UnmaskLinkDisable", "Unmask Link Disable"),
        bit("PCI_CXL_PORT_ALT_MEMORY", 2, "AltMem", "Alt Memory and ID Space Enable"),
        bit("PCI_CXL_PORT_ALT_BME", 3, "AltBME", "Alt BME"),
        bit("PCI_CXL_PORT_VIRAL_EN", 14, "ViralEnable", "Viral Enable"),
        label="CXLPortCtl"),
    reg("PCI_CXL_PORT_ALT_BUS_BASE", 0x0E, 1, label="AlternateBus"),
    reg("PCI_CXL_PORT_ALT_BUS_LIMIT", 0x0F, 1, label="AlternateBus"),
    reg("PCI_CXL_PORT_ALT_MEM_BASE", 0x10, 2, label="AlternateBus"),
    reg("PCI_CXL_PORT_ALT_MEM_LIMIT", 0x12, 2, label="AlternateBus"),
)

CXL_GPF_PORT = layout(
    "cxl_gpf_port", "GPF DVSEC for CXL Ports", 4,
    reg("PCI_CXL_GPF_PORT_PHASE1_CTRL", 0x0C, 2,
        bits("PCI_CXL_GPF_PORT_PHASE1_BASE", 0, 3, "", None, "Port GPF Phase 1 Timeout Base"),
        bits("PCI_CXL_GPF_PORT_PHASE1_SCALE", 8, 11, "", GPF_TIME_SCALES, "Port GPF Phase 1 Timeout Scale"),
        label="GPF Phase 1 Timeout"),
    reg("PCI_CXL_GPF_PORT_PHASE2_CTRL", 0x0E, 2,
        bits("PCI_CXL_GPF_PORT_PHASE2_BASE", 0, 3, "", None, "Port GPF Phase 2 Timeout Base"),
        bits("PCI_CXL_GPF_PORT_PHASE2_SCALE", 8, 11, "", GPF_TIME_SCALES, "Port GPF Phase 2 Timeout Scale"),
        label="GPF Phase 2 Timeout"),
)

CXL_GPF_DEVICE = layout(
    "cxl_gpf_device", "GPF DVSEC for CXL Devices", 5,
    reg("PCI_CXL_GPF_DEV_PHASE2_DUR", 0x0A, 2,
        bits("PCI_CXL_GPF_DEV_PHASE2_BASE", 0, 3, "", None, "Device GPF Phase 2 Time Base"),
        bits("PCI_CXL_GPF_DEV_PHASE2_SCALE", 8, 11, "", GPF_TIME_SCALES, "Device GPF Phase 2 Time Scale"),
        label="GPF Phase 2 Duration"),
    reg("PCI_CXL_GPF_DEV_PHASE2_POW", 0x0C, 4, label="GPF Phase 2 Power", doc="Device GPF Phase 2 Power (mW)"),
)

CXL_FLEX_BUS = layout(
    "cxl_flex_bus", "PCIe DVSEC for Flex Bus Port", 7,
    reg("PCI_CXL_FB_PORT_CAP", 0x0A, 2,
        bit("PCI_CXL_FB_CAP_CACHE", 0, "Cache"), bit("PCI_CXL_FB_CAP_IO", 1, "IO"),
        bit("PCI_CXL_FB_CAP_MEM", 2, "Mem"), bit("PCI_CXL_FB_CAP_68B_FLIT", 5, "68BFlit"),
        bit("PCI_CXL_FB_CAP_MULT_LOG_DEV", 6, "MltLogDev"),
        bit("PCI_CXL_FB_CAP_256B_FLIT", 13, "256BFlit"), bit("PCI_CXL_FB_CAP_PBR_FLIT", 14, "PBRFlit"),
        label="FBCap"),
    reg("PCI_CXL_FB_PORT_CTRL", 0x0C, 2,
        bit("PCI_CXL_FB_CTRL_CACHE", 0, "Cache"), bit("PCI_CXL_FB_CTRL_IO", 1, "IO"),
        bit("PCI_CXL_FB_CTRL_MEM", 2, "Mem"), bit("PCI_CXL_FB_CTRL_SYNC_HDR_BYP", 3, "SynHdrByp"),
        bit("PCI_CXL_FB_CTRL_DRFT_BUF", 4, "DrftBuf"), bit("PCI_CXL_FB_CTRL_68B_FLIT", 5, "68BFlit"),
        bit("PCI_CXL_FB_CTRL_MULT_LOG_DEV", 6, "MltLogDev"), bit("PCI_CXL_FB_CTRL_RCD", 7, "RCD"),
        bit("PCI_CXL_FB_CTRL_RETIMER1", 8, "Retimer1"), bit("PCI_CXL_FB_CTRL_RETIMER2", 9, "Retimer2"),
        bit("PCI_CXL_FB_CTRL_256B_FLIT", 13, "256BFlit"), bit("PCI_CXL_FB_CTRL_PBR_FLIT", 14, "PBRFlit"),
        label="FBCtl"),
    reg("PCI_CXL_FB_PORT_STATUS", 0x0E, 2,
        bit("PCI_CXL_FB_STAT_CACHE", 0, "Cache"), bit("PCI_CXL_FB_STAT_IO", 1, "IO"),
        bit("PCI_CXL_FB_STAT_MEM", 2, "Mem"), bit("PCI_CXL_FB_STAT_SYNC_HDR_BYP", 3, "SynHdrByp"),
        bit("PCI_CXL_FB_STAT_DRFT_BUF", 4, "DrftBuf"), bit("PCI_CXL_FB_STAT_68B_FLIT", 5, "68BFlit"),
        bit("PCI_CXL_FB_STAT_MULT_LOG_DEV", 6, "MltLogDev"),
        bit("PCI_CXL_FB_STAT_256B_FLIT", 13, "256BFlit"), bit("PCI_CXL_FB_STAT_PBR_FLIT", 14, "PBRFlit"),
        label="FBSta"),
    reg("PCI_CXL_FB_MOD_TS_DATA", 0x10, 4, bits("PCI_CXL_FB_MOD_TS_DATA_RCVD", 0, 23, "Received FB Data"),
        label="FBModTS"),
    reg("PCI_CXL_FB_PORT_CAP2", 0x14, 4, bit("PCI_CXL_FB_CAP2_NOP_HINT", 0, "NOPHint"), label="FBCap2"),
    reg("PCI_CXL_FB_PORT_CTRL2", 0x18, 4, bit("PCI_CXL_FB_CTRL2_NOP_HINT", 0, "NOPHint"), label="FBCtl2"),
    reg("PCI_CXL_FB_PORT_STATUS2", 0x1C, 4, bits("PCI_CXL_FB_STAT2_NOP_HINT", 0, 1, "NOPHintInfo"), label="FBSta2"),
)

CXL_REGISTER_LOCATOR = layout(
    "cxl_register_locator", "Register Locator DVSEC", 8,
    reg("PCI_CXL_RL_BLOCK1_LO", 0x0C, 4,
        bits("PCI_CXL_RL_BIR", 0, 2, "BIR", None, "Register BIR: the BAR holding the block"),
        bits("PCI_CXL_RL_BLOCK_ID", 8, 15, "ID", {0: "empty", 1: "component registers", 2: "BAR virtualization",
                                                  3: "CXL device registers", 4: "CPMU registers",
                                                  0xFF: "vendor-specific"}, "Register Block Identifier"),
        bits("PCI_CXL_RL_OFFSET_LO", 16, 31, "offset", None, "Register Block Offset bits 31:16"),
        label="Block1"),
    reg("PCI_CXL_RL_BLOCK1_HI", 0x10, 4, label="Block1", doc="Register Block Offset bits 63:32"),
    doc="Further blocks follow every 8 bytes up to the DVSEC length.",
)

CXL_MLD = layout(
    "cxl_mld", "MLD DVSEC", 9,
    reg("PCI_CXL_MLD_NUM_LD", 0x0A, 2, label="NumLogDevs", doc="Number of logical devices (1-16)"),
)

#: DVSEC ID -> the layout of that CXL structure
CXL_DVSECS: dict[int, Layout] = {
    lay.cap_id: lay for lay in (CXL_DEVICE, CXL_FUNCTION_MAP, CXL_PORT, CXL_GPF_PORT, CXL_GPF_DEVICE,
                                CXL_FLEX_BUS, CXL_REGISTER_LOCATOR, CXL_MLD)
}

LAYOUTS: list[Layout] = []

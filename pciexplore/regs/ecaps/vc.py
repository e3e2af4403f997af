"""Virtual Channel (PCI_EXT_CAP_ID_VC and VC9, PCIe 6.0 §7.9.1) and Multi-Function VC (MFVC, §7.9.2).

The port registers are followed by one `VC_RESOURCE` (12 bytes) per VC: VC0 plus
PCI_VC_CAP1_EVCC extended VCs.  Arbitration tables sit at offsets (in units of 16 bytes) given
by PCI_VC_CAP2_ARB_OFF and PCI_VC_RES_CAP_ARB_OFF.
"""

from __future__ import annotations

from ..base import Layout, Register, bit, bits, layout, reg

PCI_EXT_CAP_ID_VC = 0x02
PCI_EXT_CAP_ID_MFVC = 0x08
PCI_EXT_CAP_ID_VC9 = 0x09
PCI_VC_RES_CAP = 0x10  # first VC resource
PCI_CAP_VC_PER_VC_SIZEOF = 0x0C

REF_CLOCKS = {0: "100ns"}
#: VC arbitration (port level) and port arbitration (per VC) schemes, by capability bit / select value
VC_ARB = {0: "Fixed", 1: "WRR32", 2: "WRR64", 3: "WRR128"}
PORT_ARB = {0: "Fixed", 1: "WRR32", 2: "WRR64", 3: "WRR128", 4: "TWRR128", 5: "WRR256"}


def _port_registers() -> tuple[Register, ...]:
    return (
        reg("PCI_VC_PORT_CAP1", 0x04, 4,
            bits("PCI_VC_CAP1_EVCC", 0, 2, "", None, "Extended VC Count: VCs beyond VC0"),
            bits("PCI_VC_CAP1_LPEVCC", 4, 6, "LPEVC", None, "Low Priority Extended VC Count"),
            bits("PCI_VC_CAP1_REFCLK", 8, 9, "RefClk", REF_CLOCKS, "Reference Clock for time-based arbitration"),
            bits("PCI_VC_CAP1_ARB_SIZE", 10, 11, "PATEntryBits", {0: "1", 1: "2", 2: "4", 3: "8"},
                 "Port Arbitration Table Entry Size (log2 bits)"),
            label="Caps"),
        reg("PCI_VC_PORT_CAP2", 0x08, 4,
            bit("PCI_VC_CAP2_HW_FIXED", 0, "Fixed", "Hardware fixed VC arbitration"),
            bit("PCI_VC_CAP2_32_PHASE", 1, "WRR32", "WRR with 32 phases"),
            bit("PCI_VC_CAP2_64_PHASE", 2, "WRR64", "WRR with 64 phases"),
            bit("PCI_VC_CAP2_128_PHASE", 3, "WRR128", "WRR with 128 phases"),
            bits("PCI_VC_CAP2_ARB_OFF", 24, 31, "", None, "VC Arbitration Table Offset (16-byte units)"),
            label="Arb"),
        reg("PCI_VC_PORT_CTRL", 0x0C, 2,
            bit("PCI_VC_PORT_CTRL_LOAD_TABLE", 0, "", "Load VC Arbitration Table"),
            bits("PCI_VC_PORT_CTRL_ARB_SELECT", 1, 3, "ArbSelect", VC_ARB, "VC Arbitration Select"),
            label="Ctrl"),
        reg("PCI_VC_PORT_STATUS", 0x0E, 2,
            bit("PCI_VC_PORT_STATUS_TABLE", 0, "InProgress", "VC Arbitration Table Status: load pending"),
            label="Status"),
    )


#: One VC resource (at PCI_VC_RES_CAP + 12 * n); not a capability, kept out of LAYOUTS.
VC_RESOURCE = layout(
    "vc_resource", "VC resource", None,
    reg("PCI_VC_RES_CAP", 0x00, 4,
        bit("PCI_VC_RES_CAP_HW_FIXED", 0, "Fixed", "Hardware fixed port arbitration"),
        bit("PCI_VC_RES_CAP_32_PHASE", 1, "WRR32", "WRR with 32 phases"),
        bit("PCI_VC_RES_CAP_64_PHASE", 2, "WRR64", "WRR with 64 phases"),
        bit("PCI_VC_RES_CAP_128_PHASE", 3, "WRR128", "WRR with 128 phases"),
        bit("PCI_VC_RES_CAP_128_PHASE_TB", 4, "TWRR128", "Time-based WRR with 128 phases"),
        bit("PCI_VC_RES_CAP_256_PHASE", 5, "WRR256", "WRR with 256 phases"),
        bit("PCI_VC_RES_CAP_REJ_SNOOP", 15, "RejSnoopTrans", "Reject Snoop Transactions"),
        bits("PCI_VC_RES_CAP_MAX_TIME_SLOTS", 16, 22, "MaxTimeSlots", None, "Maximum Time Slots minus one"),
        bits("PCI_VC_RES_CAP_ARB_OFF", 24, 31, "PATOffset", None, "Port Arbitration Table Offset (16-byte units)"),
        label="Caps"),
    reg("PCI_VC_RES_CTRL", 0x04, 4,
        bits("PCI_VC_RES_CTRL_TC_VC", 0, 7, "TC/VC", None, "TC/VC Map: traffic classes mapped to this VC"),
        bit("PCI_VC_RES_CTRL_LOAD_TABLE", 16, "", "Load Port Arbitration Table"),
        bits("PCI_VC_RES_CTRL_ARB_SELECT", 17, 19, "ArbSelect", PORT_ARB, "Port Arbitration Select"),
        bits("PCI_VC_RES_CTRL_ID", 24, 26, "ID", None, "VC ID"),
        bit("PCI_VC_RES_CTRL_ENABLE", 31, "Enable", "VC Enable"),
        label="Ctrl"),
    reg("PCI_VC_RES_STATUS", 0x0A, 2,
        bit("PCI_VC_RES_STATUS_TABLE", 0, "InProgress", "Port Arbitration Table Status: load pending"),
        bit("PCI_VC_RES_STATUS_NEGO", 1, "NegoPending", "VC Negotiation Pending"),
        label="Status"),
    doc="Per-VC capability, control (TC mapping, enable) and status.",
)

VC = layout("vc", "Virtual Channel", PCI_EXT_CAP_ID_VC, *_port_registers(), extended=True,
            doc="Virtual channels of a port: how traffic classes map to VCs and how VCs are arbitrated.")
VC9 = layout("vc9", "Virtual Channel", PCI_EXT_CAP_ID_VC9, *_port_registers(), extended=True,
             doc="The same structure as VC, used when the function also has an MFVC capability.")
MFVC = layout("mfvc", "Multi-Function Virtual Channel", PCI_EXT_CAP_ID_MFVC, *_port_registers(), extended=True,
              doc="VC arbitration among the functions of a multi-function device (lspci 3.9 does not decode it).")

LAYOUTS: list[Layout] = [VC, MFVC, VC9]

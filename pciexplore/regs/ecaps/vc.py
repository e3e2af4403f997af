"""Virtual Channel (PCI_EXT_CAP_ID_VC and VC9, PCIe 6.0 §7.9.1) and Multi-Function VC (MFVC, §7.9.2).

The port registers are followed by one `VC_RESOURCE` (12 bytes) per VC: VC0 plus
PCI_VC_CAP1_EVCC extended VCs.  Arbitration tables sit at offsets (in units of 16 bytes) given
by PCI_VC_CAP2_ARB_OFF and PCI_VC_RES_CAP_ARB_OFF; their size depends on the arbitration scheme, so
`arbitration_tables(cap)` builds their layouts (lspci 3.9 only says "Port Arbitration Table <?>").
"""

from __future__ import annotations

from functools import cache

from ..base import Layout, Register, bit, bits, layout, reg

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module
if TYPE_CHECKING:
    from typing import Any

PCI_EXT_CAP_ID_VC = 0x02
PCI_EXT_CAP_ID_MFVC = 0x08
PCI_EXT_CAP_ID_VC9 = 0x09
PCI_VC_RES_CAP = 0x10  # first VC resource
PCI_CAP_VC_PER_VC_SIZEOF = 0x0C
PCI_VC_TABLE_UNIT = 16  # table offsets count 16-byte units from the capability

REF_CLOCKS = {0: "100ns"}
#: VC arbitration (port level) and port arbitration (per VC) schemes, by capability bit / select value
VC_ARB = {0: "Fixed", 1: "WRR32", 2: "WRR64", 3: "WRR128"}
PORT_ARB = {0: "Fixed", 1: "WRR32", 2: "WRR64", 3: "WRR128", 4: "TWRR128", 5: "WRR256"}
#: phases of the arbitration table each table-driven scheme uses (PCIe 6.0 §7.9.1.3, §7.9.1.7)
VC_ARB_PHASES = {1: 32, 2: 64, 3: 128}
PORT_ARB_PHASES = {1: 32, 2: 64, 3: 128, 4: 128, 5: 256}


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



@cache
def arbitration_table(kind: str, phases: int, entry_bits: int) -> Layout:
    """An arbitration table of `phases` entries of `entry_bits` each, packed from bit 0 of the first
    DWORD (PCIe 6.0 §7.9.1.9 VC table: 4-bit VC IDs; §7.9.1.10 port table: 1-8 bit port numbers)."""
    per_dword = 32 // entry_bits
    prefix = {"vc": "PCI_VC_ARB_TABLE", "port": "PCI_VC_PORT_ARB_TABLE", "function": "PCI_MFVC_FUNC_ARB_TABLE"}[kind]
    return layout(
        f"{kind}_arb_table", f"{kind.capitalize()} Arbitration Table", None,
        *(reg(f"{prefix}_{d}", 4 * d, 4,
              *(bits(f"{prefix}_PHASE{d * per_dword + k}", k * entry_bits, (k + 1) * entry_bits - 1,
                     f"Phase[{d * per_dword + k}]") for k in range(per_dword)),
              label=f"Phases {d * per_dword}-{(d + 1) * per_dword - 1}")
          for d in range(phases // per_dword)),
        doc="VC ID (VC table), port number (port table) or function group (MFVC) served in each phase.",
    )


def _phases(table: dict[int, int], selected: int, supported: int) -> int:
    """The selected scheme's phase count, else the largest a supported scheme needs (0: no table)."""
    if selected in table:
        return table[selected]
    return max((n for bit_no, n in table.items() if supported >> bit_no & 1), default=0)


def arbitration_tables(cap: Any) -> list[Any]:
    """The arbitration tables of a VC or MFVC capability, as Blocks at their offsets: the VC
    arbitration table, then one port (MFVC: function) arbitration table per VC that has one."""
    from ...model import Block

    fn, tables = cap.function, []
    port_kind = "function" if cap.id == PCI_EXT_CAP_ID_MFVC else "port"
    at = cap.get("PCI_VC_PORT_CAP2", "PCI_VC_CAP2_ARB_OFF")
    phases = _phases(VC_ARB_PHASES, cap.get("PCI_VC_PORT_CTRL", "PCI_VC_PORT_CTRL_ARB_SELECT") or 0,
                     cap.get("PCI_VC_PORT_CAP2") or 0)
    if at and phases:
        tables.append(Block(fn, arbitration_table("vc", phases, 4), cap.offset + PCI_VC_TABLE_UNIT * at))
    entry_bits = 1 << (cap.get("PCI_VC_PORT_CAP1", "PCI_VC_CAP1_ARB_SIZE") or 0)
    for n in range((cap.get("PCI_VC_PORT_CAP1", "PCI_VC_CAP1_EVCC") or 0) + 1):
        res = Block(fn, VC_RESOURCE, cap.offset + PCI_VC_RES_CAP + PCI_CAP_VC_PER_VC_SIZEOF * n)
        at = res.get("PCI_VC_RES_CAP", "PCI_VC_RES_CAP_ARB_OFF")
        phases = _phases(PORT_ARB_PHASES, res.get("PCI_VC_RES_CTRL", "PCI_VC_RES_CTRL_ARB_SELECT") or 0,
                         res.get("PCI_VC_RES_CAP") or 0)
        if at and phases:
            tables.append(Block(fn, arbitration_table(port_kind, phases, entry_bits),
                                cap.offset + PCI_VC_TABLE_UNIT * at))
    return tables


LAYOUTS: list[Layout] = [VC, MFVC, VC9]

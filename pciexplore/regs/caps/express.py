"""PCI Express capability (PCI_CAP_ID_EXP, PCIe r6.0 §7.5.3): device, link, slot and root registers.

Which registers a function has depends on its Device/Port Type (PCI_EXP_FLAGS_TYPE), on
PCI_EXP_FLAGS_SLOT and on the capability version (PCI_EXP_FLAGS_VERS; the "2" registers from 0x24
exist only in version 2).  Registers say so with `when`, following the same rules lspci uses to
decide what to print, so `Block.registers()` lists what lspci would show.

Field names are Linux `pci_regs.h` names; where Linux has none (bits it never needed) the name is
the pciutils `lib/header.h` one, and failing that one made in the same style (PCI_EXP_DEVSTA_EPRD,
PCI_EXP_LNKCTL_DRS_CTL, PCI_EXP_LNKCAP2_LSKPGEN/LSKPRCV).
"""

from __future__ import annotations

from ..base import Layout, bit, bits, layout, reg

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module
if TYPE_CHECKING:
    from typing import Any

PCI_CAP_ID_EXP = 0x10

# PCI_EXP_FLAGS_TYPE values (PCIe r6.0 §7.5.3.2)
PCI_EXP_TYPE_ENDPOINT = 0x0
PCI_EXP_TYPE_LEG_END = 0x1
PCI_EXP_TYPE_ROOT_PORT = 0x4
PCI_EXP_TYPE_UPSTREAM = 0x5
PCI_EXP_TYPE_DOWNSTREAM = 0x6
PCI_EXP_TYPE_PCI_BRIDGE = 0x7  # PCI Express to PCI/PCI-X bridge
PCI_EXP_TYPE_PCIE_BRIDGE = 0x8  # PCI/PCI-X to PCI Express bridge
PCI_EXP_TYPE_RC_END = 0x9  # Root Complex Integrated Endpoint
PCI_EXP_TYPE_RC_EC = 0xA  # Root Complex Event Collector

#: lspci's name for each Device/Port Type
PORT_TYPES = {
    PCI_EXP_TYPE_ENDPOINT: "Endpoint",
    PCI_EXP_TYPE_LEG_END: "Legacy Endpoint",
    PCI_EXP_TYPE_ROOT_PORT: "Root Port",
    PCI_EXP_TYPE_UPSTREAM: "Upstream Port",
    PCI_EXP_TYPE_DOWNSTREAM: "Downstream Port",
    PCI_EXP_TYPE_PCI_BRIDGE: "PCI-Express to PCI/PCI-X Bridge",
    PCI_EXP_TYPE_PCIE_BRIDGE: "PCI/PCI-X to PCI-Express Bridge",
    PCI_EXP_TYPE_RC_END: "Root Complex Integrated Endpoint",
    PCI_EXP_TYPE_RC_EC: "Root Complex Event Collector",
}

#: types whose link is below them (they face a downstream link); lspci's exp_downstream_port()
DOWNSTREAM_PORTS = frozenset({PCI_EXP_TYPE_ROOT_PORT, PCI_EXP_TYPE_DOWNSTREAM, PCI_EXP_TYPE_PCIE_BRIDGE})
#: types that can have a slot (PCI_EXP_FLAGS_SLOT is meaningful only for these)
SLOT_PORTS = DOWNSTREAM_PORTS
#: types without a link (no LNK* registers)
LINKLESS = frozenset({PCI_EXP_TYPE_RC_END, PCI_EXP_TYPE_RC_EC})
#: types with the Root Control/Capabilities/Status registers
ROOT_TYPES = frozenset({PCI_EXP_TYPE_ROOT_PORT, PCI_EXP_TYPE_RC_EC})

#: link speed encodings shared by LNKCAP, LNKSTA and LNKCTL2 (PCIe r6.0 §7.5.3.6)
LINK_SPEEDS = {1: "2.5GT/s", 2: "5GT/s", 3: "8GT/s", 4: "16GT/s", 5: "32GT/s", 6: "64GT/s"}
#: L0s latencies (DEVCAP acceptable latency, LNKCAP exit latency)
L0S_LATENCIES = dict(enumerate(["<64ns", "<128ns", "<256ns", "<512ns", "<1us", "<2us", "<4us", "unlimited"]))
#: L1 latencies (DEVCAP acceptable latency, LNKCAP exit latency)
L1_LATENCIES = dict(enumerate(["<1us", "<2us", "<4us", "<8us", "<16us", "<32us", "<64us", "unlimited"]))
#: Max_Payload_Size / Max_Read_Request_Size: 128 << n bytes (6 and 7 are reserved)
SIZES = {n: f"{128 << n} bytes" for n in range(6)}
#: slot power limit scale: watts = value * scale (PCIe r6.0 §7.5.3.3)
POWER_SCALES = {0: "1.0x", 1: "0.1x", 2: "0.01x", 3: "0.001x"}
#: attention/power indicator control
INDICATORS = {0: "Unknown", 1: "On", 2: "Blink", 3: "Off"}
ASPM_SUPPORT = {0: "not supported", 1: "L0s", 2: "L1", 3: "L0s L1"}
ASPM_CONTROL = {0: "Disabled", 1: "L0s Enabled", 2: "L1 Enabled", 3: "L0s L1 Enabled"}
#: DEVCAP2 Completion Timeout Ranges Supported (lspci's words)
TIMEOUT_RANGES = {0: "Not Supported", 1: "Range A", 2: "Range B", 3: "Range AB", 6: "Range BC",
                  7: "Range ABC", 14: "Range BCD", 15: "Range ABCD"}
#: DEVCTL2 Completion Timeout Value
TIMEOUT_VALUES = {0: "50us to 50ms", 1: "50us to 100us", 2: "1ms to 10ms", 5: "16ms to 55ms",
                  6: "65ms to 210ms", 9: "260ms to 900ms", 10: "1s to 3.5s", 13: "4s to 13s",
                  14: "17s to 64s"}
OBFF_SUPPORT = {0: "Not Supported", 1: "Via message", 2: "Via WAKE#", 3: "Via message/WAKE#"}
OBFF_ENABLE = {0: "Disabled", 1: "Via message A", 2: "Via message B", 3: "Via WAKE#"}
EPR_SUPPORT = {0: "Not Supported", 1: "Dev Specific", 2: "Form Factor Dev Specific", 3: "Reserved"}
LN_CLS = {0: "Not Supported", 1: "64byte cachelines", 2: "128byte cachelines", 3: "Reserved"}
TPH_COMPLETER = {0: "TPHComp- ExtTPHComp-", 1: "TPHComp+ ExtTPHComp-", 2: "Reserved", 3: "TPHComp+ ExtTPHComp+"}
DEEMPHASIS = {0: "-6dB", 1: "-3.5dB"}
TRANSMIT_MARGIN = {0: "Normal Operating Range", 1: "800-1200mV(full-swing)/400-700mV(half-swing)",
                   **{n: "200-400mV(full-swing)/100-200mV(half-swing)" for n in range(2, 6)}}
COMPLIANCE_PRESETS = {
    0: "-6dB de-emphasis, 0dB preshoot", 1: "-3.5dB de-emphasis, 0dB preshoot",
    2: "-4.4dB de-emphasis, 0dB preshoot", 3: "-2.5dB de-emphasis, 0dB preshoot",
    4: "0dB de-emphasis, 0dB preshoot", 5: "0dB de-emphasis, 1.9dB preshoot",
    6: "0dB de-emphasis, 2.5dB preshoot", 7: "-6.0dB de-emphasis, 3.5dB preshoot",
    8: "-3.5dB de-emphasis, 3.5dB preshoot", 9: "0dB de-emphasis, 3.5dB preshoot",
}
CROSSLINK_RESOLUTION = {0: "unsupported", 1: "Upstream Port", 2: "Downstream Port", 3: "incomplete"}
DOWNSTREAM_COMPONENT = {0: "Link Down - Not Determined", 1: "Link Down - Not Present",
                        2: "Link Down - Present", 4: "Link Up - Present",
                        5: "Link Up - Present and DRS Received"}


# -- which registers exist ------------------------------------------------------------------------
def port_type(block: Any) -> int | None:
    """PCI_EXP_FLAGS_TYPE of this Express block (None when the flags are unreadable)."""
    return block.get("PCI_EXP_FLAGS", "PCI_EXP_FLAGS_TYPE")


def version(block: Any) -> int:
    """PCI_EXP_FLAGS_VERS: 1 for the PCIe 1.x structure, 2 when the "2" registers exist."""
    return block.get("PCI_EXP_FLAGS", "PCI_EXP_FLAGS_VERS") or 0


def has_link(block: Any) -> bool:
    """Link registers exist for every type except Root Complex integrated endpoints and event collectors."""
    return port_type(block) not in LINKLESS


def has_slot(block: Any) -> bool:
    """Slot registers: a downstream-facing port whose PCI_EXP_FLAGS_SLOT says a slot is attached."""
    return port_type(block) in SLOT_PORTS and bool(block.get("PCI_EXP_FLAGS", "PCI_EXP_FLAGS_SLOT"))


def has_root(block: Any) -> bool:
    """Root registers: Root Ports and Root Complex Event Collectors."""
    return port_type(block) in ROOT_TYPES


def _v2(block: Any) -> bool:
    return version(block) >= 2


def _link2(block: Any) -> bool:
    return _v2(block) and has_link(block)


def _slot2(block: Any) -> bool:
    return _v2(block) and has_slot(block)


# -- registers ------------------------------------------------------------------------------------
FLAGS = reg(
    "PCI_EXP_FLAGS", 0x02, 2,
    bits("PCI_EXP_FLAGS_VERS", 0, 3, "v", None, "Capability version: 1, or 2 for the structure with the \"2\" registers"),
    bits("PCI_EXP_FLAGS_TYPE", 4, 7, "", PORT_TYPES, "Device/Port Type"),
    bit("PCI_EXP_FLAGS_SLOT", 8, "Slot", "Slot Implemented: this port's link goes to a slot (root/downstream ports)"),
    bits("PCI_EXP_FLAGS_IRQ", 9, 13, "MSI", None,
         "Interrupt Message Number: MSI/MSI-X vector used for status changes in this capability"),
    bit("PCI_EXP_FLAGS_FLIT", 15, "FlitMode", "Flit Mode Supported (PCIe 6.0)"),
    label="Express",
)

DEVCAP = reg(
    "PCI_EXP_DEVCAP", 0x04, 4,
    bits("PCI_EXP_DEVCAP_PAYLOAD", 0, 2, "MaxPayload", SIZES, "Max_Payload_Size Supported: 128 << n bytes"),
    bits("PCI_EXP_DEVCAP_PHANTOM", 3, 4, "PhantFunc", None,
         "Phantom Functions Supported: function number bits usable as extra tag bits"),
    bit("PCI_EXP_DEVCAP_EXT_TAG", 5, "ExtTag", "Extended Tag Field Supported (8-bit tags)"),
    bits("PCI_EXP_DEVCAP_L0S", 6, 8, "Latency L0s", L0S_LATENCIES, "Endpoint L0s Acceptable Latency"),
    bits("PCI_EXP_DEVCAP_L1", 9, 11, "L1", L1_LATENCIES, "Endpoint L1 Acceptable Latency"),
    bit("PCI_EXP_DEVCAP_ATN_BUT", 12, "AttnBtn", "Attention Button Present (PCIe 1.0 only; now reserved)"),
    bit("PCI_EXP_DEVCAP_ATN_IND", 13, "AttnInd", "Attention Indicator Present (PCIe 1.0 only; now reserved)"),
    bit("PCI_EXP_DEVCAP_PWR_IND", 14, "PwrInd", "Power Indicator Present (PCIe 1.0 only; now reserved)"),
    bit("PCI_EXP_DEVCAP_RBER", 15, "RBE", "Role-Based Error Reporting"),
    bits("PCI_EXP_DEVCAP_PWR_VAL", 18, 25, "SlotPowerLimit", None,
         "Captured Slot Power Limit Value (upstream ports): watts = value * scale"),
    bits("PCI_EXP_DEVCAP_PWR_SCL", 26, 27, "", POWER_SCALES, "Captured Slot Power Limit Scale"),
    bit("PCI_EXP_DEVCAP_FLR", 28, "FLReset", "Function Level Reset Capability"),
    bit("PCI_EXP_DEVCAP_TEE", 30, "TEE-IO", "TEE Device Interface Security Protocol (TDISP) supported (PCIe 6.0)"),
    label="DevCap",
)

DEVCTL = reg(
    "PCI_EXP_DEVCTL", 0x08, 2,
    bit("PCI_EXP_DEVCTL_CERE", 0, "CorrErr", "Correctable Error Reporting Enable"),
    bit("PCI_EXP_DEVCTL_NFERE", 1, "NonFatalErr", "Non-Fatal Error Reporting Enable"),
    bit("PCI_EXP_DEVCTL_FERE", 2, "FatalErr", "Fatal Error Reporting Enable"),
    bit("PCI_EXP_DEVCTL_URRE", 3, "UnsupReq", "Unsupported Request Reporting Enable"),
    bit("PCI_EXP_DEVCTL_RELAX_EN", 4, "RlxdOrd", "Enable Relaxed Ordering"),
    bits("PCI_EXP_DEVCTL_PAYLOAD", 5, 7, "MaxPayload", SIZES, "Max_Payload_Size: 128 << n bytes"),
    bit("PCI_EXP_DEVCTL_EXT_TAG", 8, "ExtTag", "Extended Tag Field Enable"),
    bit("PCI_EXP_DEVCTL_PHANTOM", 9, "PhantFunc", "Phantom Functions Enable"),
    bit("PCI_EXP_DEVCTL_AUX_PME", 10, "AuxPwr", "Aux Power PM Enable"),
    bit("PCI_EXP_DEVCTL_NOSNOOP_EN", 11, "NoSnoop", "Enable No Snoop"),
    bits("PCI_EXP_DEVCTL_READRQ", 12, 14, "MaxReadReq", SIZES, "Max_Read_Request_Size: 128 << n bytes"),
    bit("PCI_EXP_DEVCTL_BCR_FLR", 15, "FLReset",
        "Initiate Function Level Reset (endpoints); Bridge Configuration Retry Enable (PCIe-to-PCI "
        "bridges, lspci: BrConfRtry)"),
    label="DevCtl",
)

DEVSTA = reg(
    "PCI_EXP_DEVSTA", 0x0A, 2,
    bit("PCI_EXP_DEVSTA_CED", 0, "CorrErr", "Correctable Error Detected"),
    bit("PCI_EXP_DEVSTA_NFED", 1, "NonFatalErr", "Non-Fatal Error Detected"),
    bit("PCI_EXP_DEVSTA_FED", 2, "FatalErr", "Fatal Error Detected"),
    bit("PCI_EXP_DEVSTA_URD", 3, "UnsupReq", "Unsupported Request Detected"),
    bit("PCI_EXP_DEVSTA_AUXPD", 4, "AuxPwr", "AUX Power Detected"),
    bit("PCI_EXP_DEVSTA_TRPND", 5, "TransPend", "Transactions Pending (non-posted requests not yet completed)"),
    bit("PCI_EXP_DEVSTA_EPRD", 6, "EmergencyPowerReduction", "Emergency Power Reduction Detected (PCIe 5.0)"),
    label="DevSta",
)

LNKCAP = reg(
    "PCI_EXP_LNKCAP", 0x0C, 4,
    bits("PCI_EXP_LNKCAP_SLS", 0, 3, "Speed", LINK_SPEEDS,
         "Max Link Speed: index of the highest set bit in PCI_EXP_LNKCAP2_SLS (1 = 2.5GT/s)"),
    bits("PCI_EXP_LNKCAP_MLW", 4, 9, "Width", None, "Maximum Link Width (lanes)"),
    bits("PCI_EXP_LNKCAP_ASPMS", 10, 11, "ASPM", ASPM_SUPPORT, "ASPM Support"),
    bits("PCI_EXP_LNKCAP_L0SEL", 12, 14, "Exit Latency L0s", L0S_LATENCIES, "L0s Exit Latency"),
    bits("PCI_EXP_LNKCAP_L1EL", 15, 17, "L1", L1_LATENCIES, "L1 Exit Latency"),
    bit("PCI_EXP_LNKCAP_CLKPM", 18, "ClockPM", "Clock Power Management (CLKREQ#)"),
    bit("PCI_EXP_LNKCAP_SDERC", 19, "Surprise", "Surprise Down Error Reporting Capable"),
    bit("PCI_EXP_LNKCAP_DLLLARC", 20, "LLActRep", "Data Link Layer Link Active Reporting Capable"),
    bit("PCI_EXP_LNKCAP_LBNC", 21, "BwNot", "Link Bandwidth Notification Capability"),
    bit("PCI_EXP_LNKCAP_AOC", 22, "ASPMOptComp", "ASPM Optionality Compliance"),
    bits("PCI_EXP_LNKCAP_PN", 24, 31, "Port #", None, "Port Number"),
    label="LnkCap", when=has_link,
)

LNKCTL = reg(
    "PCI_EXP_LNKCTL", 0x10, 2,
    bits("PCI_EXP_LNKCTL_ASPMC", 0, 1, "ASPM", ASPM_CONTROL, "ASPM Control"),
    bit("PCI_EXP_LNKCTL_RCB", 3, "RCB", "Read Completion Boundary: 0 = 64 bytes, 1 = 128 bytes"),
    bit("PCI_EXP_LNKCTL_LD", 4, "Disabled", "Link Disable (downstream ports)"),
    bit("PCI_EXP_LNKCTL_RL", 5, "Retrain", "Retrain Link (downstream ports; reads 0)"),
    bit("PCI_EXP_LNKCTL_CCC", 6, "CommClk", "Common Clock Configuration"),
    bit("PCI_EXP_LNKCTL_ES", 7, "ExtSynch", "Extended Synch"),
    bit("PCI_EXP_LNKCTL_CLKREQ_EN", 8, "ClockPM", "Enable Clock Power Management"),
    bit("PCI_EXP_LNKCTL_HAWD", 9, "AutWidDis", "Hardware Autonomous Width Disable"),
    bit("PCI_EXP_LNKCTL_LBMIE", 10, "BWInt", "Link Bandwidth Management Interrupt Enable"),
    bit("PCI_EXP_LNKCTL_LABIE", 11, "AutBWInt", "Link Autonomous Bandwidth Interrupt Enable"),
    bit("PCI_EXP_LNKCTL_FLIT_MODE_DIS", 13, "FlitModeDis", "Flit Mode Disable (PCIe 6.0)"),
    bits("PCI_EXP_LNKCTL_DRS_CTL", 14, 15, "DRS Signaling", None,
         "DRS Signaling Control (downstream ports): 0 none, 1 DRS interrupt, 2 DRS to FRS"),
    label="LnkCtl", when=has_link,
)

LNKSTA = reg(
    "PCI_EXP_LNKSTA", 0x12, 2,
    bits("PCI_EXP_LNKSTA_CLS", 0, 3, "Speed", LINK_SPEEDS, "Current Link Speed"),
    bits("PCI_EXP_LNKSTA_NLW", 4, 9, "Width", None, "Negotiated Link Width (lanes)"),
    bit("PCI_EXP_LNKSTA_TR_ERR", 10, "TrErr", "Link Training Error (PCIe 1.0 only; now reserved)"),
    bit("PCI_EXP_LNKSTA_LT", 11, "Train", "Link Training in progress"),
    bit("PCI_EXP_LNKSTA_SLC", 12, "SlotClk", "Slot Clock Configuration: uses the connector's reference clock"),
    bit("PCI_EXP_LNKSTA_DLLLA", 13, "DLActive", "Data Link Layer Link Active"),
    bit("PCI_EXP_LNKSTA_LBMS", 14, "BWMgmt", "Link Bandwidth Management Status"),
    bit("PCI_EXP_LNKSTA_LABS", 15, "ABWMgmt", "Link Autonomous Bandwidth Status"),
    label="LnkSta", when=has_link,
)

SLTCAP = reg(
    "PCI_EXP_SLTCAP", 0x14, 4,
    bit("PCI_EXP_SLTCAP_ABP", 0, "AttnBtn", "Attention Button Present"),
    bit("PCI_EXP_SLTCAP_PCP", 1, "PwrCtrl", "Power Controller Present"),
    bit("PCI_EXP_SLTCAP_MRLSP", 2, "MRL", "MRL Sensor Present"),
    bit("PCI_EXP_SLTCAP_AIP", 3, "AttnInd", "Attention Indicator Present"),
    bit("PCI_EXP_SLTCAP_PIP", 4, "PwrInd", "Power Indicator Present"),
    bit("PCI_EXP_SLTCAP_HPS", 5, "Surprise", "Hot-Plug Surprise: the adapter may be removed without notice"),
    bit("PCI_EXP_SLTCAP_HPC", 6, "HotPlug", "Hot-Plug Capable"),
    bits("PCI_EXP_SLTCAP_SPLV", 7, 14, "PowerLimit", None, "Slot Power Limit Value: watts = value * scale"),
    bits("PCI_EXP_SLTCAP_SPLS", 15, 16, "", POWER_SCALES, "Slot Power Limit Scale"),
    bit("PCI_EXP_SLTCAP_EIP", 17, "Interlock", "Electromechanical Interlock Present"),
    bit("PCI_EXP_SLTCAP_NCCS", 18, "NoCompl", "No Command Completed Support"),
    bits("PCI_EXP_SLTCAP_PSN", 19, 31, "Slot #", None, "Physical Slot Number"),
    label="SltCap", when=has_slot,
)

SLTCTL = reg(
    "PCI_EXP_SLTCTL", 0x18, 2,
    bit("PCI_EXP_SLTCTL_ABPE", 0, "AttnBtn", "Attention Button Pressed Enable"),
    bit("PCI_EXP_SLTCTL_PFDE", 1, "PwrFlt", "Power Fault Detected Enable"),
    bit("PCI_EXP_SLTCTL_MRLSCE", 2, "MRL", "MRL Sensor Changed Enable"),
    bit("PCI_EXP_SLTCTL_PDCE", 3, "PresDet", "Presence Detect Changed Enable"),
    bit("PCI_EXP_SLTCTL_CCIE", 4, "CmdCplt", "Command Completed Interrupt Enable"),
    bit("PCI_EXP_SLTCTL_HPIE", 5, "HPIrq", "Hot-Plug Interrupt Enable"),
    bits("PCI_EXP_SLTCTL_AIC", 6, 7, "AttnInd", INDICATORS, "Attention Indicator Control"),
    bits("PCI_EXP_SLTCTL_PIC", 8, 9, "PwrInd", INDICATORS, "Power Indicator Control"),
    bit("PCI_EXP_SLTCTL_PCC", 10, "Power", "Power Controller Control: 1 = power off (lspci: Power+)"),
    bit("PCI_EXP_SLTCTL_EIC", 11, "Interlock", "Electromechanical Interlock Control (writes toggle)"),
    bit("PCI_EXP_SLTCTL_DLLSCE", 12, "LinkChg", "Data Link Layer State Changed Enable"),
    bit("PCI_EXP_SLTCTL_ASPL_DISABLE", 13, "AutoSPLDis", "Auto Slot Power Limit Disable"),
    bit("PCI_EXP_SLTCTL_IBPD_DISABLE", 14, "IBPresDis", "In-band Presence Detect Disable"),
    label="SltCtl", when=has_slot,
)

SLTSTA = reg(
    "PCI_EXP_SLTSTA", 0x1A, 2,
    bit("PCI_EXP_SLTSTA_ABP", 0, "AttnBtn", "Attention Button Pressed"),
    bit("PCI_EXP_SLTSTA_PFD", 1, "PowerFlt", "Power Fault Detected"),
    bit("PCI_EXP_SLTSTA_MRLSC", 2, "MRL", "MRL Sensor Changed (lspci: Changed: MRL)"),
    bit("PCI_EXP_SLTSTA_PDC", 3, "PresDet", "Presence Detect Changed (lspci: Changed: PresDet)"),
    bit("PCI_EXP_SLTSTA_CC", 4, "CmdCplt", "Command Completed"),
    bit("PCI_EXP_SLTSTA_MRLSS", 5, "MRL", "MRL Sensor State: 1 = open"),
    bit("PCI_EXP_SLTSTA_PDS", 6, "PresDet", "Presence Detect State: an adapter is present"),
    bit("PCI_EXP_SLTSTA_EIS", 7, "Interlock", "Electromechanical Interlock Status: engaged"),
    bit("PCI_EXP_SLTSTA_DLLSC", 8, "LinkState", "Data Link Layer State Changed"),
    label="SltSta", when=has_slot,
)

RTCTL = reg(
    "PCI_EXP_RTCTL", 0x1C, 2,
    bit("PCI_EXP_RTCTL_SECEE", 0, "ErrCorrectable", "System Error on Correctable Error Enable"),
    bit("PCI_EXP_RTCTL_SENFEE", 1, "ErrNon-Fatal", "System Error on Non-Fatal Error Enable"),
    bit("PCI_EXP_RTCTL_SEFEE", 2, "ErrFatal", "System Error on Fatal Error Enable"),
    bit("PCI_EXP_RTCTL_PMEIE", 3, "PMEIntEna", "PME Interrupt Enable"),
    bit("PCI_EXP_RTCTL_CRSSVE", 4, "CRSVisible", "Configuration RRS (CRS) Software Visibility Enable"),
    label="RootCtl", when=has_root,
)

RTCAP = reg(
    "PCI_EXP_RTCAP", 0x1E, 2,
    bit("PCI_EXP_RTCAP_CRSVIS", 0, "CRSVisible", "Configuration RRS (CRS) Software Visibility supported"),
    label="RootCap", when=has_root,
)

RTSTA = reg(
    "PCI_EXP_RTSTA", 0x20, 4,
    bits("PCI_EXP_RTSTA_PME_RQ_ID", 0, 15, "PME ReqID", None, "Requester ID of the last PME"),
    bit("PCI_EXP_RTSTA_PME", 16, "PMEStatus", "PME Status: a PME was received (write 1 to clear)"),
    bit("PCI_EXP_RTSTA_PENDING", 17, "PMEPending", "PME Pending: more PMEs are waiting"),
    label="RootSta", when=has_root,
)

DEVCAP2 = reg(
    "PCI_EXP_DEVCAP2", 0x24, 4,
    bits("PCI_EXP_DEVCAP2_TIMEOUT_RANGE", 0, 3, "Completion Timeout", TIMEOUT_RANGES,
         "Completion Timeout Ranges Supported (A: 50us-10ms, B: 10ms-250ms, C: 250ms-4s, D: 4s-64s)"),
    bit("PCI_EXP_DEVCAP2_COMP_TMOUT_DIS", 4, "TimeoutDis", "Completion Timeout Disable Supported"),
    bit("PCI_EXP_DEVCAP2_ARI", 5, "ARIFwd", "ARI Forwarding Supported (downstream ports)"),
    bit("PCI_EXP_DEVCAP2_ATOMIC_ROUTE", 6, "Routing", "AtomicOp Routing Supported"),
    bit("PCI_EXP_DEVCAP2_ATOMIC_COMP32", 7, "32bit", "32-bit AtomicOp Completer Supported"),
    bit("PCI_EXP_DEVCAP2_ATOMIC_COMP64", 8, "64bit", "64-bit AtomicOp Completer Supported"),
    bit("PCI_EXP_DEVCAP2_ATOMIC_COMP128", 9, "128bitCAS", "128-bit CAS Completer Supported"),
    bit("PCI_EXP_DEVCAP2_NROPRPRP", 10, "NROPrPrP", "No RO-enabled PR-PR Passing"),
    bit("PCI_EXP_DEVCAP2_LTR", 11, "LTR", "Latency Tolerance Reporting Supported"),
    bits("PCI_EXP_DEVCAP2_TPH_COMP_MASK", 12, 13, "TPHComp", TPH_COMPLETER, "TPH Completer Supported"),
    bits("PCI_EXP_DEVCAP2_LN_CLS", 14, 15, "LN System CLS", LN_CLS, "LN System Cacheline Size (obsolete)"),
    bit("PCI_EXP_DEVCAP2_10BIT_TAG_COMP", 16, "10BitTagComp", "10-Bit Tag Completer Supported"),
    bit("PCI_EXP_DEVCAP2_10BIT_TAG_REQ", 17, "10BitTagReq", "10-Bit Tag Requester Supported"),
    bits("PCI_EXP_DEVCAP2_OBFF_MASK", 18, 19, "OBFF", OBFF_SUPPORT, "Optimized Buffer Flush/Fill Supported"),
    bit("PCI_EXP_DEVCAP2_EXTFMT", 20, "ExtFmt", "Extended Fmt Field Supported"),
    bit("PCI_EXP_DEVCAP2_EE_PREFIX", 21, "EETLPPrefix", "End-End TLP Prefix Supported"),
    bits("PCI_EXP_DEVCAP2_EE_PREFIX_MAX", 22, 23, "MaxEETLPPrefixes", {0: "4", 1: "1", 2: "2", 3: "3"},
         "Max End-End TLP Prefixes (0 means 4)"),
    bits("PCI_EXP_DEVCAP2_EPR", 24, 25, "EmergencyPowerReduction", EPR_SUPPORT,
         "Emergency Power Reduction Supported"),
    bit("PCI_EXP_DEVCAP2_EPR_INIT", 26, "EmergencyPowerReductionInit",
        "Emergency Power Reduction Initialization Required"),
    bit("PCI_EXP_DEVCAP2_FRS", 31, "FRS", "FRS (Function Readiness Status) Supported"),
    label="DevCap2", when=_v2,
)

DEVCTL2 = reg(
    "PCI_EXP_DEVCTL2", 0x28, 2,
    bits("PCI_EXP_DEVCTL2_COMP_TIMEOUT", 0, 3, "Completion Timeout", TIMEOUT_VALUES, "Completion Timeout Value"),
    bit("PCI_EXP_DEVCTL2_COMP_TMOUT_DIS", 4, "TimeoutDis", "Completion Timeout Disable"),
    bit("PCI_EXP_DEVCTL2_ARI", 5, "ARIFwd", "ARI Forwarding Enable"),
    bit("PCI_EXP_DEVCTL2_ATOMIC_REQ", 6, "ReqEn", "AtomicOp Requester Enable"),
    bit("PCI_EXP_DEVCTL2_ATOMIC_EGRESS_BLOCK", 7, "EgressBlck", "AtomicOp Egress Blocking"),
    bit("PCI_EXP_DEVCTL2_IDO_REQ_EN", 8, "IDOReq", "ID-Based Ordering Request Enable"),
    bit("PCI_EXP_DEVCTL2_IDO_CMP_EN", 9, "IDOCompl", "ID-Based Ordering Completion Enable"),
    bit("PCI_EXP_DEVCTL2_LTR_EN", 10, "LTR", "LTR Mechanism Enable"),
    bit("PCI_EXP_DEVCTL2_EPR_REQ", 11, "EmergencyPowerReductionReq", "Emergency Power Reduction Request"),
    bit("PCI_EXP_DEVCTL2_10BIT_TAG_REQ", 12, "10BitTagReq", "10-Bit Tag Requester Enable"),
    bits("PCI_EXP_DEVCTL2_OBFF", 13, 14, "OBFF", OBFF_ENABLE, "OBFF Enable"),
    bit("PCI_EXP_DEVCTL2_EE_TLP_BLK", 15, "EETLPPrefixBlk", "End-End TLP Prefix Blocking"),
    label="DevCtl2", when=_v2,
)

DEVSTA2 = reg("PCI_EXP_DEVSTA2", 0x2A, 2, label="DevSta2", when=_v2,
              doc="Device Status 2: no fields defined (reserved)")

LNKCAP2 = reg(
    "PCI_EXP_LNKCAP2", 0x2C, 4,
    bits("PCI_EXP_LNKCAP2_SLS", 1, 7, "Supported Link Speeds", None,
         "Supported Link Speeds Vector: bit 0 = 2.5GT/s ... bit 5 = 64GT/s"),
    bit("PCI_EXP_LNKCAP2_CROSSLINK", 8, "Crosslink", "Crosslink Supported"),
    bits("PCI_EXP_LNKCAP2_LSKPGEN", 9, 15, "LowerSKPGen", None,
         "Lower SKP OS Generation Supported Speeds Vector"),
    bits("PCI_EXP_LNKCAP2_LSKPRCV", 16, 22, "LowerSKPRcv", None,
         "Lower SKP OS Reception Supported Speeds Vector"),
    bit("PCI_EXP_LNKCAP2_RETIMER", 23, "Retimer", "Retimer Presence Detect Supported"),
    bit("PCI_EXP_LNKCAP2_2RETIMERS", 24, "2Retimers", "Two Retimers Presence Detect Supported"),
    bit("PCI_EXP_LNKCAP2_DRS", 31, "DRS", "DRS (Device Readiness Status) Supported"),
    label="LnkCap2", when=_link2,
)

LNKCTL2 = reg(
    "PCI_EXP_LNKCTL2", 0x30, 2,
    bits("PCI_EXP_LNKCTL2_TLS", 0, 3, "Target Link Speed", LINK_SPEEDS, "Target Link Speed (0 reads as 2.5GT/s)"),
    bit("PCI_EXP_LNKCTL2_ENTER_COMP", 4, "EnterCompliance", "Enter Compliance"),
    bit("PCI_EXP_LNKCTL2_HASD", 5, "SpeedDis", "Hardware Autonomous Speed Disable"),
    bits("PCI_EXP_LNKCTL2_DEEMPHASIS", 6, 6, "Selectable De-emphasis", DEEMPHASIS,
         "Selectable De-emphasis at 5GT/s (downstream ports)"),
    bits("PCI_EXP_LNKCTL2_TX_MARGIN", 7, 9, "Transmit Margin", TRANSMIT_MARGIN, "Transmit Margin"),
    bit("PCI_EXP_LNKCTL2_MOD_CMPLNC", 10, "EnterModifiedCompliance", "Enter Modified Compliance"),
    bit("PCI_EXP_LNKCTL2_CMPLNC_SOS", 11, "ComplianceSOS", "Compliance SOS"),
    bits("PCI_EXP_LNKCTL2_COM_DEEMPHASIS", 12, 15, "Compliance Preset/De-emphasis", COMPLIANCE_PRESETS,
         "Compliance Preset/De-emphasis"),
    label="LnkCtl2", when=_link2,
)

LNKSTA2 = reg(
    "PCI_EXP_LNKSTA2", 0x32, 2,
    bits("PCI_EXP_LNKSTA2_DEEMPHASIS", 0, 0, "Current De-emphasis Level", DEEMPHASIS,
         "Current De-emphasis Level at 5GT/s"),
    bit("PCI_EXP_LNKSTA2_EQU_COMP", 1, "EqualizationComplete", "Equalization 8.0 GT/s Complete"),
    bit("PCI_EXP_LNKSTA2_EQU_PHASE1", 2, "EqualizationPhase1", "Equalization 8.0 GT/s Phase 1 Successful"),
    bit("PCI_EXP_LNKSTA2_EQU_PHASE2", 3, "EqualizationPhase2", "Equalization 8.0 GT/s Phase 2 Successful"),
    bit("PCI_EXP_LNKSTA2_EQU_PHASE3", 4, "EqualizationPhase3", "Equalization 8.0 GT/s Phase 3 Successful"),
    bit("PCI_EXP_LNKSTA2_EQU_REQ", 5, "LinkEqualizationRequest", "Link Equalization Request 8.0 GT/s"),
    bit("PCI_EXP_LNKSTA2_RETIMER", 6, "Retimer", "Retimer Presence Detected"),
    bit("PCI_EXP_LNKSTA2_2RETIMERS", 7, "2Retimers", "Two Retimers Presence Detected"),
    bits("PCI_EXP_LNKSTA2_CROSSLINK", 8, 9, "CrosslinkRes", CROSSLINK_RESOLUTION, "Crosslink Resolution"),
    bit("PCI_EXP_LNKSTA2_FLIT", 10, "FlitMode", "Flit Mode Status (PCIe 6.0)"),
    bits("PCI_EXP_LNKSTA2_COMPONENT", 12, 14, "DownstreamComp", DOWNSTREAM_COMPONENT,
         "Downstream Component Presence (downstream ports)"),
    bit("PCI_EXP_LNKSTA2_DRS_RCVD", 15, "DRS", "DRS Message Received"),
    label="LnkSta2", when=_link2,
)

SLTCAP2 = reg(
    "PCI_EXP_SLTCAP2", 0x34, 4,
    bit("PCI_EXP_SLTCAP2_IBPD", 0, "IBPresDis", "In-Band PD Disable Supported"),
    label="SltCap2", when=_slot2,
)
SLTCTL2 = reg("PCI_EXP_SLTCTL2", 0x38, 2, label="SltCtl2", when=_slot2, doc="Slot Control 2: no fields defined")
SLTSTA2 = reg("PCI_EXP_SLTSTA2", 0x3A, 2, label="SltSta2", when=_slot2, doc="Slot Status 2: no fields defined")

EXPRESS = layout(
    "exp", "Express", PCI_CAP_ID_EXP,
    FLAGS, DEVCAP, DEVCTL, DEVSTA, LNKCAP, LNKCTL, LNKSTA, SLTCAP, SLTCTL, SLTSTA, RTCTL, RTCAP, RTSTA,
    DEVCAP2, DEVCTL2, DEVSTA2, LNKCAP2, LNKCTL2, LNKSTA2, SLTCAP2, SLTCTL2, SLTSTA2,
    doc="PCI Express capability: the device's PCIe identity (port type), device, link, slot and root "
        "registers; its presence makes the extended capability list at 0x100 visible to lspci.",
)

LAYOUTS: list[Layout] = [EXPRESS]

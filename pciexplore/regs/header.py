"""Config space headers: the common part, type 0 (endpoint), type 1 (PCI bridge), type 2 (CardBus)."""

from __future__ import annotations

from .base import Layout, bit, bits, layout, reg

DEVSEL = {0: "fast", 1: "medium", 2: "slow", 3: "??"}

COMMAND = reg(
    "PCI_COMMAND", 0x04, 2,
    bit("PCI_COMMAND_IO", 0, "I/O", "Respond to I/O space accesses"),
    bit("PCI_COMMAND_MEMORY", 1, "Mem", "Respond to memory space accesses (needed for BARs, MSI-X table)"),
    bit("PCI_COMMAND_MASTER", 2, "BusMaster", "Bus mastering: needed to send MSI/MSI-X messages"),
    bit("PCI_COMMAND_SPECIAL", 3, "SpecCycle", "Respond to special cycles"),
    bit("PCI_COMMAND_INVALIDATE", 4, "MemWINV", "Use memory write and invalidate"),
    bit("PCI_COMMAND_VGA_PALETTE", 5, "VGASnoop", "Palette snooping"),
    bit("PCI_COMMAND_PARITY", 6, "ParErr", "Respond to parity errors"),
    bit("PCI_COMMAND_WAIT", 7, "Stepping", "Address/data stepping"),
    bit("PCI_COMMAND_SERR", 8, "SERR", "Enable SERR#"),
    bit("PCI_COMMAND_FAST_BACK", 9, "FastB2B", "Fast back-to-back writes"),
    bit("PCI_COMMAND_INTX_DISABLE", 10, "DisINTx", "INTx emulation disabled"),
    label="Control",
)

STATUS = reg(
    "PCI_STATUS", 0x06, 2,
    bit("PCI_STATUS_IMM_READY", 0, "ImmReady", "Immediate readiness"),
    bit("PCI_STATUS_INTERRUPT", 3, "INTx", "Interrupt status: INTx asserted"),
    bit("PCI_STATUS_CAP_LIST", 4, "Cap", "Capability list present"),
    bit("PCI_STATUS_66MHZ", 5, "66MHz", "66 MHz capable"),
    bit("PCI_STATUS_UDF", 6, "UDF", "User-definable features (obsolete)"),
    bit("PCI_STATUS_FAST_BACK", 7, "FastB2B", "Fast back-to-back capable"),
    bit("PCI_STATUS_PARITY", 8, "ParErr", "Master data parity error detected"),
    bits("PCI_STATUS_DEVSEL_MASK", 9, 10, "DEVSEL", DEVSEL, "DEVSEL timing"),
    bit("PCI_STATUS_SIG_TARGET_ABORT", 11, ">TAbort", "Signaled target abort"),
    bit("PCI_STATUS_REC_TARGET_ABORT", 12, "<TAbort", "Received target abort"),
    bit("PCI_STATUS_REC_MASTER_ABORT", 13, "<MAbort", "Received master abort"),
    bit("PCI_STATUS_SIG_SYSTEM_ERROR", 14, ">SERR", "Signaled system error"),
    bit("PCI_STATUS_DETECTED_PARITY", 15, "<PERR", "Detected parity error"),
    label="Status",
)

SEC_STATUS_FIELDS = tuple(f for f in STATUS.fields if f.lo >= 5)

BRIDGE_CONTROL_FIELDS = (
    bit("PCI_BRIDGE_CTL_PARITY", 0, "Parity", "Enable parity detection on secondary interface"),
    bit("PCI_BRIDGE_CTL_SERR", 1, "SERR", "Forward SERR# from secondary"),
    bit("PCI_BRIDGE_CTL_ISA", 2, "NoISA", "ISA enable: block ISA aliases"),
    bit("PCI_BRIDGE_CTL_VGA", 3, "VGA", "Forward VGA addresses"),
    bit("PCI_BRIDGE_CTL_VGA_16BIT", 4, "VGA16", "VGA 16-bit decode"),
    bit("PCI_BRIDGE_CTL_MASTER_ABORT", 5, "MAbort", "Report master aborts"),
    bit("PCI_BRIDGE_CTL_BUS_RESET", 6, ">Reset", "Secondary bus reset"),
    bit("PCI_BRIDGE_CTL_FAST_BACK", 7, "FastB2B", "Fast back-to-back on secondary"),
    bit("PCI_BRIDGE_CTL_PRI_DISCARD", 8, "PriDiscTmr", "Primary discard timer"),
    bit("PCI_BRIDGE_CTL_SEC_DISCARD", 9, "SecDiscTmr", "Secondary discard timer"),
    bit("PCI_BRIDGE_CTL_DISCARD_STATUS", 10, "DiscTmrStat", "Discard timer status"),
    bit("PCI_BRIDGE_CTL_DISCARD_SERR", 11, "DiscTmrSERREn", "Discard timer SERR# enable"),
)

BAR_FIELDS = (
    bit("PCI_BASE_ADDRESS_SPACE_IO", 0, "I/O", "I/O space BAR"),
    bits("PCI_BASE_ADDRESS_MEM_TYPE_MASK", 1, 2, "type",
         {0: "32-bit", 1: "low-1M", 2: "64-bit", 3: "reserved"}, "Memory BAR type"),
    bit("PCI_BASE_ADDRESS_MEM_PREFETCH", 3, "prefetchable", "Prefetchable memory"),
)

HEADER_TYPE = reg(
    "PCI_HEADER_TYPE", 0x0E, 1,
    bits("PCI_HEADER_TYPE_MASK", 0, 6, "type", {0: "normal", 1: "bridge", 2: "cardbus"}),
    bit("PCI_HEADER_TYPE_MFD", 7, "multifunction", "Multi-function device"),
    label="Header type",
)

INTERRUPT_PIN = reg(
    "PCI_INTERRUPT_PIN", 0x3D, 1,
    bits("PCI_INTERRUPT_PIN", 0, 7, "pin", {0: "none", 1: "A", 2: "B", 3: "C", 4: "D"}),
    label="Interrupt pin",
    doc="0: the function has no INTx pin (MSI/MSI-X only)",
)

COMMON = (
    reg("PCI_VENDOR_ID", 0x00, 2, label="Vendor"),
    reg("PCI_DEVICE_ID", 0x02, 2, label="Device"),
    COMMAND,
    STATUS,
    reg("PCI_REVISION_ID", 0x08, 1, label="Revision"),
    reg("PCI_CLASS_PROG", 0x09, 1, label="Prog-if"),
    reg("PCI_CLASS_DEVICE", 0x0A, 2, label="Class"),
    reg("PCI_CACHE_LINE_SIZE", 0x0C, 1, label="Cache Line Size", doc="In 32-bit words"),
    reg("PCI_LATENCY_TIMER", 0x0D, 1, label="Latency"),
    HEADER_TYPE,
    reg("PCI_BIST", 0x0F, 1, bit("PCI_BIST_CAPABLE", 7, "BIST"), bit("PCI_BIST_START", 6, "Start"),
        bits("PCI_BIST_CODE_MASK", 0, 3, "Code"), label="BIST"),
)


def _bars(n: int) -> tuple:
    return tuple(
        reg(f"PCI_BASE_ADDRESS_{i}", 0x10 + 4 * i, 4, *BAR_FIELDS, label=f"Region {i}") for i in range(n)
    )


TYPE0 = layout(
    "header0", "Type 0 header (endpoint)", None,
    *COMMON,
    *_bars(6),
    reg("PCI_CARDBUS_CIS", 0x28, 4, label="CardBus CIS"),
    reg("PCI_SUBSYSTEM_VENDOR_ID", 0x2C, 2, label="Subsystem vendor"),
    reg("PCI_SUBSYSTEM_ID", 0x2E, 2, label="Subsystem"),
    reg("PCI_ROM_ADDRESS", 0x30, 4, bit("PCI_ROM_ADDRESS_ENABLE", 0, "enabled"), label="Expansion ROM"),
    reg("PCI_CAPABILITY_LIST", 0x34, 1, label="Capabilities pointer"),
    reg("PCI_INTERRUPT_LINE", 0x3C, 1, label="IRQ"),
    INTERRUPT_PIN,
    reg("PCI_MIN_GNT", 0x3E, 1, label="Min Gnt"),
    reg("PCI_MAX_LAT", 0x3F, 1, label="Max Lat"),
)

TYPE1 = layout(
    "header1", "Type 1 header (PCI-to-PCI bridge)", None,
    *COMMON,
    *_bars(2),
    reg("PCI_PRIMARY_BUS", 0x18, 1, label="primary"),
    reg("PCI_SECONDARY_BUS", 0x19, 1, label="secondary"),
    reg("PCI_SUBORDINATE_BUS", 0x1A, 1, label="subordinate"),
    reg("PCI_SEC_LATENCY_TIMER", 0x1B, 1, label="sec-latency"),
    reg("PCI_IO_BASE", 0x1C, 1, bits("PCI_IO_RANGE_TYPE_MASK", 0, 3, "type", {0: "16-bit", 1: "32-bit"}),
        label="I/O base"),
    reg("PCI_IO_LIMIT", 0x1D, 1, label="I/O limit"),
    reg("PCI_SEC_STATUS", 0x1E, 2, *SEC_STATUS_FIELDS, label="Secondary status"),
    reg("PCI_MEMORY_BASE", 0x20, 2, label="Memory base"),
    reg("PCI_MEMORY_LIMIT", 0x22, 2, label="Memory limit"),
    reg("PCI_PREF_MEMORY_BASE", 0x24, 2,
        bits("PCI_PREF_RANGE_TYPE_MASK", 0, 3, "type", {0: "32-bit", 1: "64-bit"}),
        label="Prefetchable memory base"),
    reg("PCI_PREF_MEMORY_LIMIT", 0x26, 2, label="Prefetchable memory limit"),
    reg("PCI_PREF_BASE_UPPER32", 0x28, 4, label="Prefetchable base upper 32"),
    reg("PCI_PREF_LIMIT_UPPER32", 0x2C, 4, label="Prefetchable limit upper 32"),
    reg("PCI_IO_BASE_UPPER16", 0x30, 2, label="I/O base upper 16"),
    reg("PCI_IO_LIMIT_UPPER16", 0x32, 2, label="I/O limit upper 16"),
    reg("PCI_CAPABILITY_LIST", 0x34, 1, label="Capabilities pointer"),
    reg("PCI_ROM_ADDRESS1", 0x38, 4, bit("PCI_ROM_ADDRESS_ENABLE", 0, "enabled"), label="Expansion ROM"),
    reg("PCI_INTERRUPT_LINE", 0x3C, 1, label="IRQ"),
    INTERRUPT_PIN,
    reg("PCI_BRIDGE_CONTROL", 0x3E, 2, *BRIDGE_CONTROL_FIELDS, label="BridgeCtl"),
)

TYPE2 = layout(
    "header2", "Type 2 header (CardBus bridge)", None,
    *COMMON,
    reg("PCI_CB_SOCKET_BASE", 0x10, 4, label="Socket base"),
    reg("PCI_CB_CAPABILITY_LIST", 0x14, 1, label="Capabilities pointer"),
    reg("PCI_CB_SEC_STATUS", 0x16, 2, *SEC_STATUS_FIELDS, label="Secondary status"),
    reg("PCI_CB_PRIMARY_BUS", 0x18, 1, label="primary"),
    reg("PCI_CB_CARD_BUS", 0x19, 1, label="secondary"),
    reg("PCI_CB_SUBORDINATE_BUS", 0x1A, 1, label="subordinate"),
    reg("PCI_CB_LATENCY_TIMER", 0x1B, 1, label="sec-latency"),
    reg("PCI_CB_MEMORY_BASE_0", 0x1C, 4, label="Memory window 0 base"),
    reg("PCI_CB_MEMORY_LIMIT_0", 0x20, 4, label="Memory window 0 limit"),
    reg("PCI_CB_MEMORY_BASE_1", 0x24, 4, label="Memory window 1 base"),
    reg("PCI_CB_MEMORY_LIMIT_1", 0x28, 4, label="Memory window 1 limit"),
    reg("PCI_CB_IO_BASE_0", 0x2C, 4, label="I/O window 0 base"),
    reg("PCI_CB_IO_LIMIT_0", 0x30, 4, label="I/O window 0 limit"),
    reg("PCI_CB_IO_BASE_1", 0x34, 4, label="I/O window 1 base"),
    reg("PCI_CB_IO_LIMIT_1", 0x38, 4, label="I/O window 1 limit"),
    reg("PCI_INTERRUPT_LINE", 0x3C, 1, label="IRQ"),
    INTERRUPT_PIN,
    reg("PCI_CB_BRIDGE_CONTROL", 0x3E, 2,
        bit("PCI_CB_BRIDGE_CTL_PARITY", 0, "Parity"), bit("PCI_CB_BRIDGE_CTL_SERR", 1, "SERR"),
        bit("PCI_CB_BRIDGE_CTL_ISA", 2, "ISA"), bit("PCI_CB_BRIDGE_CTL_VGA", 3, "VGA"),
        bit("PCI_CB_BRIDGE_CTL_MASTER_ABORT", 5, "MAbort"), bit("PCI_CB_BRIDGE_CTL_CB_RESET", 6, ">Reset"),
        bit("PCI_CB_BRIDGE_CTL_16BIT_INT", 7, "16bInt"),
        bit("PCI_CB_BRIDGE_CTL_PREFETCH_MEM0", 8, "PostWrite"),
        label="BridgeCtl"),
    reg("PCI_CB_SUBSYSTEM_VENDOR_ID", 0x40, 2, label="Subsystem vendor"),
    reg("PCI_CB_SUBSYSTEM_ID", 0x42, 2, label="Subsystem"),
    reg("PCI_CB_LEGACY_MODE_BASE", 0x44, 4, label="16-bit legacy interface ports"),
)

HEADERS: dict[int, Layout] = {0: TYPE0, 1: TYPE1, 2: TYPE2}

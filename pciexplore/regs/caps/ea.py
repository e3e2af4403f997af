"""Enhanced Allocation (PCI_CAP_ID_EA, PCI 3.0 ECN "Enhanced Allocation"): fixed resource ranges that
replace BARs.  The capability has NumEntries variable-size entries; `EA_ENTRY` declares one entry
(kept out of LAYOUTS: it is not a capability)."""

from __future__ import annotations

from ..base import Layout, bit, bits, layout, reg

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module
if TYPE_CHECKING:
    from typing import Any

PCI_CAP_ID_EA = 0x14

#: PCI_EA_BEI: which BAR the entry stands for (lspci's words)
BEI = {**{n: f"BAR {n}" for n in range(6)}, 6: "resource behind function", 7: "not indicated",
       8: "expansion ROM", **{n: f"VF-BAR {n - 9}" for n in range(9, 15)}, 15: "reserved"}
#: PCI_EA_PP / PCI_EA_SP: properties (lspci's words; 0xff differs for the secondary one)
PROPERTIES = {
    0x00: "memory space, non-prefetchable",
    0x01: "memory space, prefetchable",
    0x02: "I/O space",
    0x03: "VF memory space, prefetchable",
    0x04: "VF memory space, non-prefetchable",
    0x05: "allocation behind bridge, non-prefetchable memory",
    0x06: "allocation behind bridge, prefetchable memory",
    0x07: "allocation behind bridge, I/O space",
    0xFD: "memory space resource unavailable for use",
    0xFE: "I/O space resource unavailable for use",
    0xFF: "entry unavailable for use",
}
SECONDARY_PROPERTIES = {**PROPERTIES, 0xFF: "entry unavailable for use, PrimaryProperties should be used"}


def is_bridge(block: Any) -> bool:
    return block.function.header_type == 1


EA = layout(
    "ea", "Enhanced Allocation", PCI_CAP_ID_EA,
    reg("PCI_EA_NUM_ENT", 0x02, 1, bits("PCI_EA_NUM_ENT_MASK", 0, 5, "NumEntries", None, "Number of entries"),
        label="NumEntries"),
    reg("PCI_EA_SEC_BUS", 0x04, 1, label="secondary", when=is_bridge, doc="Fixed secondary bus number"),
    reg("PCI_EA_SUB_BUS", 0x05, 1, label="subordinate", when=is_bridge, doc="Fixed subordinate bus number"),
    doc="Entries start at PCI_EA_FIRST_ENT (4), or PCI_EA_FIRST_ENT_BRIDGE (8) in a type 1 header.",
)

PCI_EA_FIRST_ENT = 4
PCI_EA_FIRST_ENT_BRIDGE = 8

#: One entry: DW0 header, DW1 base, DW2 max offset, then the upper halves when PCI_EA_IS_64 says so
EA_ENTRY = layout(
    "ea_entry", "Enhanced Allocation entry", None,
    reg("PCI_EA_ENTRY_HEADER", 0x00, 4,
        bits("PCI_EA_ES", 0, 2, "EntrySize", None, "Entry size in DWORDs, not counting this one"),
        bits("PCI_EA_BEI", 4, 7, "BAR Equivalent Indicator", BEI),
        bits("PCI_EA_PP", 8, 15, "PrimaryProperties", PROPERTIES),
        bits("PCI_EA_SP", 16, 23, "SecondaryProperties", SECONDARY_PROPERTIES),
        bit("PCI_EA_WRITABLE", 30, "Writable", "Base and MaxOffset are writable"),
        bit("PCI_EA_ENABLE", 31, "Enable", "Entry enabled"),
        label="Entry"),
    reg("PCI_EA_BASE", 0x04, 4,
        bit("PCI_EA_IS_64", 1, "64", "An upper 32 bits DWORD follows"),
        bits("PCI_EA_FIELD_MASK", 2, 31, "Base", None, "Base address bits 31:2"),
        label="Base"),
    reg("PCI_EA_MAX_OFFSET", 0x08, 4,
        bit("PCI_EA_IS_64", 1, "64", "An upper 32 bits DWORD follows"),
        bits("PCI_EA_FIELD_MASK", 2, 31, "MaxOffset", None, "Max offset bits 31:2 (bits 1:0 read as 11b)"),
        label="MaxOffset"),
)

LAYOUTS: list[Layout] = [EA]

"""MSI-X capability (PCI_CAP_ID_MSIX, PCI Local Bus 3.0 §6.8.2) and the MSI-X table entry.

The capability only says where the vector table and the Pending Bit Array are (a BAR and an
offset in it); the table itself lives in memory space, one `MSIX_ENTRY` (16 bytes) per vector,
and the PBA has one bit per vector.
"""

from __future__ import annotations

from ..base import Layout, bit, bits, layout, reg

PCI_CAP_ID_MSIX = 0x11
PCI_MSIX_ENTRY_SIZE = 16

_BIR_DOC = "BAR Indicator Register: which BAR (0-5) holds the structure"
_OFFSET_DOC = "Byte offset in that BAR, QWORD aligned: the register value & 0xfffffff8 (bits 2:0 are the BIR)"

MSIX = layout(
    "msix", "MSI-X", PCI_CAP_ID_MSIX,
    reg("PCI_MSIX_FLAGS", 0x02, 2,
        bits("PCI_MSIX_FLAGS_QSIZE", 0, 10, "Count", None,
             "Table size minus one (N-1 encoded): the function has QSIZE + 1 vectors"),
        bit("PCI_MSIX_FLAGS_MASKALL", 14, "Masked",
            "Function mask: no vector sends while set; messages become pending instead"),
        bit("PCI_MSIX_FLAGS_ENABLE", 15, "Enable", "MSI-X enable (then MSI and INTx are not used)"),
        label="Message Control"),
    reg("PCI_MSIX_TABLE", 0x04, 4,
        bits("PCI_MSIX_TABLE_BIR", 0, 2, "BAR", None, _BIR_DOC),
        bits("PCI_MSIX_TABLE_OFFSET", 3, 31, "offset", None, _OFFSET_DOC, in_place=True),
        label="Vector table"),
    reg("PCI_MSIX_PBA", 0x08, 4,
        bits("PCI_MSIX_PBA_BIR", 0, 2, "BAR", None, _BIR_DOC),
        bits("PCI_MSIX_PBA_OFFSET", 3, 31, "offset", None, _OFFSET_DOC, in_place=True),
        label="PBA"),
    doc="MSI-X: up to 2048 vectors, each with its own address, data and mask bit in a BAR-mapped table.",
)

#: One vector of the MSI-X table (in the BAR named by PCI_MSIX_TABLE_BIR), not a capability:
#: kept out of LAYOUTS so the capability registry does not see it.
MSIX_ENTRY = layout(
    "msix_entry", "MSI-X table entry", None,
    reg("PCI_MSIX_ENTRY_LOWER_ADDR", 0x0, 4, label="Address",
        doc="Message address, low 32 bits (DWORD aligned)"),
    reg("PCI_MSIX_ENTRY_UPPER_ADDR", 0x4, 4, label="Upper address", doc="Message address, high 32 bits"),
    reg("PCI_MSIX_ENTRY_DATA", 0x8, 4, label="Data", doc="Message data written to the address"),
    reg("PCI_MSIX_ENTRY_VECTOR_CTRL", 0xC, 4,
        bit("PCI_MSIX_ENTRY_CTRL_MASKBIT", 0, "Masked",
            "Vector mask: while set the vector does not send; an event sets its PBA bit instead"),
        label="Vector control"),
    doc="16 bytes per vector; entry n is at table offset + 16 * n.",
)

LAYOUTS: list[Layout] = [MSIX]

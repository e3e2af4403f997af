"""SATA Data/Index configuration (PCI_CAP_ID_SATA, AHCI 1.3 §2.4): where the index/data pair is."""

from __future__ import annotations

from ..base import Layout, bits, layout, reg

PCI_CAP_ID_SATA = 0x12

#: PCI_SATA_REGS_MASK (BARLOC): 4..9 are BAR0..BAR5 (0x10..0x24), 15 means in config space
BAR_LOCATIONS = {4: "BAR0", 5: "BAR1", 6: "BAR2", 7: "BAR3", 8: "BAR4", 9: "BAR5", 15: "InCfgSpace"}

SATA = layout(
    "sata", "SATA HBA", PCI_CAP_ID_SATA,
    reg("PCI_SATA_REVISION", 0x02, 1,
        bits("PCI_SATA_REVISION_MINOR", 0, 3, "minor"), bits("PCI_SATA_REVISION_MAJOR", 4, 7, "major"),
        label="SATA HBA v", doc="Revision (no pci_regs.h name; AHCI SATACR0 bits 23:16)"),
    reg("PCI_SATA_REGS", 0x04, 4,
        bits("PCI_SATA_REGS_MASK", 0, 3, "BAR", BAR_LOCATIONS, "BAR location of the index/data pair"),
        bits("PCI_SATA_REGS_OFFSET", 4, 23, "Offset", None, "Offset in that BAR, in DWORDs"),
        label="SATACR1"),
)

LAYOUTS: list[Layout] = [SATA]

"""Debug port (PCI_CAP_ID_DBG, EHCI 1.0 appendix C): where the EHCI debug port registers are."""

from __future__ import annotations

from ..base import Layout, bits, layout, reg

PCI_CAP_ID_DBG = 0x0A

DBG = layout(
    "dbg", "Debug port", PCI_CAP_ID_DBG,
    reg("PCI_DBG_PORT", 0x02, 2,
        bits("PCI_DBG_PORT_OFFSET", 0, 12, "offset", None, "Offset of the debug port registers in the BAR"),
        bits("PCI_DBG_PORT_BAR", 13, 15, "BAR", None, "Which BAR (1 = 0x10 ... as in EHCI's BAR number)"),
        label="Debug port", doc="No pci_regs.h name; EHCI spec's Debug Port base offset"),
)

LAYOUTS: list[Layout] = [DBG]

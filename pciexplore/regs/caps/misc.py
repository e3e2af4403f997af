"""Small capabilities lspci names but does not decode: Null, CompactPCI central resource control,
Hot-plug (SHPC), Secure device."""

from __future__ import annotations

from ..base import Layout, layout, reg

PCI_CAP_ID_NULL = 0x00
PCI_CAP_ID_CCRC = 0x0B
PCI_CAP_ID_SHPC = 0x0C
PCI_CAP_ID_SECDEV = 0x0F

NULL = layout("null", "Null", PCI_CAP_ID_NULL, doc="Null capability: an entry with no content")

CCRC = layout("ccrc", "CompactPCI central resource control", PCI_CAP_ID_CCRC)

SHPC = layout(
    "shpc", "Hot-plug", PCI_CAP_ID_SHPC,
    reg("PCI_SHPC_DWORD_SELECT", 0x02, 1, label="DWORD Select",
        doc="Which SHPC register the Data register shows (SHPC 1.0 §4.1; no pci_regs.h name)"),
    reg("PCI_SHPC_PENDING", 0x03, 1, label="Pending",
        doc="Bit 0: interrupt pending; bit 1: controller busy (SHPC 1.0 §4.1; no pci_regs.h name)"),
    reg("PCI_SHPC_DATA", 0x04, 4, label="DWORD Data", doc="The selected SHPC register (no pci_regs.h name)"),
    doc="PCI Standard Hot-Plug Controller.",
)

SECDEV = layout("secdev", "Secure device", PCI_CAP_ID_SECDEV)

LAYOUTS: list[Layout] = [NULL, CCRC, SHPC, SECDEV]

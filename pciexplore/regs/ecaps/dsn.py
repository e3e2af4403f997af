"""Device Serial Number (PCI_EXT_CAP_ID_DSN, PCIe 6.0 §7.9.3): a 64-bit EUI-64."""

from __future__ import annotations

from ..base import Layout, layout, reg

PCI_EXT_CAP_ID_DSN = 0x03

DSN = layout(
    "dsn", "Device Serial Number", PCI_EXT_CAP_ID_DSN,
    reg("PCI_DSN_LOW", 0x04, 4, label="Serial Number", doc="Serial number, low DWORD (EUI-64 bytes 7..4)"),
    reg("PCI_DSN_HIGH", 0x08, 4, label="Serial Number", doc="Serial number, high DWORD (EUI-64 bytes 3..0)"),
    extended=True,
    doc="lspci prints the 8 bytes most significant first, separated by dashes.",
)

LAYOUTS: list[Layout] = [DSN]

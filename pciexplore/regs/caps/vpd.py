"""Vital Product Data (PCI_CAP_ID_VPD, PCI 3.0 §6.4 and appendix I): a window onto a small EEPROM."""

from __future__ import annotations

from ..base import Layout, bit, bits, layout, reg

PCI_CAP_ID_VPD = 0x03

VPD = layout(
    "vpd", "Vital Product Data", PCI_CAP_ID_VPD,
    reg("PCI_VPD_ADDR", 0x02, 2,
        bits("PCI_VPD_ADDR_MASK", 0, 14, "address", None, "VPD byte address to read or write"),
        bit("PCI_VPD_ADDR_F", 15, "F", "Flag: set by hardware when a read completes; set by software to write"),
        label="Address"),
    reg("PCI_VPD_DATA", 0x04, 4, label="Data", doc="Four VPD bytes at the address"),
    doc="Product name, part and serial numbers as tagged resources (read via sysfs `vpd` on Linux).",
)

LAYOUTS: list[Layout] = [VPD]

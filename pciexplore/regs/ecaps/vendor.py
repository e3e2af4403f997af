"""Vendor-Specific (VSEC, PCI_EXT_CAP_ID_VNDR, PCIe 6.0 §7.9.5) and Designated Vendor-Specific (DVSEC,
PCI_EXT_CAP_ID_DVSEC, §7.9.6).  The CXL structures inside a DVSEC are in `cxl.py`.
"""

from __future__ import annotations

from ..base import Layout, bits, layout, reg

PCI_EXT_CAP_ID_VNDR = 0x0B
PCI_EXT_CAP_ID_DVSEC = 0x23

VNDR = layout(
    "vsec", "Vendor-Specific Extended Capability", PCI_EXT_CAP_ID_VNDR,
    reg("PCI_VNDR_HEADER", 0x04, 4,
        bits("PCI_VNDR_HEADER_ID", 0, 15, "ID", None, "VSEC ID, meaning chosen by the function's vendor"),
        bits("PCI_VNDR_HEADER_REV", 16, 19, "Rev", None, "VSEC Revision"),
        bits("PCI_VNDR_HEADER_LEN", 20, 31, "Len", None, "VSEC Length in bytes, header included"),
        label="Vendor-Specific Header"),
    extended=True,
    doc="Registers whose meaning the function's vendor (PCI_VENDOR_ID) defines.",
)

DVSEC = layout(
    "dvsec", "Designated Vendor-Specific Extended Capability", PCI_EXT_CAP_ID_DVSEC,
    reg("PCI_DVSEC_HEADER1", 0x04, 4,
        bits("PCI_DVSEC_HEADER1_VID", 0, 15, "Vendor", None, "DVSEC Vendor ID: whose definition this is"),
        bits("PCI_DVSEC_HEADER1_REV", 16, 19, "Rev", None, "DVSEC Revision"),
        bits("PCI_DVSEC_HEADER1_LEN", 20, 31, "Len", None, "DVSEC Length in bytes, header included"),
        label="Designated Vendor-Specific Header 1"),
    reg("PCI_DVSEC_HEADER2", 0x08, 2,
        bits("PCI_DVSEC_HEADER2_ID", 0, 15, "ID", None, "DVSEC ID, meaning chosen by the DVSEC vendor"),
        label="Designated Vendor-Specific Header 2"),
    extended=True,
    doc="Registers defined by the vendor named in the header (e.g. CXL, 1e98), not by the function's vendor.",
)

LAYOUTS: list[Layout] = [VNDR, DVSEC]

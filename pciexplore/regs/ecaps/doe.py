"""Data Object Exchange (PCI_EXT_CAP_ID_DOE, PCIe 6.0 §7.9.24): a mailbox for CDAT, SPDM, IDE keys."""

from __future__ import annotations

from ..base import Layout, bit, bits, layout, reg

PCI_EXT_CAP_ID_DOE = 0x2E

DOE = layout(
    "doe", "Data Object Exchange", PCI_EXT_CAP_ID_DOE,
    reg("PCI_DOE_CAP", 0x04, 4,
        bit("PCI_DOE_CAP_INT_SUP", 0, "IntSup", "DOE Interrupt Support"),
        bits("PCI_DOE_CAP_INT_MSG_NUM", 1, 11, "Interrupt Message Number", None, "DOE Interrupt Message Number"),
        label="DOECap"),
    reg("PCI_DOE_CTRL", 0x08, 4,
        bit("PCI_DOE_CTRL_ABORT", 0, "", "DOE Abort"),
        bit("PCI_DOE_CTRL_INT_EN", 1, "IntEn", "DOE Interrupt Enable"),
        bit("PCI_DOE_CTRL_GO", 31, "", "DOE Go"),
        label="DOECtl"),
    reg("PCI_DOE_STATUS", 0x0C, 4,
        bit("PCI_DOE_STATUS_BUSY", 0, "Busy", "DOE Busy"),
        bit("PCI_DOE_STATUS_INT_STATUS", 1, "IntSta", "DOE Interrupt Status"),
        bit("PCI_DOE_STATUS_ERROR", 2, "Error",
            "DOE Error (lspci 3.9 tests mask 0x3 for it, so it shows Error+ when Busy or IntSta is set)"),
        bit("PCI_DOE_STATUS_DATA_OBJECT_READY", 31, "ObjectReady", "Data Object Ready"),
        label="DOESta"),
    reg("PCI_DOE_WRITE", 0x10, 4, label="Write Data Mailbox"),
    reg("PCI_DOE_READ", 0x14, 4, label="Read Data Mailbox"),
    extended=True,
)

LAYOUTS: list[Layout] = [DOE]

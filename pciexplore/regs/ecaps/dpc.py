"""Downstream Port Containment (PCI_EXT_CAP_ID_DPC, PCIe 6.0 §7.9.14)."""

from __future__ import annotations

from ..base import Layout, bit, bits, layout, reg

PCI_EXT_CAP_ID_DPC = 0x1D

DPC = layout(
    "dpc", "Downstream Port Containment", PCI_EXT_CAP_ID_DPC,
    reg("PCI_EXP_DPC_CAP", 0x04, 2,
        bits("PCI_EXP_DPC_IRQ", 0, 4, "INT Msg #", None, "DPC Interrupt Message Number"),
        bit("PCI_EXP_DPC_CAP_RP_EXT", 5, "RPExt", "Root Port Extensions for DPC"),
        bit("PCI_EXP_DPC_CAP_POISONED_TLP", 6, "PoisonedTLP", "Poisoned TLP Egress Blocking Supported"),
        bit("PCI_EXP_DPC_CAP_SW_TRIGGER", 7, "SwTrigger", "DPC Software Triggering Supported"),
        bits("PCI_EXP_DPC_RP_PIO_LOG_SIZE", 8, 11, "RP PIO Log", None, "RP PIO Log Size (DWORDs)"),
        bit("PCI_EXP_DPC_CAP_DL_ACTIVE", 12, "DL_ActiveErr", "DL_Active ERR_COR Signaling Supported"),
        label="DpcCap"),
    reg("PCI_EXP_DPC_CTL", 0x06, 2,
        bits("PCI_EXP_DPC_CTL_TRIGGER", 0, 1, "Trigger", {0: "disabled", 1: "ERR_FATAL", 2: "ERR_NONFATAL",
                                                         3: "reserved"}, "DPC Trigger Enable"),
        bit("PCI_EXP_DPC_CTL_CMPL", 2, "Cmpl", "DPC Completion Control: UR (1) or CA (0)"),
        bit("PCI_EXP_DPC_CTL_INT_EN", 3, "INT", "DPC Interrupt Enable"),
        bit("PCI_EXP_DPC_CTL_ERR_COR", 4, "ErrCor", "DPC ERR_COR Enable"),
        bit("PCI_EXP_DPC_CTL_POISONED_TLP", 5, "PoisonedTLP", "Poisoned TLP Egress Blocking Enable"),
        bit("PCI_EXP_DPC_CTL_SW_TRIGGER", 6, "SwTrigger", "DPC Software Trigger"),
        bit("PCI_EXP_DPC_CTL_DL_ACTIVE", 7, "DL_ActiveErr", "DL_Active ERR_COR Enable"),
        label="DpcCtl"),
    reg("PCI_EXP_DPC_STATUS", 0x08, 2,
        bit("PCI_EXP_DPC_STATUS_TRIGGER", 0, "Trigger", "DPC Trigger Status"),
        bits("PCI_EXP_DPC_STATUS_TRIGGER_RSN", 1, 2, "Reason", {0: "unmasked uncorrectable error",
                                                               1: "ERR_NONFATAL", 2: "ERR_FATAL",
                                                               3: "see extension"}, "DPC Trigger Reason"),
        bit("PCI_EXP_DPC_STATUS_INTERRUPT", 3, "INT", "DPC Interrupt Status"),
        bit("PCI_EXP_DPC_RP_BUSY", 4, "RPBusy", "DPC RP Busy"),
        bits("PCI_EXP_DPC_STATUS_TRIGGER_RSN_EXT", 5, 6, "TriggerExt", None, "DPC Trigger Reason Extension"),
        bits("PCI_EXP_DPC_RP_PIO_FEP", 8, 12, "RP PIO ErrPtr", None, "RP PIO First Error Pointer"),
        label="DpcSta"),
    reg("PCI_EXP_DPC_SOURCE_ID", 0x0A, 2, label="Source", doc="Requester ID of the ERR_FATAL/NONFATAL that triggered DPC"),
    reg("PCI_EXP_DPC_RP_PIO_STATUS", 0x0C, 4, doc="RP PIO Status"),
    reg("PCI_EXP_DPC_RP_PIO_MASK", 0x10, 4, doc="RP PIO Mask"),
    reg("PCI_EXP_DPC_RP_PIO_SEVERITY", 0x14, 4, doc="RP PIO Severity"),
    reg("PCI_EXP_DPC_RP_PIO_SYSERROR", 0x18, 4, doc="RP PIO SysError"),
    reg("PCI_EXP_DPC_RP_PIO_EXCEPTION", 0x1C, 4, doc="RP PIO Exception"),
    extended=True,
    doc="Halts traffic below a Downstream Port after an uncorrectable error, so it cannot spread.",
)

LAYOUTS: list[Layout] = [DPC]

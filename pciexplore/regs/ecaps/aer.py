"""Advanced Error Reporting (PCI_EXT_CAP_ID_ERR, PCIe 6.0 §7.8.4).

Uncorrectable status, mask and severity share one bit layout, as do correctable status and mask.
Fields lspci 3.9 prints carry its label; newer bits (named in the spec, not shown by lspci 3.9)
carry none.  The root-port registers (from PCI_ERR_ROOT_COMMAND) exist only in Root Ports and
Root Complex Event Collectors.
"""

from __future__ import annotations

from ..base import Field, Layout, bit, bits, layout, reg
from ..caps.express import PCI_EXP_TYPE_RC_EC, PCI_EXP_TYPE_ROOT_PORT, port_type
from . import express_of

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module
if TYPE_CHECKING:
    from typing import Any

PCI_EXT_CAP_ID_ERR = 0x01


def _uncorrectable() -> tuple[Field, ...]:
    return (
        bit("PCI_ERR_UNC_UND", 0, "", "Undefined (Training Error in PCIe 1.0a)"),
        bit("PCI_ERR_UNC_DLP", 4, "DLP", "Data Link Protocol Error"),
        bit("PCI_ERR_UNC_SURPDN", 5, "SDES", "Surprise Down Error"),
        bit("PCI_ERR_UNC_POISON_TLP", 12, "TLP", "Poisoned TLP Received"),
        bit("PCI_ERR_UNC_FCP", 13, "FCP", "Flow Control Protocol Error"),
        bit("PCI_ERR_UNC_COMP_TIME", 14, "CmpltTO", "Completion Timeout"),
        bit("PCI_ERR_UNC_COMP_ABORT", 15, "CmpltAbrt", "Completer Abort"),
        bit("PCI_ERR_UNC_UNX_COMP", 16, "UnxCmplt", "Unexpected Completion"),
        bit("PCI_ERR_UNC_RX_OVER", 17, "RxOF", "Receiver Overflow"),
        bit("PCI_ERR_UNC_MALF_TLP", 18, "MalfTLP", "Malformed TLP"),
        bit("PCI_ERR_UNC_ECRC", 19, "ECRC", "ECRC Error"),
        bit("PCI_ERR_UNC_UNSUP", 20, "UnsupReq", "Unsupported Request Error"),
        bit("PCI_ERR_UNC_ACSV", 21, "ACSViol", "ACS Violation"),
        bit("PCI_ERR_UNC_INTN", 22, "", "Uncorrectable Internal Error"),
        bit("PCI_ERR_UNC_MCBTLP", 23, "", "MC Blocked TLP"),
        bit("PCI_ERR_UNC_ATOMEG", 24, "", "AtomicOp Egress Blocked"),
        bit("PCI_ERR_UNC_TLPPRE", 25, "", "TLP Prefix Blocked Error"),
        bit("PCI_ERR_UNC_POISON_BLK", 26, "", "Poisoned TLP Egress Blocked"),
    )


def _correctable() -> tuple[Field, ...]:
    return (
        bit("PCI_ERR_COR_RCVR", 0, "RxErr", "Receiver Error"),
        bit("PCI_ERR_COR_BAD_TLP", 6, "BadTLP", "Bad TLP"),
        bit("PCI_ERR_COR_BAD_DLLP", 7, "BadDLLP", "Bad DLLP"),
        bit("PCI_ERR_COR_REP_ROLL", 8, "Rollover", "REPLAY_NUM Rollover"),
        bit("PCI_ERR_COR_REP_TIMER", 12, "Timeout", "Replay Timer Timeout"),
        bit("PCI_ERR_COR_ADV_NFAT", 13, "AdvNonFatalErr", "Advisory Non-Fatal Error"),
        bit("PCI_ERR_COR_INTERNAL", 14, "", "Corrected Internal Error"),
        bit("PCI_ERR_COR_LOG_OVER", 15, "", "Header Log Overflow"),
    )


def _is_root(block: Any) -> bool:
    """Root Port or Root Complex Event Collector, as the function's (last, like lspci) Express capability says."""
    exp = express_of(block)
    return exp is not None and port_type(exp) in (PCI_EXP_TYPE_ROOT_PORT, PCI_EXP_TYPE_RC_EC)


AER = layout(
    "aer", "Advanced Error Reporting", PCI_EXT_CAP_ID_ERR,
    reg("PCI_ERR_UNCOR_STATUS", 0x04, 4, *_uncorrectable(), label="UESta"),
    reg("PCI_ERR_UNCOR_MASK", 0x08, 4, *_uncorrectable(), label="UEMsk"),
    reg("PCI_ERR_UNCOR_SEVER", 0x0C, 4, *_uncorrectable(), label="UESvrt",
        doc="1: the error is reported as fatal, 0: as non-fatal"),
    reg("PCI_ERR_COR_STATUS", 0x10, 4, *_correctable(), label="CESta"),
    reg("PCI_ERR_COR_MASK", 0x14, 4, *_correctable(), label="CEMsk"),
    reg("PCI_ERR_CAP", 0x18, 4,
        bits("PCI_ERR_CAP_FEP", 0, 4, "First Error Pointer", None,
             "Bit position (in PCI_ERR_UNCOR_STATUS) of the first error reported"),
        bit("PCI_ERR_CAP_ECRC_GENC", 5, "ECRCGenCap", "ECRC Generation Capable"),
        bit("PCI_ERR_CAP_ECRC_GENE", 6, "ECRCGenEn", "ECRC Generation Enable"),
        bit("PCI_ERR_CAP_ECRC_CHKC", 7, "ECRCChkCap", "ECRC Check Capable"),
        bit("PCI_ERR_CAP_ECRC_CHKE", 8, "ECRCChkEn", "ECRC Check Enable"),
        bit("PCI_ERR_CAP_MULT_HDRC", 9, "MultHdrRecCap", "Multiple Header Recording Capable"),
        bit("PCI_ERR_CAP_MULT_HDRE", 10, "MultHdrRecEn", "Multiple Header Recording Enable"),
        bit("PCI_ERR_CAP_TLP_PFX", 11, "TLPPfxPres", "TLP Prefix Log Present"),
        bit("PCI_ERR_CAP_HDR_LOG", 12, "HdrLogCap", "Completion Timeout Prefix/Header Log Capable"),
        label="AERCap"),
    reg("PCI_ERR_HEADER_LOG", 0x1C, 4, label="HeaderLog", doc="Header of the TLP in error, DW 0"),
    reg("PCI_ERR_HEADER_LOG_1", 0x20, 4, label="HeaderLog", doc="Header of the TLP in error, DW 1"),
    reg("PCI_ERR_HEADER_LOG_2", 0x24, 4, label="HeaderLog", doc="Header of the TLP in error, DW 2"),
    reg("PCI_ERR_HEADER_LOG_3", 0x28, 4, label="HeaderLog", doc="Header of the TLP in error, DW 3"),
    reg("PCI_ERR_ROOT_COMMAND", 0x2C, 4,
        bit("PCI_ERR_ROOT_CMD_COR_EN", 0, "CERptEn", "Correctable Error Reporting Enable"),
        bit("PCI_ERR_ROOT_CMD_NONFATAL_EN", 1, "NFERptEn", "Non-Fatal Error Reporting Enable"),
        bit("PCI_ERR_ROOT_CMD_FATAL_EN", 2, "FERptEn", "Fatal Error Reporting Enable"),
        label="RootCmd", when=_is_root),
    reg("PCI_ERR_ROOT_STATUS", 0x30, 4,
        bit("PCI_ERR_ROOT_COR_RCV", 0, "CERcvd", "ERR_COR Received"),
        bit("PCI_ERR_ROOT_MULTI_COR_RCV", 1, "MultCERcvd", "Multiple ERR_COR Received"),
        bit("PCI_ERR_ROOT_UNCOR_RCV", 2, "UERcvd", "ERR_FATAL/NONFATAL Received"),
        bit("PCI_ERR_ROOT_MULTI_UNCOR_RCV", 3, "MultUERcvd", "Multiple ERR_FATAL/NONFATAL Received"),
        bit("PCI_ERR_ROOT_FIRST_FATAL", 4, "FirstFatal", "First Uncorrectable Fatal"),
        bit("PCI_ERR_ROOT_NONFATAL_RCV", 5, "NonFatalMsg", "Non-Fatal Error Messages Received"),
        bit("PCI_ERR_ROOT_FATAL_RCV", 6, "FatalMsg", "Fatal Error Messages Received"),
        bits("PCI_ERR_ROOT_AER_IRQ", 27, 31, "IntMsg", None, "Advanced Error Interrupt Message Number"),
        label="RootSta", when=_is_root),
    reg("PCI_ERR_ROOT_COR_SRC", 0x34, 2, label="ERR_COR", when=_is_root,
        doc="Requester ID of the first ERR_COR received"),
    reg("PCI_ERR_ROOT_SRC", 0x36, 2, label="ERR_FATAL/NONFATAL", when=_is_root,
        doc="Requester ID of the first ERR_FATAL/NONFATAL received"),
    extended=True,
    doc="Error status, mask and severity per error type; header log of the first error; root error collection.",
)

LAYOUTS: list[Layout] = [AER]

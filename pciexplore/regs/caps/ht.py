"""HyperTransport (PCI_CAP_ID_HT, HyperTransport I/O Link 3.10 §7): one id, many capability types.

The type sits in the top bits of the command register: 3 bits for the Slave/Primary and
Host/Secondary interface blocks, 5 bits for the rest.  Registers of one type carry `when` so that
`Block.registers()` lists only what this block has.  pci_regs.h names only the types
(PCI_HT_CAP_*); register and field names follow pciutils' header.h.
"""

from __future__ import annotations

from collections.abc import Callable

from ..base import Field, Layout, bit, bits, layout, reg

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module
if TYPE_CHECKING:
    from typing import Any

PCI_CAP_ID_HT = 0x08

#: PCI_HT_CMD_TYP (5-bit form), lspci's words
TYPES = {
    0x08: "Switch", 0x10: "Interrupt Discovery and Configuration", 0x11: "Revision ID",
    0x12: "UnitID Clumping", 0x13: "Extended Configuration Space Access", 0x14: "Address Mapping",
    0x15: "MSI Mapping", 0x16: "DirectRoute", 0x17: "VCSet", 0x18: "Retry Mode", 0x19: "X86 (reserved)",
}
#: PCI_HT_CMD_TYP_HI (3-bit form)
TYPES_HI = {0: "Slave or Primary Interface", 1: "Host or Secondary Interface"}
LINK_WIDTHS = {0: "8bit", 1: "16bit", 2: "[2]", 3: "32bit", 4: "2bit", 5: "4bit", 6: "[6]", 7: "N/C"}
LINK_FREQS = {0: "200MHz", 1: "300MHz", 2: "400MHz", 3: "500MHz", 4: "600MHz", 5: "800MHz", 6: "1.0GHz",
              7: "1.2GHz", 8: "1.4GHz", 9: "1.6GHz", 10: "[a]", 11: "[b]", 12: "[c]", 13: "[d]", 14: "[e]",
              15: "Vend"}

TYPE_PRI = 0
TYPE_SEC = 1
TYPE_RID = 0x11
TYPE_MSIM = 0x15


def ht_type(block: Any) -> int:
    """0 (primary) or 1 (secondary) from the 3-bit form, else the 5-bit PCI_HT_CMD_TYP value."""
    cmd = block.get("PCI_HT_CMD") or 0
    hi = cmd >> 13
    return hi if hi in (TYPE_PRI, TYPE_SEC) else cmd >> 11


def is_pri(block: Any) -> bool:
    return ht_type(block) == TYPE_PRI


def is_sec(block: Any) -> bool:
    return ht_type(block) == TYPE_SEC


def _of_type(kind: int) -> Callable[[Any], bool]:
    def when(block: Any) -> bool:
        return ht_type(block) == kind
    when.__name__ = f"is_type_{kind:02x}"
    return when


def is_rid(block: Any) -> bool:
    return ht_type(block) == TYPE_RID


def is_msim(block: Any) -> bool:
    return ht_type(block) == TYPE_MSIM


def _is_msim_movable(block: Any) -> bool:
    return is_msim(block) and not block.get("PCI_HT_MSIM_CMD", "PCI_HT_MSIM_CMD_FIXD")


LCTR = (
    bit("PCI_HT_LCTR_CFLE", 1, "CFlE", "CRC flood enable"),
    bit("PCI_HT_LCTR_CST", 2, "CST", "CRC start test"),
    bit("PCI_HT_LCTR_CFE", 3, "CFE", "CRC force error"),
    bit("PCI_HT_LCTR_LKFAIL", 4, "<LkFail", "Link failure"),
    bit("PCI_HT_LCTR_INIT", 5, "Init", "Initialization complete"),
    bit("PCI_HT_LCTR_EOC", 6, "EOC", "End of chain"),
    bit("PCI_HT_LCTR_TXO", 7, "TXO", "Transmitter off"),
    bits("PCI_HT_LCTR_CRCERR", 8, 11, "<CRCErr", None, "CRC error, one bit per byte lane"),
    bit("PCI_HT_LCTR_ISOCEN", 12, "IsocEn", "Isochronous flow control enable"),
    bit("PCI_HT_LCTR_LSEN", 13, "LSEn", "LDTSTOP# tristate enable"),
    bit("PCI_HT_LCTR_EXTCTL", 14, "ExtCTL", "Extended CTL time"),
    bit("PCI_HT_LCTR_64B", 15, "64b", "64-bit addressing enable"),
)
LCNF = (
    bits("PCI_HT_LCNF_MLWI", 0, 2, "MLWI", LINK_WIDTHS, "Max link width in"),
    bit("PCI_HT_LCNF_DFI", 3, "DwFcIn", "Doubleword flow control in"),
    bits("PCI_HT_LCNF_MLWO", 4, 6, "MLWO", LINK_WIDTHS, "Max link width out"),
    bit("PCI_HT_LCNF_DFO", 7, "DwFcOut", "Doubleword flow control out"),
    bits("PCI_HT_LCNF_LWI", 8, 10, "LWI", LINK_WIDTHS, "Link width in"),
    bit("PCI_HT_LCNF_DFIE", 11, "DwFcInEn", "Doubleword flow control in enable"),
    bits("PCI_HT_LCNF_LWO", 12, 14, "LWO", LINK_WIDTHS, "Link width out"),
    bit("PCI_HT_LCNF_DFOE", 15, "DwFcOutEn", "Doubleword flow control out enable"),
)
RID = (
    bits("PCI_HT_RID_MIN", 0, 4, "minor", None, "Minor revision"),
    bits("PCI_HT_RID_MAJ", 5, 7, "major", None, "Major revision"),
)
LFRER = (
    bits("PCI_HT_LFRER_FREQ", 0, 3, "Link Frequency", LINK_FREQS, "Transmitter clock frequency"),
    bit("PCI_HT_LFRER_PROT", 4, "<Prot", "Protocol error"),
    bit("PCI_HT_LFRER_OV", 5, "<Ovfl", "Overflow error"),
    bit("PCI_HT_LFRER_EOC", 6, "<EOC", "End of chain error"),
    bit("PCI_HT_LFRER_CTLT", 7, "CTLTm", "CTL timeout"),
)
LFCAP = (
    *(bit(f"PCI_HT_LFCAP_{name}", n, label) for n, (name, label) in enumerate(
        [("200", "200MHz"), ("300", "300MHz"), ("400", "400MHz"), ("500", "500MHz"), ("600", "600MHz"),
         ("800", "800MHz"), ("1000", "1.0GHz"), ("1200", "1.2GHz"), ("1400", "1.4GHz"), ("1600", "1.6GHz")])),
    bit("PCI_HT_LFCAP_VEND", 15, "Vend", "Vendor-specific frequency"),
)
FTR = (
    bit("PCI_HT_FTR_ISOCFC", 0, "IsocFC", "Isochronous flow control mode"),
    bit("PCI_HT_FTR_LDTSTOP", 1, "LDTSTOP", "LDTSTOP# supported"),
    bit("PCI_HT_FTR_CRCTM", 2, "CRCTM", "CRC test mode"),
    bit("PCI_HT_FTR_ECTLT", 3, "ECTLT", "Extended CTL time required"),
    bit("PCI_HT_FTR_64BA", 4, "64bA", "64-bit addressing"),
    bit("PCI_HT_FTR_UIDRD", 5, "UIDRD", "UnitID reorder disable"),
)
EH: tuple[Field, ...] = tuple(bit(f"PCI_HT_EH_{name}", n, label, doc) for n, (name, label, doc) in enumerate([
    ("PFLE", "PFlE", "Protocol error flood enable"), ("OFLE", "OFlE", "Overflow error flood enable"),
    ("PFE", "PFE", "Protocol error fatal enable"), ("OFE", "OFE", "Overflow error fatal enable"),
    ("EOCFE", "EOCFE", "End of chain error fatal enable"), ("RFE", "RFE", "Response error fatal enable"),
    ("CRCFE", "CRCFE", "CRC error fatal enable"), ("SERRFE", "SERRFE", "System error fatal enable"),
    ("CF", "CF", "Chain fail"), ("RE", "RE", "Response error"),
    ("PNFE", "PNFE", "Protocol error nonfatal enable"), ("ONFE", "ONFE", "Overflow error nonfatal enable"),
    ("EOCNFE", "EOCNFE", "End of chain error nonfatal enable"), ("RNFE", "RNFE", "Response error nonfatal enable"),
    ("CRCNFE", "CRCNFE", "CRC error nonfatal enable"), ("SERRNFE", "SERRNFE", "System error nonfatal enable"),
]))

_RM_CTR = (
    bit("PCI_HT_RM_CTR_LRETEN", 0, "LRetEn", "Link retry enable"),
    bit("PCI_HT_RM_CTR_FSER", 1, "FSErr", "Force single error"),
    bit("PCI_HT_RM_CTR_ROLNEN", 2, "RolNEn", "Rollover nonfatal enable"),
    bit("PCI_HT_RM_CTR_FSS", 3, "FSS", "Force single stomp"),
    bit("PCI_HT_RM_CTR_RETNEN", 4, "RetNEn", "Retry nonfatal enable"),
    bit("PCI_HT_RM_CTR_RETFEN", 5, "RetFEn", "Retry fatal enable"),
    bits("PCI_HT_RM_CTR_AA", 6, 7, "AllowedAttempts", None, "Allowed attempts"),
)
_RM_STS = (
    bit("PCI_HT_RM_STS_RETSNT", 0, "RetSnt", "Retry sent"),
    bit("PCI_HT_RM_STS_CNTROL", 1, "CntRol", "Count rollover"),
    bit("PCI_HT_RM_STS_SRCV", 2, "SRcv", "Stomp received"),
)

HT = layout(
    "ht", "HyperTransport", PCI_CAP_ID_HT,
    reg("PCI_HT_CMD", 0x02, 2,
        bits("PCI_HT_CMD_TYP_HI", 13, 15, "type", TYPES_HI, "Capability type, 3-bit form"),
        bits("PCI_HT_CMD_TYP", 11, 15, "type", TYPES, "Capability type, 5-bit form"),
        label="Command"),
    # Slave or Primary Interface
    reg("PCI_HT_PRI_CMD", 0x02, 2,
        bits("PCI_HT_PRI_CMD_BUID", 0, 4, "BaseUnitID", None, "Base UnitID"),
        bits("PCI_HT_PRI_CMD_UC", 5, 9, "UnitCnt", None, "Unit count"),
        bit("PCI_HT_PRI_CMD_MH", 10, "MastHost", "Master host"),
        bit("PCI_HT_PRI_CMD_DD", 11, "DefDir", "Default direction"),
        bit("PCI_HT_PRI_CMD_DUL", 12, "DUL", "Drop on uninitialized link"),
        label="Command", when=is_pri),
    reg("PCI_HT_PRI_LCTR0", 0x04, 2, *LCTR, label="Link Control 0", when=is_pri),
    reg("PCI_HT_PRI_LCNF0", 0x06, 2, *LCNF, label="Link Config 0", when=is_pri),
    reg("PCI_HT_PRI_LCTR1", 0x08, 2, *LCTR, label="Link Control 1", when=is_pri),
    reg("PCI_HT_PRI_LCNF1", 0x0A, 2, *LCNF, label="Link Config 1", when=is_pri),
    reg("PCI_HT_PRI_RID", 0x0C, 1, *RID, label="Revision ID", when=is_pri),
    reg("PCI_HT_PRI_LFRER0", 0x0D, 1, *LFRER, label="Link Error 0", when=is_pri),
    reg("PCI_HT_PRI_LFCAP0", 0x0E, 2, *LFCAP, label="Link Frequency Capability 0", when=is_pri),
    reg("PCI_HT_PRI_FTR", 0x10, 1, *FTR, label="Feature Capability", when=is_pri),
    reg("PCI_HT_PRI_LFRER1", 0x11, 1, *LFRER, label="Link Error 1", when=is_pri),
    reg("PCI_HT_PRI_LFCAP1", 0x12, 2, *LFCAP, label="Link Frequency Capability 1", when=is_pri),
    reg("PCI_HT_PRI_ES", 0x14, 2, label="Enumeration Scratchpad", when=is_pri),
    reg("PCI_HT_PRI_EH", 0x16, 2, *EH, label="Error Handling", when=is_pri),
    reg("PCI_HT_PRI_MBU", 0x18, 1, label="Prefetchable memory behind bridge Upper", when=is_pri),
    reg("PCI_HT_PRI_MLU", 0x19, 1, label="Prefetchable memory limit Upper", when=is_pri),
    reg("PCI_HT_PRI_BN", 0x1A, 1, label="Bus Number", when=is_pri),
    # Host or Secondary Interface
    reg("PCI_HT_SEC_CMD", 0x02, 2,
        bit("PCI_HT_SEC_CMD_WR", 0, "WarmRst", "Warm reset"),
        bit("PCI_HT_SEC_CMD_DE", 1, "DblEnd", "Double-ended"),
        bits("PCI_HT_SEC_CMD_DN", 2, 6, "DevNum", None, "Device number"),
        bit("PCI_HT_SEC_CMD_CS", 7, "ChainSide", "Chain side"),
        bit("PCI_HT_SEC_CMD_HH", 8, "HostHide", "Host hide"),
        bit("PCI_HT_SEC_CMD_AS", 10, "Slave", "Act as slave"),
        bit("PCI_HT_SEC_CMD_HIECE", 11, "<EOCErr", "Host inbound end of chain error"),
        bit("PCI_HT_SEC_CMD_DUL", 12, "DUL", "Drop on uninitialized link"),
        label="Command", when=is_sec),
    reg("PCI_HT_SEC_LCTR", 0x04, 2, *LCTR, label="Link Control", when=is_sec),
    reg("PCI_HT_SEC_LCNF", 0x06, 2, *LCNF, label="Link Config", when=is_sec),
    reg("PCI_HT_SEC_RID", 0x08, 1, *RID, label="Revision ID", when=is_sec),
    reg("PCI_HT_SEC_LFRER", 0x09, 1, *LFRER, label="Link Error", when=is_sec),
    reg("PCI_HT_SEC_LFCAP", 0x0A, 2, *LFCAP, label="Link Frequency Capability", when=is_sec),
    reg("PCI_HT_SEC_FTR", 0x0C, 2, *FTR,
        bit("PCI_HT_SEC_FTR_EXTRS", 8, "ExtRS", "Extended register set (error handling, memory upper)"),
        bit("PCI_HT_SEC_FTR_UCNFE", 9, "UCnfE", "Upstream configuration enable"),
        label="Feature Capability", when=is_sec),
    reg("PCI_HT_SEC_ES", 0x10, 2, label="Enumeration Scratchpad", when=is_sec),
    reg("PCI_HT_SEC_EH", 0x12, 2, *EH, label="Error Handling", when=is_sec),
    reg("PCI_HT_SEC_MBU", 0x14, 1, label="Prefetchable memory behind bridge Upper", when=is_sec),
    reg("PCI_HT_SEC_MLU", 0x15, 1, label="Prefetchable memory limit Upper", when=is_sec),
    # Switch
    reg("PCI_HT_SW_CMD", 0x02, 2,
        bit("PCI_HT_SW_CMD_VIBERR", 7, "VIBErr", "VIB error"),
        bit("PCI_HT_SW_CMD_VIBFL", 8, "VIBFl", "VIB flood"),
        bit("PCI_HT_SW_CMD_VIBFT", 9, "VIBFt", "VIB fatal"),
        bit("PCI_HT_SW_CMD_VIBNFT", 10, "VIBNFt", "VIB nonfatal"),
        label="Command", when=_of_type(0x08)),
    reg("PCI_HT_SW_PMASK", 0x04, 4, label="Partition Mask", when=_of_type(0x08)),
    reg("PCI_HT_SW_SWINF", 0x08, 4,
        bits("PCI_HT_SW_SWINF_DP", 0, 4, "DefaultPort", None, "Default port"),
        bit("PCI_HT_SW_SWINF_EN", 5, "EnableDecode", "Enable decode"),
        bit("PCI_HT_SW_SWINF_CR", 6, "ColdReset", "Cold reset"),
        bits("PCI_HT_SW_SWINF_PCIDX", 8, 11, "PerfIndex", None, "Performance counter index"),
        bits("PCI_HT_SW_SWINF_BLRIDX", 12, 17, "BLRIndex", None, "Base/limit range index"),
        bit("PCI_HT_SW_SWINF_HP", 18, "HotPlug", "Hot plug"),
        bit("PCI_HT_SW_SWINF_HIDE", 19, "Hide", "Hide port"),
        label="Switch Info", when=_of_type(0x08)),
    reg("PCI_HT_SW_PCD", 0x0C, 4, label="Performance Counter Data", when=_of_type(0x08)),
    reg("PCI_HT_SW_BLRD", 0x10, 4, label="Base/Limit Range Data", when=_of_type(0x08)),
    reg("PCI_HT_SW_SBD", 0x14, 4, label="Secondary Base Data", when=_of_type(0x08)),
    # Interrupt Discovery and Configuration: an index/data window onto the interrupt definitions
    reg("PCI_HT_IDC_IDX", 0x02, 1, label="Index", when=_of_type(0x10)),
    reg("PCI_HT_IDC_DATA", 0x04, 4, label="Data", when=_of_type(0x10)),
    # Revision ID
    reg("PCI_HT_RID_RID", 0x02, 1, *RID, label="Revision ID", when=is_rid),
    # UnitID Clumping
    reg("PCI_HT_UIDC_CS", 0x04, 4, label="Clumping Support", when=_of_type(0x12)),
    reg("PCI_HT_UIDC_CE", 0x08, 4, label="Clumping Enable", when=_of_type(0x12)),
    # Extended Configuration Space Access
    reg("PCI_HT_ECSA_ADDR", 0x04, 4,
        bits("PCI_HT_ECSA_ADDR_REG", 2, 11, "Register"),
        bits("PCI_HT_ECSA_ADDR_FUN", 12, 14, "Function"),
        bits("PCI_HT_ECSA_ADDR_DEV", 15, 19, "Device"),
        bits("PCI_HT_ECSA_ADDR_BUS", 20, 27, "Bus"),
        bit("PCI_HT_ECSA_ADDR_TYPE", 28, "Type", "Access type"),
        label="Configuration Address", when=_of_type(0x13)),
    reg("PCI_HT_ECSA_DATA", 0x08, 4, label="Configuration Data", when=_of_type(0x13)),
    # Address Mapping
    reg("PCI_HT_AM_CMD", 0x02, 2,
        bits("PCI_HT_AM_CMD_NDMA", 0, 3, "DMAMappings", None, "Number of DMA mappings"),
        bits("PCI_HT_AM_CMD_IOSIZ", 4, 8, "IOSize", None, "I/O size"),
        bits("PCI_HT_AM_CMD_MT", 9, 10, "MapType", {0: "40-bit", 1: "64-bit"}, "Map type"),
        label="Command", when=_of_type(0x14)),
    # DirectRoute
    reg("PCI_HT_DR_CMD", 0x02, 2,
        bits("PCI_HT_DR_CMD_NDRS", 0, 3, "Spaces", None, "Number of DirectRoute spaces"),
        bits("PCI_HT_DR_CMD_IDX", 4, 8, "Index"),
        label="Command", when=_of_type(0x16)),
    reg("PCI_HT_DR_EN", 0x04, 4, label="Enable Vector", when=_of_type(0x16)),
    reg("PCI_HT_DR_DATA", 0x08, 4, label="Data", when=_of_type(0x16)),
    # VCSet
    reg("PCI_HT_VCS_SUP", 0x04, 1, label="VCSets Supported", when=_of_type(0x17)),
    reg("PCI_HT_VCS_L1EN", 0x05, 1, label="Link 1 VCSets Enabled", when=_of_type(0x17)),
    reg("PCI_HT_VCS_L0EN", 0x06, 1, label="Link 0 VCSets Enabled", when=_of_type(0x17)),
    reg("PCI_HT_VCS_SBD", 0x08, 1, label="Stream Bucket Depth", when=_of_type(0x17)),
    reg("PCI_HT_VCS_SINT", 0x09, 1, label="Stream Interval", when=_of_type(0x17)),
    reg("PCI_HT_VCS_SSUP", 0x0A, 1,
        bits("PCI_HT_VCS_SSUP_MASK", 0, 1, "Streaming VCs", {0: "VC 0", 1: "VCs 0-3", 2: "VCs 0-15"}),
        label="Streaming VCs Supported", when=_of_type(0x17)),
    reg("PCI_HT_VCS_NFCBD", 0x0C, 1, label="Non-FC Bucket Depth", when=_of_type(0x17)),
    reg("PCI_HT_VCS_NFCINT", 0x0D, 1, label="Non-FC Bucket Interval", when=_of_type(0x17)),
    # Retry Mode: link 0 and link 1 control/status, then the retry counts
    reg("PCI_HT_RM_CTR0", 0x04, 1, *_RM_CTR, label="Control 0", when=_of_type(0x18)),
    reg("PCI_HT_RM_STS0", 0x05, 1, *_RM_STS, label="Status 0", when=_of_type(0x18)),
    reg("PCI_HT_RM_CTR1", 0x06, 1, *_RM_CTR, label="Control 1", when=_of_type(0x18)),
    reg("PCI_HT_RM_STS1", 0x07, 1, *_RM_STS, label="Status 1", when=_of_type(0x18)),
    reg("PCI_HT_RM_CNT0", 0x08, 2, label="Retry Count 0", when=_of_type(0x18)),
    reg("PCI_HT_RM_CNT1", 0x0A, 2, label="Retry Count 1", when=_of_type(0x18)),
    # MSI Mapping
    reg("PCI_HT_MSIM_CMD", 0x02, 2,
        bit("PCI_HT_MSIM_CMD_EN", 0, "Enable", "MSI mapping active"),
        bit("PCI_HT_MSIM_CMD_FIXD", 1, "Fixed", "Mapping address fixed at 0xfee00000"),
        label="Command", when=is_msim),
    reg("PCI_HT_MSIM_ADDR_LO", 0x04, 4, label="Mapping Address Base", when=_is_msim_movable,
        doc="Bits 31:20 of the MSI mapping address"),
    reg("PCI_HT_MSIM_ADDR_HI", 0x08, 4, label="Mapping Address Base", when=_is_msim_movable,
        doc="Bits 63:32 of the MSI mapping address"),
)

LAYOUTS: list[Layout] = [HT]

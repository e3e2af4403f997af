"""Link and physical layer capabilities: Secondary PCIe (PCI_EXT_CAP_ID_SECPCI, PCIe 6.0 §7.7.3),
Data Link Feature (§7.7.4), Physical Layer 16.0 GT/s (§7.7.5), Lane Margining at the Receiver
(§7.7.7), Physical Layer 32.0 GT/s (§7.7.6), PCIe over M-PHY (§7.9.20), Protocol Multiplexing
(§7.9.18) and Alternate Protocol (§7.9.21).

Per-lane registers (equalization control, margining) are declared for 32 lanes and present for the
lanes of the Express capability's Maximum Link Width.  lspci 3.9 decodes only Secondary PCIe; it names
DLF, 16 GT/s, margining, M-PHY and PMUX, and shows 32 GT/s and Alternate Protocol as unknown ids.
"""

from __future__ import annotations

from collections.abc import Callable

from ..base import Field, Layout, Register, bit, bits, layout, reg
from . import express_of

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module
if TYPE_CHECKING:
    from typing import Any

PCI_EXT_CAP_ID_SECPCI = 0x19
PCI_EXT_CAP_ID_PMUX = 0x1A
PCI_EXT_CAP_ID_MPCIE = 0x20
PCI_EXT_CAP_ID_DLF = 0x25
PCI_EXT_CAP_ID_PL_16GT = 0x26
PCI_EXT_CAP_ID_LMR = 0x27
PCI_EXT_CAP_ID_PL_32GT = 0x2A
PCI_EXT_CAP_ID_APBA = 0x2B
MAX_LANES = 32


def link_width(block: Any) -> int:
    """Maximum Link Width (PCI_EXP_LNKCAP_MLW) of the function's last Express capability, 0 if unknown."""
    exp = express_of(block)
    return (exp.get("PCI_EXP_LNKCAP", "PCI_EXP_LNKCAP_MLW") or 0) if exp is not None else 0


def per_lane(name: str, at: int, width: int, fields: Callable[[str], tuple[Field, ...]], what: str) -> tuple[Register, ...]:
    """One register per lane (`name`, `name`_1, ...), present for the lanes the link has (lane 0 always)."""
    return tuple(
        reg(name if n == 0 else f"{name}_{n}", at + width * n, width, *fields(name), label=f"Lane {n} {what}",
            when=lambda b, n=n: n < max(link_width(b), 1))
        for n in range(MAX_LANES)
    )


def _secpci_lane(name: str) -> tuple[Field, ...]:
    return (
        bits(f"{name}_DSP_TX_PRESET", 0, 3, "", None, "Downstream Port 8.0 GT/s Transmitter Preset"),
        bits(f"{name}_DSP_RX_HINT", 4, 6, "", None, "Downstream Port 8.0 GT/s Receiver Preset Hint"),
        bits(f"{name}_USP_TX_PRESET", 8, 11, "", None, "Upstream Port 8.0 GT/s Transmitter Preset"),
        bits(f"{name}_USP_RX_HINT", 12, 14, "", None, "Upstream Port 8.0 GT/s Receiver Preset Hint"),
    )


def _pl_lane(rate: str) -> Callable[[str], tuple[Field, ...]]:
    def fields(name: str) -> tuple[Field, ...]:
        return (
            bits(f"{name}_DSP_TX_PRESET_MASK", 0, 3, "", None, f"Downstream Port {rate} Transmitter Preset"),
            bits(f"{name}_USP_TX_PRESET_MASK", 4, 7, "", None, f"Upstream Port {rate} Transmitter Preset"),
        )
    return fields


def _lmr_lane(name: str) -> tuple[Field, ...]:
    return (
        bits(f"{name}_RCV_NUM", 0, 2, "", None, "Receiver Number"),
        bits(f"{name}_TYPE", 3, 5, "", None, "Margin Type"),
        bit(f"{name}_USAGE_MODEL", 6, "", "Usage Model"),
        bits(f"{name}_PAYLOAD", 8, 15, "", None, "Margin Payload"),
        bits(f"{name}_STS_RCV_NUM", 16, 18, "", None, "Status: Receiver Number"),
        bits(f"{name}_STS_TYPE", 19, 21, "", None, "Status: Margin Type"),
        bit(f"{name}_STS_USAGE_MODEL", 22, "", "Status: Usage Model"),
        bits(f"{name}_STS_PAYLOAD", 24, 31, "", None, "Status: Margin Payload"),
    )


SECPCI = layout(
    "secpci", "Secondary PCI Express", PCI_EXT_CAP_ID_SECPCI,
    reg("PCI_EXP_LNKCTL3", 0x04, 4,
        bit("PCI_EXP_LNKCTL3_PERFORM_LINK_EQU", 0, "PerformEqu", "Perform Equalization"),
        bit("PCI_EXP_LNKCTL3_LINK_EQU_REQ_INT_EN", 1, "LnkEquIntrruptEn", "Link Equalization Request Interrupt Enable"),
        bits("PCI_EXP_LNKCTL3_ENBL_LOWER_SKP_OS_GEN_VEC", 9, 15, "", None,
             "Enable Lower SKP OS Generation Vector"),
        label="LnkCtl3"),
    reg("PCI_EXP_LANE_ERR_STA", 0x08, 4, label="LaneErrStat", doc="Lane Error Status: bit n set: error on lane n"),
    *per_lane("PCI_SECPCI_LE_CTRL", 0x0C, 2, _secpci_lane, "Equalization Control"),
    extended=True,
)

DLF = layout(
    "dlf", "Data Link Feature", PCI_EXT_CAP_ID_DLF,
    reg("PCI_DLF_CAP", 0x04, 4,
        bit("PCI_DLF_CAP_SCALED_FC", 0, "", "Local Scaled Flow Control Supported"),
        bit("PCI_DLF_EXCHANGE_ENABLE", 31, "", "Data Link Feature Exchange Enable"),
        label="Capabilities"),
    reg("PCI_DLF_STATUS", 0x08, 4,
        bits("PCI_DLF_STATUS_REMOTE", 0, 22, "", None, "Remote Data Link Feature Supported"),
        bit("PCI_DLF_STATUS_VALID", 31, "", "Remote Data Link Feature Supported Valid"),
        label="Status"),
    extended=True,
)


def _pl_status(prefix: str) -> tuple[Field, ...]:
    return (
        bit(f"{prefix}_EQ_COMPL", 0, "", "Equalization Complete"),
        bit(f"{prefix}_EQ_PHASE1", 1, "", "Equalization Phase 1 Successful"),
        bit(f"{prefix}_EQ_PHASE2", 2, "", "Equalization Phase 2 Successful"),
        bit(f"{prefix}_EQ_PHASE3", 3, "", "Equalization Phase 3 Successful"),
        bit(f"{prefix}_LE_REQ", 4, "", "Link Equalization Request"),
    )


PL_16GT = layout(
    "pl16", "Physical Layer 16.0 GT/s", PCI_EXT_CAP_ID_PL_16GT,
    reg("PCI_PL_16GT_CAP", 0x04, 4, label="Capabilities"),
    reg("PCI_PL_16GT_CTRL", 0x08, 4, label="Control"),
    reg("PCI_PL_16GT_STATUS", 0x0C, 4, *_pl_status("PCI_PL_16GT_STATUS"), label="Status"),
    reg("PCI_PL_16GT_LDPM", 0x10, 4, label="Local Data Parity Mismatch Status"),
    reg("PCI_PL_16GT_FRDPM", 0x14, 4, label="First Retimer Data Parity Mismatch Status"),
    reg("PCI_PL_16GT_SRDPM", 0x18, 4, label="Second Retimer Data Parity Mismatch Status"),
    *per_lane("PCI_PL_16GT_LE_CTRL", 0x20, 1, _pl_lane("16.0 GT/s"), "Equalization Control"),
    extended=True,
)

LMR = layout(
    "lmr", "Lane Margining at the Receiver", PCI_EXT_CAP_ID_LMR,
    reg("PCI_LMR_PORT_CAP", 0x04, 2, bit("PCI_LMR_PORT_CAP_DRV_SW", 0, "", "Margining uses Driver Software"),
        label="Margining Port Capabilities"),
    reg("PCI_LMR_PORT_STATUS", 0x06, 2,
        bit("PCI_LMR_PORT_STATUS_READY", 0, "", "Margining Ready"),
        bit("PCI_LMR_PORT_STATUS_SW_READY", 1, "", "Margining Software Ready"),
        label="Margining Port Status"),
    *per_lane("PCI_LMR_LANE_CTRL", 0x08, 4, _lmr_lane, "Margining Control and Status"),
    extended=True,
)

PL_32GT = layout(
    "pl32", "Physical Layer 32.0 GT/s", PCI_EXT_CAP_ID_PL_32GT,
    reg("PCI_PL_32GT_CAP", 0x04, 4,
        bit("PCI_PL_32GT_CAP_EQ_BYPASS", 0, "", "Equalization bypass to highest rate Supported"),
        bit("PCI_PL_32GT_CAP_NO_EQ", 1, "", "No Equalization Needed Supported"),
        bit("PCI_PL_32GT_CAP_MOD_TS", 8, "", "Modified TS Usage Mode 0 Supported"),
        label="Capabilities"),
    reg("PCI_PL_32GT_CTRL", 0x08, 4,
        bit("PCI_PL_32GT_CTRL_EQ_BYPASS_DIS", 0, "", "Equalization bypass to highest rate Disable"),
        bit("PCI_PL_32GT_CTRL_NO_EQ_DIS", 1, "", "No Equalization Needed Disable"),
        bits("PCI_PL_32GT_CTRL_MOD_TS_MODE", 8, 10, "", None, "Modified TS Usage Mode Selected"),
        label="Control"),
    reg("PCI_PL_32GT_STATUS", 0x0C, 4, *_pl_status("PCI_PL_32GT_STATUS"), label="Status"),
    reg("PCI_PL_32GT_RCVD_MOD_TS1", 0x10, 4, label="Received Modified TS Data 1"),
    reg("PCI_PL_32GT_RCVD_MOD_TS2", 0x14, 4, label="Received Modified TS Data 2"),
    reg("PCI_PL_32GT_TX_MOD_TS1", 0x18, 4, label="Transmitted Modified TS Data 1"),
    reg("PCI_PL_32GT_TX_MOD_TS2", 0x1C, 4, label="Transmitted Modified TS Data 2"),
    *per_lane("PCI_PL_32GT_LE_CTRL", 0x20, 1, _pl_lane("32.0 GT/s"), "Equalization Control"),
    extended=True,
)

MPCIE = layout(
    "mpcie", "PCI Express over M-PHY", PCI_EXT_CAP_ID_MPCIE,
    reg("PCI_MPCIE_CAP", 0x04, 4, label="M-PCIe Capabilities"),
    reg("PCI_MPCIE_CTRL", 0x08, 4, label="M-PCIe Control"),
    reg("PCI_MPCIE_STATUS", 0x0C, 4, label="M-PCIe Status"),
    extended=True,
)

PMUX = layout(
    "pmux", "Protocol Multiplexing", PCI_EXT_CAP_ID_PMUX,
    reg("PCI_PMUX_CAP", 0x04, 4, bits("PCI_PMUX_CAP_ARRAY_SIZE", 0, 5, "", None, "PMUX Protocol Array Size"),
        label="PMUX Capability"),
    reg("PCI_PMUX_CTRL", 0x08, 4, label="PMUX Control"),
    reg("PCI_PMUX_STATUS", 0x0C, 4, label="PMUX Status"),
    extended=True,
)

APBA = layout(
    "altproto", "Alternate Protocol", PCI_EXT_CAP_ID_APBA,
    reg("PCI_APBA_CAP", 0x04, 4, bits("PCI_APBA_CAP_COUNT", 0, 7, "", None, "Alternate Protocol Count"),
        label="Alternate Protocol Capabilities"),
    reg("PCI_APBA_CTRL", 0x08, 4, label="Alternate Protocol Control"),
    reg("PCI_APBA_DATA1", 0x0C, 4, label="Alternate Protocol Data 1"),
    reg("PCI_APBA_DATA2", 0x10, 4, label="Alternate Protocol Data 2"),
    reg("PCI_APBA_SEL_DATA", 0x14, 4, label="Alternate Protocol Selective Enable Mask"),
    extended=True,
)

LAYOUTS: list[Layout] = [SECPCI, DLF, PL_16GT, LMR, PL_32GT, MPCIE, PMUX, APBA]

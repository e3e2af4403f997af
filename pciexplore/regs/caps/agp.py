"""AGP (PCI_CAP_ID_AGP, AGP 3.0 §2.5) and the AGP 8x target bridge capability (PCI_CAP_ID_AGP3)."""

from __future__ import annotations

from ..base import Field, Layout, bit, bits, layout, reg

PCI_CAP_ID_AGP = 0x02
PCI_CAP_ID_AGP3 = 0x0E


def _common(prefix: str) -> tuple[Field, ...]:
    """Fields the Status and Command registers share, named PCI_AGP_STATUS_* or PCI_AGP_COMMAND_*."""
    return (
        bits(f"{prefix}_RATE", 0, 2, "Rate", None,
             "Transfer rates: bit 0 = 1x, 1 = 2x, 2 = 4x (in AGP3 mode: bit 0 = 4x, 1 = 8x)"),
        bit(f"{prefix}_FW", 4, "FW", "Fast writes"),
        bit(f"{prefix}_64BIT", 5, "64bit", "64-bit addressing"),
        bit(f"{prefix}_GART64", 7, "GART64", "64-bit GART entries"),
        bit(f"{prefix}_SBA", 9, "SBA", "Sideband addressing"),
        bits(f"{prefix}_CAL_MASK", 10, 12, "Cal", None, "Calibration cycle timing"),
        bits(f"{prefix}_ARQSZ_MASK", 13, 15, "ArqSz", None, "log2(optimum asynchronous request size) - 4"),
        bits(f"{prefix}_RQ_MASK", 24, 31, "RQ", None, "Maximum number of requests - 1"),
    )


AGP = layout(
    "agp", "AGP", PCI_CAP_ID_AGP,
    reg("PCI_AGP_VERSION", 0x02, 1,
        bits("PCI_AGP_VERSION_MINOR", 0, 3, "minor"), bits("PCI_AGP_VERSION_MAJOR", 4, 7, "major"),
        label="AGP version", doc="BCD version number"),
    reg("PCI_AGP_STATUS", 0x04, 4, *_common("PCI_AGP_STATUS"),
        bit("PCI_AGP_STATUS_AGP3", 3, "AGP3", "AGP3 mode supported"),
        bit("PCI_AGP_STATUS_HTRANS", 6, "HTrans", "Host translation not supported through the aperture"),
        bit("PCI_AGP_STATUS_ITA_COH", 8, "ITACoh", "In-aperture accesses always coherent"),
        bit("PCI_AGP_STATUS_ISOCH", 16, "Iso", "Isochronous transactions supported"),
        label="Status"),
    reg("PCI_AGP_COMMAND", 0x08, 4, *_common("PCI_AGP_COMMAND"),
        bit("PCI_AGP_COMMAND_AGP", 8, "AGP", "AGP transactions enabled"),
        label="Command"),
    doc="Accelerated Graphics Port master/target.",
)

AGP3 = layout(
    "agp3", "AGP3 target bridge", PCI_CAP_ID_AGP3,
    doc="AGP 8x target PCI-PCI bridge (lspci prints only its name).",
)

LAYOUTS: list[Layout] = [AGP, AGP3]

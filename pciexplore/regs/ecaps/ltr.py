"""Latency Tolerance Reporting (PCI_EXT_CAP_ID_LTR, PCIe 6.0 §7.8.2).  Each latency is a 10-bit
value times 32^scale nanoseconds."""

from __future__ import annotations

from ..base import Field, Layout, bits, layout, reg

PCI_EXT_CAP_ID_LTR = 0x18


def _latency() -> tuple[Field, ...]:
    return (
        bits("PCI_LTR_VALUE_MASK", 0, 9, "", None, "Latency value"),
        bits("PCI_LTR_SCALE_MASK", 10, 12, "", None, "Latency scale: value x 32^scale ns"),
    )


LTR = layout(
    "ltr", "Latency Tolerance Reporting", PCI_EXT_CAP_ID_LTR,
    reg("PCI_LTR_MAX_SNOOP_LAT", 0x04, 2, *_latency(), label="Max snoop latency"),
    reg("PCI_LTR_MAX_NOSNOOP_LAT", 0x06, 2, *_latency(), label="Max no snoop latency"),
    extended=True,
)

LAYOUTS: list[Layout] = [LTR]

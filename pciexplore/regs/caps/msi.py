"""MSI capability (PCI_CAP_ID_MSI, PCI Local Bus 3.0 §6.8.1): one address/data pair, up to 32 vectors.

The layout has four shapes: 32- or 64-bit message address (PCI_MSI_FLAGS_64BIT), with or without
per-vector masking (PCI_MSI_FLAGS_MASKBIT).  Registers that exist only in some shapes say so with
`when`, so `Block.registers()` lists exactly the registers this function has.
"""

from __future__ import annotations

from ..base import Layout, bit, bits, layout, reg

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module
if TYPE_CHECKING:
    from typing import Any

PCI_CAP_ID_MSI = 0x05

#: Multiple Message Capable/Enable encode a power of two: 0 -> 1 vector ... 5 -> 32 vectors
VECTOR_COUNTS = {n: str(1 << n) for n in range(8)}

FLAGS = reg(
    "PCI_MSI_FLAGS", 0x02, 2,
    bit("PCI_MSI_FLAGS_ENABLE", 0, "Enable", "MSI enable: the function signals interrupts with MSI"),
    bits("PCI_MSI_FLAGS_QMASK", 1, 3, "Count", VECTOR_COUNTS,
         "Multiple Message Capable: log2 of the vectors the function asks for (lspci: Count=enabled/capable)"),
    bits("PCI_MSI_FLAGS_QSIZE", 4, 6, "Count", VECTOR_COUNTS,
         "Multiple Message Enable: log2 of the vectors software granted"),
    bit("PCI_MSI_FLAGS_64BIT", 7, "64bit", "64-bit message address capable"),
    bit("PCI_MSI_FLAGS_MASKBIT", 8, "Maskable", "Per-vector masking capable (mask and pending registers)"),
    label="Message Control",
)


def is_64bit(block: Any) -> bool:
    """Does this MSI block have a 64-bit message address (PCI_MSI_FLAGS_64BIT)?"""
    return bool(block.get("PCI_MSI_FLAGS", "PCI_MSI_FLAGS_64BIT"))


def is_maskable(block: Any) -> bool:
    """Does this MSI block have per-vector mask and pending bits (PCI_MSI_FLAGS_MASKBIT)?"""
    return bool(block.get("PCI_MSI_FLAGS", "PCI_MSI_FLAGS_MASKBIT"))


def _addr32(block: Any) -> bool:
    return not is_64bit(block)


def _mask32(block: Any) -> bool:
    return not is_64bit(block) and is_maskable(block)


def _mask64(block: Any) -> bool:
    return is_64bit(block) and is_maskable(block)


_MASK_DOC = "Bit n set: vector n is masked (the function does not send it, it sets its pending bit instead)"
_PENDING_DOC = "Bit n set: vector n has a message waiting (read-only)"

MSI = layout(
    "msi", "MSI", PCI_CAP_ID_MSI,
    FLAGS,
    reg("PCI_MSI_ADDRESS_LO", 0x04, 4, label="Address",
        doc="Message address, low 32 bits (DWORD aligned; on x86 0xfeeXXXXX selects the target CPU)"),
    reg("PCI_MSI_ADDRESS_HI", 0x08, 4, label="Address", when=is_64bit,
        doc="Message address, high 32 bits (only with PCI_MSI_FLAGS_64BIT)"),
    reg("PCI_MSI_DATA_32", 0x08, 2, label="Data", when=_addr32,
        doc="Message data (32-bit address form); vector n sends data with its low bits replaced by n"),
    reg("PCI_MSI_DATA_64", 0x0C, 2, label="Data", when=is_64bit,
        doc="Message data (64-bit address form); vector n sends data with its low bits replaced by n"),
    reg("PCI_MSI_MASK_32", 0x0C, 4, label="Masking", when=_mask32, doc=_MASK_DOC),
    reg("PCI_MSI_PENDING_32", 0x10, 4, label="Pending", when=_mask32, doc=_PENDING_DOC),
    reg("PCI_MSI_MASK_64", 0x10, 4, label="Masking", when=_mask64, doc=_MASK_DOC),
    reg("PCI_MSI_PENDING_64", 0x14, 4, label="Pending", when=_mask64, doc=_PENDING_DOC),
    doc="Message Signalled Interrupts: the function writes Data to Address to interrupt the CPU.",
)

LAYOUTS: list[Layout] = [MSI]

"""CompactPCI hot swap (PCI_CAP_ID_CHSWP, PICMG 2.1): lspci prints only its name."""

from __future__ import annotations

from ..base import Layout, bit, bits, layout, reg

PCI_CAP_ID_CHSWP = 0x06

CHSWP = layout(
    "chswp", "CompactPCI hot-swap", PCI_CAP_ID_CHSWP,
    reg("PCI_CHSWP_CSR", 0x02, 1,
        bit("PCI_CHSWP_DHA", 0, "DHA", "Device hiding arm"),
        bit("PCI_CHSWP_EIM", 1, "EIM", "ENUM# signal mask"),
        bit("PCI_CHSWP_PIE", 2, "PIE", "Pending insert or extract"),
        bit("PCI_CHSWP_LOO", 3, "LOO", "LED on/off"),
        bits("PCI_CHSWP_PI", 4, 5, "PI", None, "Programming interface"),
        bit("PCI_CHSWP_EXT", 6, "EXT", "ENUM# status - extraction"),
        bit("PCI_CHSWP_INS", 7, "INS", "ENUM# status - insertion"),
        label="Control/Status"),
)

LAYOUTS: list[Layout] = [CHSWP]

"""Integrity and Data Encryption (PCI_EXT_CAP_ID_IDE, PCIe 6.0 §7.9.26).  lspci 3.9 predates it and
shows it as an unknown id; the link and selective IDE stream blocks that follow are sized by the
capability register and are not declared here."""

from __future__ import annotations

from ..base import Layout, bit, bits, layout, reg

PCI_EXT_CAP_ID_IDE = 0x30

IDE = layout(
    "ide", "Integrity and Data Encryption", PCI_EXT_CAP_ID_IDE,
    reg("PCI_IDE_CAP", 0x04, 4,
        bit("PCI_IDE_CAP_LINK", 0, "", "Link IDE Stream Supported"),
        bit("PCI_IDE_CAP_SELECTIVE", 1, "", "Selective IDE Streams Supported"),
        bit("PCI_IDE_CAP_FLOWTHROUGH", 2, "", "Flow-Through IDE Stream Supported"),
        bit("PCI_IDE_CAP_PARTIAL_HEADER_ENC", 3, "", "Partial Header Encryption Supported"),
        bit("PCI_IDE_CAP_AGGREGATION", 4, "", "Aggregation Supported"),
        bit("PCI_IDE_CAP_PCRC", 5, "", "PCRC Supported"),
        bit("PCI_IDE_CAP_IDE_KM", 6, "", "IDE_KM Protocol Supported"),
        bits("PCI_IDE_CAP_ALG", 8, 12, "", {0: "AES-GCM-256-96b MAC"}, "Supported Algorithms"),
        bits("PCI_IDE_CAP_LINK_TC_NUM", 13, 15, "", None, "Number of TCs Supported for Link IDE minus one"),
        bits("PCI_IDE_CAP_SEL_NUM", 16, 23, "", None, "Number of Selective IDE Streams Supported minus one"),
        label="IDE Capability"),
    reg("PCI_IDE_CTL", 0x08, 4, bit("PCI_IDE_CTL_FLOWTHROUGH_IDE", 2, "", "Flow-Through IDE Stream Enabled"),
        label="IDE Control"),
    extended=True,
)

LAYOUTS: list[Layout] = [IDE]

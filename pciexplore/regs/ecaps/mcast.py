"""Multicast (PCI_EXT_CAP_ID_MCAST, PCIe 6.0 §7.9.11).  Endpoints stop after the untranslated block
vector; ports add the overlay BAR."""

from __future__ import annotations

from ..base import Layout, bit, bits, layout, reg

PCI_EXT_CAP_ID_MCAST = 0x12

MCAST = layout(
    "mcast", "Multicast", PCI_EXT_CAP_ID_MCAST,
    reg("PCI_MCAST_CAP", 0x04, 2,
        bits("PCI_MCAST_CAP_MAX_GROUP", 0, 5, "MaxGroups", None, "MC_Max_Group minus one"),
        bits("PCI_MCAST_CAP_WIN_SIZE", 8, 13, "WindowSz", None, "MC_Window_Size_Requested (log2 bytes)"),
        bit("PCI_MCAST_CAP_ECRC", 15, "ECRCRegen", "MC ECRC Regeneration Supported"),
        label="McastCap"),
    reg("PCI_MCAST_CTRL", 0x06, 2,
        bits("PCI_MCAST_CTRL_NUM_GROUP", 0, 5, "NumGroups", None, "MC_Num_Group minus one"),
        bit("PCI_MCAST_CTRL_ENABLE", 15, "Enable", "MC_Enable"),
        label="McastCtl"),
    reg("PCI_MCAST_BAR", 0x08, 8,
        bits("PCI_MCAST_BAR_INDEX_POS", 0, 5, "IndexPos", None, "MC_Index_Position"),
        bits("PCI_MCAST_BAR_BASE", 12, 63, "BaseAddr", None, "MC_Base_Address bits 63:12"),
        label="McastBAR"),
    reg("PCI_MCAST_RCV", 0x10, 8, label="McastReceiveVec", doc="MC_Receive: one bit per group"),
    reg("PCI_MCAST_BLOCK", 0x18, 8, label="McastBlockAllVec", doc="MC_Block_All: one bit per group"),
    reg("PCI_MCAST_BLOCK_UNTRANS", 0x20, 8, label="McastBlockUntransVec",
        doc="MC_Block_Untranslated: one bit per group"),
    reg("PCI_MCAST_OVL_BAR", 0x28, 8,
        bits("PCI_MCAST_OVL_SIZE", 0, 5, "OverlaySize", None, "MC_Overlay_Size (log2 bytes; < 6 disabled)"),
        bits("PCI_MCAST_OVL_BASE", 6, 63, "BaseAddr", None, "MC_Overlay_BAR bits 63:6"),
        label="McastOverlayBAR", doc="Switch and Root Ports only"),
    extended=True,
)

LAYOUTS: list[Layout] = [MCAST]

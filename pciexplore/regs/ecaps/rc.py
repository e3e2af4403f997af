"""Root Complex structures: Link Declaration (RCLD, PCIe 6.0 §7.9.8), Internal Link Control (RCILC,
§7.9.9), Event Collector Endpoint Association (RCEC, §7.9.10) and Register Block Header (RCRB, §7.9.7).
"""

from __future__ import annotations

from ..base import Layout, bit, bits, layout, reg

PCI_EXT_CAP_ID_RCLD = 0x05
PCI_EXT_CAP_ID_RCILC = 0x06
PCI_EXT_CAP_ID_RCEC = 0x07
PCI_EXT_CAP_ID_RCRB = 0x0A
PCI_RCLINK_LINK1 = 0x10  # first link entry
PCI_RCLINK_LINK_SIZE = 0x10
PCI_RCEC_BUSN_REG_VER = 2  # least RCEC capability version with PCI_RCEC_BUSN

ELEMENT_TYPES = {0: "Config", 1: "Egress", 2: "Internal"}

RCLD = layout(
    "rclink", "Root Complex Link Declaration", PCI_EXT_CAP_ID_RCLD,
    reg("PCI_RCLINK_ESD", 0x04, 4,
        bits("PCI_RCLINK_ESD_ELT_TYPE", 0, 3, "EltType", ELEMENT_TYPES, "Element Type"),
        bits("PCI_RCLINK_ESD_LINKS", 8, 15, "", None, "Number of Link Entries"),
        bits("PCI_RCLINK_ESD_COMP_ID", 16, 23, "ComponentID", None, "Component ID"),
        bits("PCI_RCLINK_ESD_PORT_NUM", 24, 31, "PortNumber", None, "Port Number"),
        label="Desc"),
    extended=True,
    doc="Describes the element (port, egress, internal) and the links from it to other RC elements.",
)

#: One link entry (at PCI_RCLINK_LINK1 + 16 * n); not a capability, kept out of LAYOUTS.
RCLD_LINK = layout(
    "rclink_entry", "Root Complex link entry", None,
    reg("PCI_RCLINK_LINK_DESC", 0x00, 4,
        bit("PCI_RCLINK_LINK_VALID", 0, "LinkValid", "Link Valid"),
        bit("PCI_RCLINK_LINK_TYPE", 1, "LinkType", "Link Type: 1 = configuration space, 0 = memory mapped"),
        bit("PCI_RCLINK_LINK_ASSOC_RCRB", 2, "AssocRCRB", "Associate RCRB Header"),
        bits("PCI_RCLINK_LINK_TARGET_COMP", 16, 23, "TargetComponent", None, "Target Component ID"),
        bits("PCI_RCLINK_LINK_TARGET_PORT", 24, 31, "TargetPort", None, "Target Port Number"),
        label="Desc"),
    reg("PCI_RCLINK_LINK_ADDR", 0x08, 8, label="Addr", doc="Link Address: RCRB or configuration space base"),
)

RCILC = layout(
    "rcilink", "Root Complex Internal Link Control", PCI_EXT_CAP_ID_RCILC,
    reg("PCI_RCILINK_LNKCAP", 0x04, 4, label="LnkCap", doc="Root Complex Link Capabilities"),
    reg("PCI_RCILINK_LNKCTL", 0x08, 2, label="LnkCtl", doc="Root Complex Link Control"),
    reg("PCI_RCILINK_LNKSTA", 0x0A, 2, label="LnkSta", doc="Root Complex Link Status"),
    extended=True,
    doc="Link registers of an internal link between Root Complex elements (lspci 3.9 does not decode it).",
)

RCEC = layout(
    "rcec", "Root Complex Event Collector Endpoint Association", PCI_EXT_CAP_ID_RCEC,
    reg("PCI_RCEC_RCIEP_BITMAP", 0x04, 4, label="RCiEPBitmap",
        doc="Bit n set: device n on the RCEC's bus is an RCiEP associated with it"),
    reg("PCI_RCEC_BUSN", 0x08, 4,
        bits("PCI_RCEC_BUSN_NEXT", 8, 15, "", None, "RCEC Next Bus"),
        bits("PCI_RCEC_BUSN_LAST", 16, 23, "", None, "RCEC Last Bus"),
        label="AssociatedBusNumbers", when=lambda b: (b.read(2, 1) or 0) & 0xF >= PCI_RCEC_BUSN_REG_VER),
    extended=True,
    doc="Which Root Complex Integrated Endpoints report their errors and PMEs to this event collector.",
)

RCRB = layout(
    "rcrb", "Root Complex Register Block", PCI_EXT_CAP_ID_RCRB,
    reg("PCI_RCRB_VENDOR_ID", 0x04, 2, label="Vendor ID"),
    reg("PCI_RCRB_DEVICE_ID", 0x06, 2, label="Device ID"),
    reg("PCI_RCRB_CAP", 0x08, 4, bit("PCI_RCRB_CAP_CRS_SV", 0, "CRS Software Visibility"), label="Capabilities"),
    reg("PCI_RCRB_CTRL", 0x0C, 4, bit("PCI_RCRB_CTRL_CRS_SV", 0, "CRS Software Visibility Enable"), label="Control"),
    extended=True,
    doc="Identifies an RCRB's vendor and device (lspci 3.9 does not decode it).",
)

LAYOUTS: list[Layout] = [RCLD, RCILC, RCEC, RCRB]

"""Access Control Services (PCI_EXT_CAP_ID_ACS, PCIe 6.0 §7.7.11): which peer-to-peer paths a port
validates, blocks or redirects upstream (what IOMMU grouping relies on)."""

from __future__ import annotations

from ..base import Field, Layout, bit, bits, layout, reg

PCI_EXT_CAP_ID_ACS = 0x0D


def _controls(what: str) -> tuple[Field, ...]:
    return (
        bit("PCI_ACS_SV", 0, "SrcValid", f"Source Validation {what}"),
        bit("PCI_ACS_TB", 1, "TransBlk", f"Translation Blocking {what}"),
        bit("PCI_ACS_RR", 2, "ReqRedir", f"P2P Request Redirect {what}"),
        bit("PCI_ACS_CR", 3, "CmpltRedir", f"P2P Completion Redirect {what}"),
        bit("PCI_ACS_UF", 4, "UpstreamFwd", f"Upstream Forwarding {what}"),
        bit("PCI_ACS_EC", 5, "EgressCtrl", f"P2P Egress Control {what}"),
        bit("PCI_ACS_DT", 6, "DirectTrans", f"Direct Translated P2P {what}"),
    )


ACS = layout(
    "acs", "Access Control Services", PCI_EXT_CAP_ID_ACS,
    reg("PCI_ACS_CAP", 0x04, 2, *_controls("supported"),
        bits("PCI_ACS_EGRESS_CTL_SZ", 8, 15, "", None, "Egress Control Vector Size (0 means 256)"),
        label="ACSCap"),
    reg("PCI_ACS_CTRL", 0x06, 2, *_controls("enable"), label="ACSCtl"),
    reg("PCI_ACS_EGRESS_CTL_V", 0x08, 4, label="Egress Control Vector",
        when=lambda b: bool((b.read(4, 2) or 0) & 0x20)),
    extended=True,
)

LAYOUTS: list[Layout] = [ACS]

"""Extended capabilities lspci 3.9 names without decoding ("Power Budgeting <?>").  Null and unknown
ids are written by show_ext_caps itself."""

from __future__ import annotations

from collections.abc import Callable

from ...regs.ecaps import iov, misc, phy, power, rc, vc

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module

if TYPE_CHECKING:
    from ...model import Capability
    from ..lspci import Ctx


def _named(text: str) -> Callable[[Ctx, Capability], None]:
    def render(ctx: Ctx, cap: Capability) -> None:
        ctx.p(text + "\n")
    render.__name__ = "show_" + text.split(" <")[0].lower().replace(" ", "_").replace("-", "_")
    return render


RENDERERS = {
    power.PCI_EXT_CAP_ID_PWR: _named("Power Budgeting <?>"),
    rc.PCI_EXT_CAP_ID_RCILC: _named("Root Complex Internal Link <?>"),
    vc.PCI_EXT_CAP_ID_MFVC: _named("Multi-Function Virtual Channel <?>"),
    rc.PCI_EXT_CAP_ID_RCRB: _named("Root Complex Register Block <?>"),
    iov.PCI_EXT_CAP_ID_MRIOV: _named("Multi-Root I/O Virtualization <?>"),
    power.PCI_EXT_CAP_ID_DPA: _named("Dynamic Power Allocation <?>"),
    phy.PCI_EXT_CAP_ID_PMUX: _named("Protocol Multiplexing <?>"),
    misc.PCI_EXT_CAP_ID_LNR: _named("LN Requester <?>"),
    phy.PCI_EXT_CAP_ID_MPCIE: _named("PCI Express over M_PHY <?>"),
    misc.PCI_EXT_CAP_ID_FRS: _named("FRS Queueing <?>"),
    misc.PCI_EXT_CAP_ID_RTR: _named("Readiness Time Reporting <?>"),
    phy.PCI_EXT_CAP_ID_DLF: _named("Data Link Feature <?>"),
    phy.PCI_EXT_CAP_ID_PL_16GT: _named("Physical Layer 16.0 GT/s <?>"),
    phy.PCI_EXT_CAP_ID_LMR: _named("Lane Margining at the Receiver <?>"),
    misc.PCI_EXT_CAP_ID_HIER_ID: _named("Hierarchy ID <?>"),
    misc.PCI_EXT_CAP_ID_NPEM: _named("Native PCIe Enclosure Management <?>"),
}

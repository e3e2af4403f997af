"""lspci text for Advanced Error Reporting (the root registers depend on the Express port type)."""

from __future__ import annotations

from ...regs.caps.express import PCI_EXP_TYPE_RC_EC, PCI_EXP_TYPE_ROOT_PORT
from ...regs.ecaps.aer import PCI_EXT_CAP_ID_ERR
from ._words import field, flags, value

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module

if TYPE_CHECKING:
    from ...model import Capability
    from ..lspci import Ctx


_ERROR_REGISTERS = (("UESta", "PCI_ERR_UNCOR_STATUS"), ("UEMsk", "PCI_ERR_UNCOR_MASK"),
                    ("UESvrt", "PCI_ERR_UNCOR_SEVER"), ("CESta", "PCI_ERR_COR_STATUS"),
                    ("CEMsk", "PCI_ERR_COR_MASK"))


def aer(ctx: Ctx, cap: Capability) -> None:
    ctx.p("Advanced Error Reporting\n")
    if ctx.verbose < 2 or not ctx.have(cap.offset + 4, 40):
        return
    for label, name in _ERROR_REGISTERS:
        ctx.p(f"\t\t{label}:\t{flags(cap, name)}\n")
    fep = field(cap, "PCI_ERR_CAP", "PCI_ERR_CAP_FEP")
    ctx.p(f"\t\tAERCap:\tFirst Error Pointer: {fep:02x}, {flags(cap, 'PCI_ERR_CAP', stop=4)}\n"
          f"\t\t\t{flags(cap, 'PCI_ERR_CAP', start=4)}\n")
    log = " ".join(f"{value(cap, name):08x}" for name in ("PCI_ERR_HEADER_LOG", "PCI_ERR_HEADER_LOG_1",
                                                          "PCI_ERR_HEADER_LOG_2", "PCI_ERR_HEADER_LOG_3"))
    ctx.p(f"\t\tHeaderLog: {log}\n")
    # the root error registers exist in Root Ports and Event Collectors only (type from the Express cap)
    if ctx.state.get("exp_type", -1) not in (PCI_EXP_TYPE_ROOT_PORT, PCI_EXP_TYPE_RC_EC):
        return
    if not ctx.have(cap.offset + 0x2C, 12):
        return
    ctx.p(f"\t\tRootCmd: {flags(cap, 'PCI_ERR_ROOT_COMMAND')}\n")
    irq = field(cap, "PCI_ERR_ROOT_STATUS", "PCI_ERR_ROOT_AER_IRQ")
    ctx.p(f"\t\tRootSta: {flags(cap, 'PCI_ERR_ROOT_STATUS', stop=4)}\n"
          f"\t\t\t {flags(cap, 'PCI_ERR_ROOT_STATUS', start=4)} IntMsg {irq}\n")
    ctx.p(f"\t\tErrorSrc: ERR_COR: {value(cap, 'PCI_ERR_ROOT_COR_SRC'):04x} "
          f"ERR_FATAL/NONFATAL: {value(cap, 'PCI_ERR_ROOT_SRC'):04x}\n")


RENDERERS = {PCI_EXT_CAP_ID_ERR: aer}

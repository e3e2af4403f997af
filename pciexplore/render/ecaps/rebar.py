"""lspci text for Resizable BAR and VF Resizable BAR."""

from __future__ import annotations

from ...model import Block
from ...regs.ecaps.rebar import PCI_EXT_CAP_ID_REBAR, PCI_EXT_CAP_ID_VF_REBAR, REBAR_ENTRY
from ._words import field

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module

if TYPE_CHECKING:
    from ...model import Capability
    from ..lspci import Ctx

_UNITS = ("MB", "GB", "TB", "PB", "EB")


def _size(n: int) -> str:
    """A BAR size code (log2 bytes - 20) as lspci writes it: " 256MB", " 8EB"."""
    if 0 <= n < 44:
        return f" {1 << n % 10}{_UNITS[n // 10]}"
    return " <unknown>"


def _rebar(ctx: Ctx, cap: Capability, title: str) -> None:
    ctx.p(f"{title} Resizable BAR\n")
    if ctx.verbose < 2:
        return
    count = 1
    n = 0
    while n < count:
        entry = Block(cap.function, REBAR_ENTRY, cap.offset + 4 + 8 * n)
        if not ctx.have(entry.offset, 8):
            ctx.p("\t\t<unreadable>\n")
            return
        c = "PCI_REBAR_CTRL"
        if n == 0:
            count = field(entry, c, "PCI_REBAR_CTRL_NBAR_MASK")
            if not 1 <= count <= 6:
                ctx.p(f"\t\t<error in resizable BAR: num_bars={count} is out of specification>\n")
                return
        ctx.p(f"\t\tBAR {field(entry, c, 'PCI_REBAR_CTRL_BAR_IDX')}: current size:"
              f"{_size(field(entry, c, 'PCI_REBAR_CTRL_BAR_SIZE'))}")
        sizes = field(entry, "PCI_REBAR_CAP", "PCI_REBAR_CAP_SIZES") | field(entry, c, "PCI_REBAR_CTRL_SIZES") << 28
        if sizes:
            ctx.p(", supported:" + "".join(_size(i) for i in range(44) if sizes >> i & 1))
        ctx.p("\n")
        n += 1


def rebar(ctx: Ctx, cap: Capability) -> None:
    _rebar(ctx, cap, "Physical")


def vf_rebar(ctx: Ctx, cap: Capability) -> None:
    _rebar(ctx, cap, "Virtual")


RENDERERS = {PCI_EXT_CAP_ID_REBAR: rebar, PCI_EXT_CAP_ID_VF_REBAR: vf_rebar}

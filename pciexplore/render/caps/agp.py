"""lspci text for AGP and AGP3 (ls-caps.c cap_agp)."""

from __future__ import annotations

from ._fmt import flags

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module

if TYPE_CHECKING:
    from ...model import Capability, RegisterValue
    from ..lspci import Ctx


def _rate(rv: RegisterValue, name: str, agp3: bool) -> str:
    """Supported/selected rates as "x1,x2,x4" (x4,x8,x16 in AGP3 mode), or "<none>"."""
    rate = rv[name] or 0
    shift = 2 if agp3 else 0
    return ",".join(f"x{1 << (i + shift)}" for i in range(3) if rate & (1 << i)) or "<none>"


def cap_agp(ctx: Ctx, cap: Capability) -> None:
    ver = cap["PCI_AGP_VERSION"]
    major = ver["PCI_AGP_VERSION_MAJOR"] or 0
    ctx.p(f"AGP version {major:x}.{ver['PCI_AGP_VERSION_MINOR']:x}\n")
    if ctx.verbose < 2 or not ctx.have(cap.offset + 4, 8):
        return
    st = cap["PCI_AGP_STATUS"]
    agp3 = major >= 3 and bool(st["PCI_AGP_STATUS_AGP3"])
    ctx.p(f"\t\tStatus: RQ={(st['PCI_AGP_STATUS_RQ_MASK'] or 0) + 1} {flags(st, 'PCI_AGP_STATUS_ISOCH')} "
          f"ArqSz={st['PCI_AGP_STATUS_ARQSZ_MASK']} Cal={st['PCI_AGP_STATUS_CAL_MASK']} "
          + flags(st, "PCI_AGP_STATUS_SBA", "PCI_AGP_STATUS_ITA_COH", "PCI_AGP_STATUS_GART64",
                  "PCI_AGP_STATUS_HTRANS", "PCI_AGP_STATUS_64BIT", "PCI_AGP_STATUS_FW", "PCI_AGP_STATUS_AGP3")
          + f" Rate={_rate(st, 'PCI_AGP_STATUS_RATE', agp3)}\n")
    cmd = cap["PCI_AGP_COMMAND"]
    ctx.p(f"\t\tCommand: RQ={(cmd['PCI_AGP_COMMAND_RQ_MASK'] or 0) + 1} "
          f"ArqSz={cmd['PCI_AGP_COMMAND_ARQSZ_MASK']} Cal={cmd['PCI_AGP_COMMAND_CAL_MASK']} "
          + flags(cmd, "PCI_AGP_COMMAND_SBA", "PCI_AGP_COMMAND_AGP", "PCI_AGP_COMMAND_GART64",
                  "PCI_AGP_COMMAND_64BIT", "PCI_AGP_COMMAND_FW")
          + f" Rate={_rate(cmd, 'PCI_AGP_COMMAND_RATE', agp3)}\n")


def cap_agp3(ctx: Ctx, cap: Capability) -> None:
    ctx.p("AGP3 <?>\n")


RENDERERS = {0x02: cap_agp, 0x0E: cap_agp3}

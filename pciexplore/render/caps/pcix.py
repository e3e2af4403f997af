"""lspci text for PCI-X (ls-caps.c cap_pcix): device form in type 0 headers, bridge form in type 1,
nothing at all (not even a newline) in CardBus headers, as lspci 3.9 does."""

from __future__ import annotations

from ._fmt import flags, meaning

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module

if TYPE_CHECKING:
    from ...model import Capability, RegisterValue
    from ..lspci import Ctx


def _dev(st: RegisterValue) -> str:
    devfn = st["PCI_X_STATUS_DEVFN"] or 0
    return f"Dev={st['PCI_X_STATUS_BUS']:02x}:{devfn >> 3:02x}.{devfn & 7}"


def _sec_freq(sec: RegisterValue) -> str:
    freq = (sec["PCI_X_SSTATUS_FREQ"] or 0) & 7  # lspci 3.9 masks 0x01c0, not the 4-bit field
    return sec.decl.field("PCI_X_SSTATUS_FREQ").meaning(freq) or f"?{freq}"


def _device(ctx: Ctx, cap: Capability) -> None:
    ctx.p("PCI-X non-bridge device\n")
    if ctx.verbose < 2 or not ctx.have(cap.offset + 4, 4):
        return
    cmd = cap["PCI_X_CMD"]
    ctx.p(f"\t\tCommand: {flags(cmd, 'PCI_X_CMD_DPERR_E', 'PCI_X_CMD_ERO')} "
          f"RBC={meaning(cmd, 'PCI_X_CMD_MAX_READ')} OST={meaning(cmd, 'PCI_X_CMD_MAX_SPLIT')}\n")
    st = cap["PCI_X_STATUS"]
    ctx.p(f"\t\tStatus: {_dev(st)} "
          + flags(st, "PCI_X_STATUS_64BIT", "PCI_X_STATUS_133MHZ", "PCI_X_STATUS_SPL_DISC", "PCI_X_STATUS_UNX_SPL")
          + f" DC={'bridge' if st['PCI_X_STATUS_COMPLEX'] else 'simple'}"
          f" DMMRBC={meaning(st, 'PCI_X_STATUS_MAX_READ')} DMOST={meaning(st, 'PCI_X_STATUS_MAX_SPLIT')}"
          f" DMCRS={meaning(st, 'PCI_X_STATUS_MAX_CUM')} "
          + flags(st, "PCI_X_STATUS_SPL_ERR", "PCI_X_STATUS_266MHZ", "PCI_X_STATUS_533MHZ") + "\n")


def _bridge(ctx: Ctx, cap: Capability) -> None:
    ctx.p("PCI-X bridge device\n")
    if ctx.verbose < 2 or not ctx.have(cap.offset + 4, 12):
        return
    sec = cap["PCI_X_BRIDGE_SSTATUS"]
    ctx.p("\t\tSecondary Status: "
          + flags(sec, "PCI_X_SSTATUS_64BIT", "PCI_X_SSTATUS_133MHZ", "PCI_X_SSTATUS_SPL_DISC",
                  "PCI_X_SSTATUS_UNX_SPL", "PCI_X_SSTATUS_SPL_OVRN", "PCI_X_SSTATUS_SPL_DLY")
          + f" Freq={_sec_freq(sec)}\n")
    st = cap["PCI_X_BRIDGE_STATUS"]
    ctx.p(f"\t\tStatus: {_dev(st)} "
          + flags(st, "PCI_X_STATUS_64BIT", "PCI_X_STATUS_133MHZ", "PCI_X_STATUS_SPL_DISC", "PCI_X_STATUS_UNX_SPL",
                  "PCI_X_STATUS_SPL_OVRN", "PCI_X_STATUS_SPL_DLY") + "\n")
    for name in ("PCI_X_BRIDGE_UPSTREAM_STC", "PCI_X_BRIDGE_DOWNSTREAM_STC"):
        rv = cap[name]
        ctx.p(f"\t\t{rv.decl.label}: Capacity={rv['PCI_X_BRIDGE_STR_CAPACITY']} "
              f"CommitmentLimit={rv['PCI_X_BRIDGE_STR_COMMITMENT_LIMIT']}\n")


def cap_pcix(ctx: Ctx, cap: Capability) -> None:
    htype = ctx.fn.header_type
    if htype == 0:
        _device(ctx, cap)
    elif htype == 1:
        _bridge(ctx, cap)
    ctx.state["can_have_ext_caps"] = True


RENDERERS = {0x07: cap_pcix}

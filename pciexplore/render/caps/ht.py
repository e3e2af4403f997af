"""lspci text for HyperTransport (ls-caps.c cap_ht, cap_ht_pri, cap_ht_sec)."""

from __future__ import annotations

from ...model import RegisterValue
from ...regs.caps.ht import TYPE_MSIM, TYPE_PRI, TYPE_RID, TYPE_SEC, TYPES, ht_type
from ._fmt import flag, flags, meaning

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module

if TYPE_CHECKING:
    from ...model import Capability
    from ..lspci import Ctx

_REV_2_2 = 0x22  # revision 1.02: registers and fields after these appeared with HT 1.02/1.03
_LCTR_BASE = ("PCI_HT_LCTR_CFLE", "PCI_HT_LCTR_CST", "PCI_HT_LCTR_CFE", "PCI_HT_LCTR_LKFAIL", "PCI_HT_LCTR_INIT",
              "PCI_HT_LCTR_EOC", "PCI_HT_LCTR_TXO")
_LCTR_NEW = ("PCI_HT_LCTR_ISOCEN", "PCI_HT_LCTR_LSEN", "PCI_HT_LCTR_EXTCTL", "PCI_HT_LCTR_64B")
_LFRER = ("PCI_HT_LFRER_PROT", "PCI_HT_LFRER_OV", "PCI_HT_LFRER_EOC", "PCI_HT_LFRER_CTLT")
_LFCAP = ("PCI_HT_LFCAP_200", "PCI_HT_LFCAP_300", "PCI_HT_LFCAP_400", "PCI_HT_LFCAP_500", "PCI_HT_LFCAP_600",
          "PCI_HT_LFCAP_800", "PCI_HT_LFCAP_1000", "PCI_HT_LFCAP_1200", "PCI_HT_LFCAP_1400", "PCI_HT_LFCAP_1600",
          "PCI_HT_LFCAP_VEND")
_FTR = ("PCI_HT_FTR_ISOCFC", "PCI_HT_FTR_LDTSTOP", "PCI_HT_FTR_CRCTM", "PCI_HT_FTR_ECTLT", "PCI_HT_FTR_64BA",
        "PCI_HT_FTR_UIDRD")
_EH = ("PFLE", "OFLE", "PFE", "OFE", "EOCFE", "RFE", "CRCFE", "SERRFE", "CF", "RE", "PNFE", "ONFE", "EOCNFE",
       "RNFE", "CRCNFE", "SERRNFE")


def _revision(rv: RegisterValue) -> str:
    return f"{rv['PCI_HT_RID_MAJ']}.{rv['PCI_HT_RID_MIN']:02d}"


def _low_byte(rv: RegisterValue) -> RegisterValue:
    """lspci 3.9 reads the link frequency capability (and the primary feature register) as one byte."""
    return RegisterValue(rv.decl, rv.offset, (rv.value or 0) & 0xFF)


def _link_control(ctx: Ctx, label: str, rv: RegisterValue, rid: int) -> None:
    ctx.p(f"\t\t{label}: {flags(rv, *_LCTR_BASE)} <CRCErr={rv['PCI_HT_LCTR_CRCERR']:x}")
    if rid >= _REV_2_2:
        ctx.p(" " + flags(rv, *_LCTR_NEW))
    ctx.p("\n")


def _link_config(ctx: Ctx, label: str, rv: RegisterValue, rid: int) -> None:
    widths = [f"{rv.decl.field(n).label}={meaning(rv, n)}"
              for n in ("PCI_HT_LCNF_MLWI", "PCI_HT_LCNF_MLWO", "PCI_HT_LCNF_LWI", "PCI_HT_LCNF_LWO")]
    if rid >= _REV_2_2:
        dw = ("PCI_HT_LCNF_DFI", "PCI_HT_LCNF_DFO", "PCI_HT_LCNF_DFIE", "PCI_HT_LCNF_DFOE")
        widths = [f"{w} {flag(rv, d)}" for w, d in zip(widths, dw, strict=True)]
    ctx.p(f"\t\t{label}: {' '.join(widths)}\n")


def _link_freq_err(ctx: Ctx, suffix: str, rv: RegisterValue) -> None:
    ctx.p(f"\t\tLink Frequency{suffix}: {meaning(rv, 'PCI_HT_LFRER_FREQ')}\n")
    ctx.p(f"\t\tLink Error{suffix}: {flags(rv, *_LFRER)}\n")


def _link_freq_cap(ctx: Ctx, suffix: str, rv: RegisterValue) -> None:
    ctx.p(f"\t\tLink Frequency Capability{suffix}: {flags(_low_byte(rv), *_LFCAP)}\n")


def _error_handling(ctx: Ctx, rv: RegisterValue) -> None:
    ctx.p(f"\t\tError Handling: {flags(rv, *(f'PCI_HT_EH_{n}' for n in _EH))}\n")


def _incomplete(ctx: Ctx, rid: int) -> None:
    if 0x11 < rid < _REV_2_2:
        ctx.p("\t\t!!! Possibly incomplete decoding\n")


def _primary(ctx: Ctx, cap: Capability) -> None:
    ctx.p("HyperTransport: Slave or Primary Interface\n")
    if ctx.verbose < 2 or not ctx.have(cap.offset + 4, 24):
        return
    rid_rv = cap["PCI_HT_PRI_RID"]
    rid = rid_rv.value or 0
    _incomplete(ctx, rid)
    cmd = cap["PCI_HT_PRI_CMD"]
    ctx.p(f"\t\tCommand: BaseUnitID={cmd['PCI_HT_PRI_CMD_BUID']} UnitCnt={cmd['PCI_HT_PRI_CMD_UC']} "
          f"{flags(cmd, 'PCI_HT_PRI_CMD_MH', 'PCI_HT_PRI_CMD_DD')}")
    if rid >= _REV_2_2:
        ctx.p(" " + flag(cmd, "PCI_HT_PRI_CMD_DUL"))
    ctx.p("\n")
    for n in "01":
        _link_control(ctx, f"Link Control {n}", cap[f"PCI_HT_PRI_LCTR{n}"], rid)
        _link_config(ctx, f"Link Config {n}", cap[f"PCI_HT_PRI_LCNF{n}"], rid)
    ctx.p(f"\t\tRevision ID: {_revision(rid_rv)}\n")
    if rid < _REV_2_2:
        return
    _link_freq_err(ctx, " 0", cap["PCI_HT_PRI_LFRER0"])
    _link_freq_cap(ctx, " 0", cap["PCI_HT_PRI_LFCAP0"])
    ctx.p(f"\t\tFeature Capability: {flags(cap['PCI_HT_PRI_FTR'], *_FTR)}\n")
    _link_freq_err(ctx, " 1", cap["PCI_HT_PRI_LFRER1"])
    _link_freq_cap(ctx, " 1", cap["PCI_HT_PRI_LFCAP1"])
    _error_handling(ctx, cap["PCI_HT_PRI_EH"])
    ctx.p(f"\t\tPrefetchable memory behind bridge Upper: "
          f"{cap.get('PCI_HT_PRI_MBU'):02x}-{cap.get('PCI_HT_PRI_MLU'):02x}\n")
    ctx.p(f"\t\tBus Number: {cap.get('PCI_HT_PRI_BN'):02x}\n")


def _secondary(ctx: Ctx, cap: Capability) -> None:
    ctx.p("HyperTransport: Host or Secondary Interface\n")
    if ctx.verbose < 2 or not ctx.have(cap.offset + 4, 20):
        return
    rid_rv = cap["PCI_HT_SEC_RID"]
    rid = rid_rv.value or 0
    _incomplete(ctx, rid)
    cmd = cap["PCI_HT_SEC_CMD"]
    ctx.p(f"\t\tCommand: {flags(cmd, 'PCI_HT_SEC_CMD_WR', 'PCI_HT_SEC_CMD_DE')}")
    if rid >= _REV_2_2:
        ctx.p(f" DevNum={cmd['PCI_HT_SEC_CMD_DN']} " + flags(cmd, "PCI_HT_SEC_CMD_CS", "PCI_HT_SEC_CMD_HH",
                                                           "PCI_HT_SEC_CMD_AS", "PCI_HT_SEC_CMD_HIECE",
                                                           "PCI_HT_SEC_CMD_DUL"))
    ctx.p("\n")
    _link_control(ctx, "Link Control", cap["PCI_HT_SEC_LCTR"], rid)
    _link_config(ctx, "Link Config", cap["PCI_HT_SEC_LCNF"], rid)
    ctx.p(f"\t\tRevision ID: {_revision(rid_rv)}\n")
    if rid < _REV_2_2:
        return
    _link_freq_err(ctx, "", cap["PCI_HT_SEC_LFRER"])
    _link_freq_cap(ctx, "", cap["PCI_HT_SEC_LFCAP"])
    ftr = cap["PCI_HT_SEC_FTR"]
    ctx.p(f"\t\tFeature Capability: {flags(ftr, *_FTR, 'PCI_HT_SEC_FTR_EXTRS', 'PCI_HT_SEC_FTR_UCNFE')}\n")
    if ftr["PCI_HT_SEC_FTR_EXTRS"]:
        _error_handling(ctx, cap["PCI_HT_SEC_EH"])
        ctx.p(f"\t\tPrefetchable memory behind bridge Upper: "
              f"{cap.get('PCI_HT_SEC_MBU'):02x}-{cap.get('PCI_HT_SEC_MLU'):02x}\n")


def _msi_mapping(ctx: Ctx, cap: Capability) -> None:
    cmd = cap["PCI_HT_MSIM_CMD"]
    ctx.p(f"HyperTransport: MSI Mapping {flags(cmd, 'PCI_HT_MSIM_CMD_EN', 'PCI_HT_MSIM_CMD_FIXD')}\n")
    if ctx.verbose < 2 or cmd["PCI_HT_MSIM_CMD_FIXD"] or not ctx.have(cap.offset + 4, 8):
        return
    base = cap.get("PCI_HT_MSIM_ADDR_HI") << 32 | cap.get("PCI_HT_MSIM_ADDR_LO") & ~0xFFFFF  # type: ignore[operator]
    ctx.p(f"\t\tMapping Address Base: {base:016x}\n")


def cap_ht(ctx: Ctx, cap: Capability) -> None:
    kind = ht_type(cap)
    if kind == TYPE_PRI:
        _primary(ctx, cap)
    elif kind == TYPE_SEC:
        _secondary(ctx, cap)
    elif kind == TYPE_MSIM:
        _msi_mapping(ctx, cap)
    elif kind == TYPE_RID:
        ctx.p(f"HyperTransport: Revision ID: {_revision(cap['PCI_HT_RID_RID'])}\n")
    elif kind in TYPES:
        ctx.p(f"HyperTransport: {TYPES[kind]}\n")
    else:
        ctx.p(f"HyperTransport: #{kind:02x}\n")


RENDERERS = {0x08: cap_ht}

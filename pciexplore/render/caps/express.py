"""The PCI Express capability as lspci 3.9 prints it (ls-caps.c cap_express and its helpers).

Fields are taken from the declaration in `regs/caps/express.py` by their pci_regs.h names; the
choice of what to print for each Device/Port Type follows lspci, which is not always the spec
(e.g. LnkCap2/LnkCtl2 are hidden for endpoints other than device 0 function 0).
"""

from __future__ import annotations

from ...regs.caps.express import (
    DOWNSTREAM_PORTS,
    LINK_SPEEDS,
    LINKLESS,
    PCI_CAP_ID_EXP,
    PCI_EXP_TYPE_DOWNSTREAM,
    PCI_EXP_TYPE_ENDPOINT,
    PCI_EXP_TYPE_LEG_END,
    PCI_EXP_TYPE_PCI_BRIDGE,
    PCI_EXP_TYPE_RC_END,
    PCI_EXP_TYPE_ROOT_PORT,
    PCI_EXP_TYPE_UPSTREAM,
    PORT_TYPES,
    ROOT_TYPES,
    SLOT_PORTS,
)
from ..lspci import has_memory_bar
from ..lspci_header import DeviceFacts
from ._fmt import flag, flags, meaning

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module

if TYPE_CHECKING:
    from ...model import Capability, RegisterValue
    from ..lspci import Ctx

ENDPOINTS = frozenset({PCI_EXP_TYPE_ENDPOINT, PCI_EXP_TYPE_LEG_END})
ANY_ENDPOINT = ENDPOINTS | {PCI_EXP_TYPE_RC_END}
SWITCH_AND_ROOT_PORTS = frozenset({PCI_EXP_TYPE_ROOT_PORT, PCI_EXP_TYPE_UPSTREAM, PCI_EXP_TYPE_DOWNSTREAM})
_POWER_SCALES = (1.0, 0.1, 0.01, 0.001)


def power_limit(value: int, scale: int) -> str:
    """Slot power limit in watts as lspci prints it (PCIe r6.0 §7.5.3.9: 0xF0-0xFE mean 250-600W)."""
    if scale == 0 and value == 0xFF:
        return ">600W"
    if scale == 0 and 0xF0 <= value <= 0xFE:
        value = 250 + 25 * (value - 0xF0)
    return format(value * _POWER_SCALES[scale], "g") + "W"  # C's %g: 6 significant digits hide float error


def link_compare(port_type: int | None, sta: int, cap: int) -> str:
    """lspci's note after a current link speed/width: faster than capable, or slower at an upstream end."""
    if sta > cap:
        return " (overdriven)"
    if sta == cap or port_type in DOWNSTREAM_PORTS:
        return ""
    return " (downgraded)"


def speed_vector(vector: int) -> str:
    """LNKCAP2 Supported Link Speeds as lspci 3.9 names it (bit 5, 64GT/s, is still 'RsvdP' there)."""
    if vector & 0x60:
        return "RsvdP"
    for top, text in ((0x10, "2.5-32GT/s"), (0x08, "2.5-16GT/s"), (0x04, "2.5-8GT/s"), (0x02, "2.5-5GT/s")):
        if vector & top:
            return text
    return "2.5GT/s" if vector & 0x01 else "Unknown"


def _named(rv: RegisterValue, name: str, default: str) -> str:
    """The declared meaning of a field whose encodings are not all named; lspci's word for the others."""
    return rv.decl.field(name).meaning(rv[name]) or default


def _has_memory_bar(ctx: Ctx) -> bool:
    facts = ctx.state.get("facts")
    if facts is None:
        facts = ctx.state["facts"] = DeviceFacts(ctx.fn)
    return has_memory_bar(facts)


def _dev(ctx: Ctx, cap: Capability, ptype: int) -> None:
    t = cap["PCI_EXP_DEVCAP"]
    ctx.p(f"\t\tDevCap:\tMaxPayload {128 << t['PCI_EXP_DEVCAP_PAYLOAD']} bytes, "
          f"PhantFunc {(1 << t['PCI_EXP_DEVCAP_PHANTOM']) - 1}")
    if ptype in ENDPOINTS:
        ctx.p(f", Latency L0s {meaning(t, 'PCI_EXP_DEVCAP_L0S')}, L1 {meaning(t, 'PCI_EXP_DEVCAP_L1')}")
    ctx.p(f"\n\t\t\t{flag(t, 'PCI_EXP_DEVCAP_EXT_TAG')}")
    if ptype in ENDPOINTS or ptype in (PCI_EXP_TYPE_UPSTREAM, PCI_EXP_TYPE_PCI_BRIDGE):
        ctx.p(" " + flags(t, "PCI_EXP_DEVCAP_ATN_BUT", "PCI_EXP_DEVCAP_ATN_IND", "PCI_EXP_DEVCAP_PWR_IND"))
    ctx.p(" " + flag(t, "PCI_EXP_DEVCAP_RBER"))
    if ptype in ANY_ENDPOINT:
        ctx.p(" " + flag(t, "PCI_EXP_DEVCAP_FLR"))
    if ptype in (PCI_EXP_TYPE_ENDPOINT, PCI_EXP_TYPE_UPSTREAM, PCI_EXP_TYPE_PCI_BRIDGE):
        ctx.p(" SlotPowerLimit " + power_limit(t["PCI_EXP_DEVCAP_PWR_VAL"], t["PCI_EXP_DEVCAP_PWR_SCL"]))
    ctx.p("\n")

    w = cap["PCI_EXP_DEVCTL"]
    ctx.p("\t\tDevCtl:\t" + flags(w, "PCI_EXP_DEVCTL_CERE", "PCI_EXP_DEVCTL_NFERE", "PCI_EXP_DEVCTL_FERE",
                                  "PCI_EXP_DEVCTL_URRE"))
    ctx.p("\n\t\t\t" + flags(w, "PCI_EXP_DEVCTL_RELAX_EN", "PCI_EXP_DEVCTL_EXT_TAG", "PCI_EXP_DEVCTL_PHANTOM",
                             "PCI_EXP_DEVCTL_AUX_PME", "PCI_EXP_DEVCTL_NOSNOOP_EN"))
    if ptype == PCI_EXP_TYPE_PCI_BRIDGE:
        ctx.p(f" BrConfRtry{'+' if w['PCI_EXP_DEVCTL_BCR_FLR'] else '-'}")  # the same bit, bridges' meaning
    if ptype in ANY_ENDPOINT and t["PCI_EXP_DEVCAP_FLR"]:
        ctx.p(" " + flag(w, "PCI_EXP_DEVCTL_BCR_FLR"))
    ctx.p(f"\n\t\t\tMaxPayload {128 << w['PCI_EXP_DEVCTL_PAYLOAD']} bytes, "
          f"MaxReadReq {128 << w['PCI_EXP_DEVCTL_READRQ']} bytes\n")

    s = cap["PCI_EXP_DEVSTA"]
    ctx.p("\t\tDevSta:\t" + flags(s, "PCI_EXP_DEVSTA_CED", "PCI_EXP_DEVSTA_NFED", "PCI_EXP_DEVSTA_FED",
                                  "PCI_EXP_DEVSTA_URD", "PCI_EXP_DEVSTA_AUXPD", "PCI_EXP_DEVSTA_TRPND") + "\n")


def _link(ctx: Ctx, cap: Capability, ptype: int) -> None:
    t = cap["PCI_EXP_LNKCAP"]
    aspm = t["PCI_EXP_LNKCAP_ASPMS"]
    cap_speed, cap_width = t["PCI_EXP_LNKCAP_SLS"], t["PCI_EXP_LNKCAP_MLW"]
    ctx.p(f"\t\tLnkCap:\tPort #{t['PCI_EXP_LNKCAP_PN']}, Speed {_named(t, 'PCI_EXP_LNKCAP_SLS', 'unknown')}, "
          f"Width x{cap_width}, ASPM {meaning(t, 'PCI_EXP_LNKCAP_ASPMS')}")
    if aspm:
        exits = []
        if aspm & 1:
            exits.append(f"L0s {meaning(t, 'PCI_EXP_LNKCAP_L0SEL')}")
        if aspm & 2:
            exits.append(f"L1 {meaning(t, 'PCI_EXP_LNKCAP_L1EL')}")
        ctx.p(", Exit Latency " + ", ".join(exits))
    ctx.p("\n\t\t\t" + flags(t, "PCI_EXP_LNKCAP_CLKPM", "PCI_EXP_LNKCAP_SDERC", "PCI_EXP_LNKCAP_DLLLARC",
                             "PCI_EXP_LNKCAP_LBNC", "PCI_EXP_LNKCAP_AOC") + "\n")

    w = cap["PCI_EXP_LNKCTL"]
    ctx.p(f"\t\tLnkCtl:\tASPM {meaning(w, 'PCI_EXP_LNKCTL_ASPMC')};")
    if ptype in ENDPOINTS or ptype in (PCI_EXP_TYPE_ROOT_PORT, PCI_EXP_TYPE_PCI_BRIDGE):
        ctx.p(f" RCB {128 if w['PCI_EXP_LNKCTL_RCB'] else 64} bytes,")
    ctx.p(" " + flags(w, "PCI_EXP_LNKCTL_LD", "PCI_EXP_LNKCTL_CCC"))
    ctx.p("\n\t\t\t" + flags(w, "PCI_EXP_LNKCTL_ES", "PCI_EXP_LNKCTL_CLKREQ_EN", "PCI_EXP_LNKCTL_HAWD",
                             "PCI_EXP_LNKCTL_LBMIE", "PCI_EXP_LNKCTL_LABIE") + "\n")

    s = cap["PCI_EXP_LNKSTA"]
    sta_speed, sta_width = s["PCI_EXP_LNKSTA_CLS"], s["PCI_EXP_LNKSTA_NLW"]
    ctx.p(f"\t\tLnkSta:\tSpeed {_named(s, 'PCI_EXP_LNKSTA_CLS', 'unknown')}{link_compare(ptype, sta_speed, cap_speed)}, "
          f"Width x{sta_width}{link_compare(ptype, sta_width, cap_width)}\n")
    ctx.p("\t\t\t" + flags(s, "PCI_EXP_LNKSTA_TR_ERR", "PCI_EXP_LNKSTA_LT", "PCI_EXP_LNKSTA_SLC",
                           "PCI_EXP_LNKSTA_DLLLA", "PCI_EXP_LNKSTA_LBMS", "PCI_EXP_LNKSTA_LABS") + "\n")


def _slot(ctx: Ctx, cap: Capability) -> None:
    t = cap["PCI_EXP_SLTCAP"]
    ctx.p("\t\tSltCap:\t" + flags(t, "PCI_EXP_SLTCAP_ABP", "PCI_EXP_SLTCAP_PCP", "PCI_EXP_SLTCAP_MRLSP",
                                  "PCI_EXP_SLTCAP_AIP", "PCI_EXP_SLTCAP_PIP", "PCI_EXP_SLTCAP_HPC",
                                  "PCI_EXP_SLTCAP_HPS") + "\n")
    ctx.p(f"\t\t\tSlot #{t['PCI_EXP_SLTCAP_PSN']}, "
          f"PowerLimit {power_limit(t['PCI_EXP_SLTCAP_SPLV'], t['PCI_EXP_SLTCAP_SPLS'])}; "
          + flags(t, "PCI_EXP_SLTCAP_EIP", "PCI_EXP_SLTCAP_NCCS") + "\n")

    w = cap["PCI_EXP_SLTCTL"]
    ctx.p("\t\tSltCtl:\tEnable: " + flags(w, "PCI_EXP_SLTCTL_ABPE", "PCI_EXP_SLTCTL_PFDE", "PCI_EXP_SLTCTL_MRLSCE",
                                          "PCI_EXP_SLTCTL_PDCE", "PCI_EXP_SLTCTL_CCIE", "PCI_EXP_SLTCTL_HPIE",
                                          "PCI_EXP_SLTCTL_DLLSCE") + "\n")
    ctx.p(f"\t\t\tControl: AttnInd {meaning(w, 'PCI_EXP_SLTCTL_AIC')}, "
          f"PwrInd {meaning(w, 'PCI_EXP_SLTCTL_PIC')}, "
          + flags(w, "PCI_EXP_SLTCTL_PCC", "PCI_EXP_SLTCTL_EIC") + "\n")

    s = cap["PCI_EXP_SLTSTA"]
    ctx.p("\t\tSltSta:\tStatus: " + flags(s, "PCI_EXP_SLTSTA_ABP", "PCI_EXP_SLTSTA_PFD", "PCI_EXP_SLTSTA_MRLSS",
                                          "PCI_EXP_SLTSTA_CC", "PCI_EXP_SLTSTA_PDS", "PCI_EXP_SLTSTA_EIS") + "\n")
    ctx.p("\t\t\tChanged: " + flags(s, "PCI_EXP_SLTSTA_MRLSC", "PCI_EXP_SLTSTA_PDC", "PCI_EXP_SLTSTA_DLLSC") + "\n")


def _root(ctx: Ctx, cap: Capability) -> None:
    c = cap["PCI_EXP_RTCAP"]
    ctx.p(f"\t\tRootCap: {flag(c, 'PCI_EXP_RTCAP_CRSVIS')}\n")
    w = cap["PCI_EXP_RTCTL"]
    ctx.p("\t\tRootCtl: " + flags(w, "PCI_EXP_RTCTL_SECEE", "PCI_EXP_RTCTL_SENFEE", "PCI_EXP_RTCTL_SEFEE",
                                  "PCI_EXP_RTCTL_PMEIE", "PCI_EXP_RTCTL_CRSSVE") + "\n")
    s = cap["PCI_EXP_RTSTA"]
    ctx.p(f"\t\tRootSta: PME ReqID {s['PCI_EXP_RTSTA_PME_RQ_ID']:04x}, "
          + flags(s, "PCI_EXP_RTSTA_PME", "PCI_EXP_RTSTA_PENDING") + "\n")


def _dev2(ctx: Ctx, cap: Capability, ptype: int) -> None:
    has_mem_bar = _has_memory_bar(ctx)
    t = cap["PCI_EXP_DEVCAP2"]
    ctx.p(f"\t\tDevCap2: Completion Timeout: {_named(t, 'PCI_EXP_DEVCAP2_TIMEOUT_RANGE', 'Unknown')}, "
          + flags(t, "PCI_EXP_DEVCAP2_COMP_TMOUT_DIS", "PCI_EXP_DEVCAP2_NROPRPRP", "PCI_EXP_DEVCAP2_LTR"))
    ctx.p("\n\t\t\t " + flags(t, "PCI_EXP_DEVCAP2_10BIT_TAG_COMP", "PCI_EXP_DEVCAP2_10BIT_TAG_REQ")
          + f" OBFF {meaning(t, 'PCI_EXP_DEVCAP2_OBFF_MASK')}, "
          + flags(t, "PCI_EXP_DEVCAP2_EXTFMT", "PCI_EXP_DEVCAP2_EE_PREFIX"))
    if t["PCI_EXP_DEVCAP2_EE_PREFIX"]:
        ctx.p(f", MaxEETLPPrefixes {t['PCI_EXP_DEVCAP2_EE_PREFIX_MAX'] or 4}")
    ctx.p(f"\n\t\t\t EmergencyPowerReduction {meaning(t, 'PCI_EXP_DEVCAP2_EPR')}, "
          + flag(t, "PCI_EXP_DEVCAP2_EPR_INIT"))
    ctx.p("\n\t\t\t " + flag(t, "PCI_EXP_DEVCAP2_FRS"))
    if ptype == PCI_EXP_TYPE_ROOT_PORT:
        ctx.p(f" LN System CLS {meaning(t, 'PCI_EXP_DEVCAP2_LN_CLS')},")
    if ptype in (PCI_EXP_TYPE_ROOT_PORT, PCI_EXP_TYPE_ENDPOINT):
        tph = t["PCI_EXP_DEVCAP2_TPH_COMP_MASK"]
        ctx.p(" " + ("" if tph == 2 else meaning(t, "PCI_EXP_DEVCAP2_TPH_COMP_MASK")))  # lspci prints nothing for the reserved value
    if ptype in (PCI_EXP_TYPE_ROOT_PORT, PCI_EXP_TYPE_DOWNSTREAM):
        ctx.p(" " + flag(t, "PCI_EXP_DEVCAP2_ARI"))
    ctx.p("\n")
    if ptype in SWITCH_AND_ROOT_PORTS or has_mem_bar:
        ctx.p("\t\t\t AtomicOpsCap:")
        if ptype in SWITCH_AND_ROOT_PORTS:
            ctx.p(" " + flag(t, "PCI_EXP_DEVCAP2_ATOMIC_ROUTE"))
        if ptype == PCI_EXP_TYPE_ROOT_PORT or has_mem_bar:
            ctx.p(" " + flags(t, "PCI_EXP_DEVCAP2_ATOMIC_COMP32", "PCI_EXP_DEVCAP2_ATOMIC_COMP64",
                              "PCI_EXP_DEVCAP2_ATOMIC_COMP128"))
        ctx.p("\n")

    w = cap["PCI_EXP_DEVCTL2"]
    ctx.p(f"\t\tDevCtl2: Completion Timeout: {_named(w, 'PCI_EXP_DEVCTL2_COMP_TIMEOUT', 'Unknown')}, "
          + flags(w, "PCI_EXP_DEVCTL2_COMP_TMOUT_DIS", "PCI_EXP_DEVCTL2_LTR_EN", "PCI_EXP_DEVCTL2_10BIT_TAG_REQ")
          + f" OBFF {meaning(w, 'PCI_EXP_DEVCTL2_OBFF')},")
    if ptype in (PCI_EXP_TYPE_ROOT_PORT, PCI_EXP_TYPE_DOWNSTREAM):
        ctx.p(" " + flag(w, "PCI_EXP_DEVCTL2_ARI"))
    ctx.p("\n")
    requester = ptype in ANY_ENDPOINT or ptype == PCI_EXP_TYPE_ROOT_PORT
    if requester or ptype in SWITCH_AND_ROOT_PORTS:
        ctx.p("\t\t\t AtomicOpsCtl:")
        if requester:
            ctx.p(" " + flag(w, "PCI_EXP_DEVCTL2_ATOMIC_REQ"))
        if ptype in SWITCH_AND_ROOT_PORTS:
            ctx.p(" " + flag(w, "PCI_EXP_DEVCTL2_ATOMIC_EGRESS_BLOCK"))
        ctx.p("\n")


def _link2(ctx: Ctx, cap: Capability, ptype: int) -> None:
    drs_supported = 0
    addr = ctx.fn.address
    # lspci skips LnkCap2/LnkCtl2 of endpoints other than 00.0 (LnkCap2 was reserved before PCIe r3.0)
    if not (ptype in ENDPOINTS and (addr.device or addr.function)):
        t = cap["PCI_EXP_LNKCAP2"]
        drs_supported = t["PCI_EXP_LNKCAP2_DRS"]
        if t.value:
            ctx.p(f"\t\tLnkCap2: Supported Link Speeds: {speed_vector(t['PCI_EXP_LNKCAP2_SLS'])}, "
                  + flags(t, "PCI_EXP_LNKCAP2_CROSSLINK", "PCI_EXP_LNKCAP2_RETIMER", "PCI_EXP_LNKCAP2_2RETIMERS",
                          "PCI_EXP_LNKCAP2_DRS") + "\n")
        w = cap["PCI_EXP_LNKCTL2"]
        target = w["PCI_EXP_LNKCTL2_TLS"]
        ctx.p(f"\t\tLnkCtl2: Target Link Speed: {LINK_SPEEDS.get(target or 1, 'Unknown')}, "
              + flags(w, "PCI_EXP_LNKCTL2_ENTER_COMP", "PCI_EXP_LNKCTL2_HASD"))
        if ptype == PCI_EXP_TYPE_DOWNSTREAM:
            ctx.p(f", Selectable De-emphasis: {meaning(w, 'PCI_EXP_LNKCTL2_DEEMPHASIS')}")
        ctx.p(f"\n\t\t\t Transmit Margin: {_named(w, 'PCI_EXP_LNKCTL2_TX_MARGIN', 'Unknown')}, "
              + flags(w, "PCI_EXP_LNKCTL2_MOD_CMPLNC", "PCI_EXP_LNKCTL2_CMPLNC_SOS")
              + "\n\t\t\t Compliance Preset/De-emphasis: "
              + _named(w, "PCI_EXP_LNKCTL2_COM_DEEMPHASIS", "Unknown") + "\n")

    s = cap["PCI_EXP_LNKSTA2"]
    ctx.p(f"\t\tLnkSta2: Current De-emphasis Level: {meaning(s, 'PCI_EXP_LNKSTA2_DEEMPHASIS')}, "
          + flags(s, "PCI_EXP_LNKSTA2_EQU_COMP", "PCI_EXP_LNKSTA2_EQU_PHASE1")
          + "\n\t\t\t " + flags(s, "PCI_EXP_LNKSTA2_EQU_PHASE2", "PCI_EXP_LNKSTA2_EQU_PHASE3",
                                "PCI_EXP_LNKSTA2_EQU_REQ")
          + "\n\t\t\t " + flags(s, "PCI_EXP_LNKSTA2_RETIMER", "PCI_EXP_LNKSTA2_2RETIMERS")
          + f" CrosslinkRes: {meaning(s, 'PCI_EXP_LNKSTA2_CROSSLINK')}")
    if ptype in DOWNSTREAM_PORTS and drs_supported:
        ctx.p(f", {flag(s, 'PCI_EXP_LNKSTA2_DRS_RCVD')}\n\t\t\t DownstreamComp: "
              f"{_named(s, 'PCI_EXP_LNKSTA2_COMPONENT', 'Reserved')}\n")
    else:
        ctx.p("\n")


def show_express(ctx: Ctx, cap: Capability) -> None:
    """lspci's cap_express: the type line, then (at -vv) device, link, slot, root and "2" registers."""
    where = cap.offset
    fl = cap["PCI_EXP_FLAGS"]
    ptype = fl["PCI_EXP_FLAGS_TYPE"]
    ctx.state["can_have_ext_caps"] = True
    ctx.state["exp_type"] = ptype  # what lspci passes to show_ext_caps as `type`

    ctx.p("Express ")
    if ctx.verbose >= 2:
        ctx.p(f"(v{fl['PCI_EXP_FLAGS_VERS']}) ")
    if ptype in PORT_TYPES:
        ctx.p(PORT_TYPES[ptype])
        if ptype in SLOT_PORTS:
            ctx.p(f" ({flag(fl, 'PCI_EXP_FLAGS_SLOT')})")
    else:
        ctx.p(f"Unknown type {ptype}")
    ctx.p(f", MSI {fl['PCI_EXP_FLAGS_IRQ']:02x}\n")
    if ctx.verbose < 2:
        return

    slot = ptype in SLOT_PORTS and fl["PCI_EXP_FLAGS_SLOT"]
    link = ptype not in LINKLESS
    root = ptype in ROOT_TYPES
    size = 32 if root else 24 if slot else 16
    if not ctx.have(where + 0x04, size):  # PCI_EXP_DEVCAP onwards
        return
    _dev(ctx, cap, ptype)
    if link:
        _link(ctx, cap, ptype)
    if slot:
        _slot(ctx, cap)
    if root:
        _root(ctx, cap)

    if fl["PCI_EXP_FLAGS_VERS"] < 2 or not ctx.have(where + 0x24, 24 if slot else 16):  # PCI_EXP_DEVCAP2
        return
    _dev2(ctx, cap, ptype)
    if link:
        _link2(ctx, cap, ptype)


RENDERERS = {PCI_CAP_ID_EXP: show_express}

"""lspci text for Root Complex Link Declaration and the RC Event Collector association."""

from __future__ import annotations

from ...model import Block
from ...regs.ecaps.rc import (
    ELEMENT_TYPES,
    PCI_EXT_CAP_ID_RCEC,
    PCI_EXT_CAP_ID_RCLD,
    PCI_RCEC_BUSN_REG_VER,
    PCI_RCLINK_LINK1,
    PCI_RCLINK_LINK_SIZE,
    RCLD_LINK,
)
from ._words import field, flags, value

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module

if TYPE_CHECKING:
    from ...model import Capability
    from ..lspci import Ctx


def rclink(ctx: Ctx, cap: Capability) -> None:
    ctx.p("Root Complex Link\n")
    if ctx.verbose < 2 or not ctx.have(cap.offset + 4, PCI_RCLINK_LINK1 - 4):
        return
    esd = "PCI_RCLINK_ESD"
    elt = value(cap, esd) & 0xFF  # lspci looks up all 8 low bits (the spec's field is bits 3:0)
    ctx.p(f"\t\tDesc:\tPortNumber={field(cap, esd, 'PCI_RCLINK_ESD_PORT_NUM'):02x} "
          f"ComponentID={field(cap, esd, 'PCI_RCLINK_ESD_COMP_ID'):02x} EltType={ELEMENT_TYPES.get(elt, f'??{elt}')}\n")
    for n in range(field(cap, esd, "PCI_RCLINK_ESD_LINKS")):
        link = Block(cap.function, RCLD_LINK, cap.offset + PCI_RCLINK_LINK1 + n * PCI_RCLINK_LINK_SIZE)
        ctx.p(f"\t\tLink{n}:\t")
        if not ctx.have(link.offset, PCI_RCLINK_LINK_SIZE):
            ctx.p("<unreadable>\n")
            return
        d = "PCI_RCLINK_LINK_DESC"
        config = field(link, d, "PCI_RCLINK_LINK_TYPE")
        ctx.p(f"Desc:\tTargetPort={field(link, d, 'PCI_RCLINK_LINK_TARGET_PORT'):02x} "
              f"TargetComponent={field(link, d, 'PCI_RCLINK_LINK_TARGET_COMP'):02x} "
              f"{flags(link, d, ('PCI_RCLINK_LINK_ASSOC_RCRB',))} LinkType={'Config' if config else 'MemMapped'} "
              f"{flags(link, d, ('PCI_RCLINK_LINK_VALID',))}\n")
        addr = value(link, "PCI_RCLINK_LINK_ADDR")
        lo = addr & 0xFFFFFFFF
        if config:
            # ECAM-style address: bits 2:0 say how many bus number bits follow bit 20 (0 means 8)
            bus_bits = lo & 7 or 8
            ctx.p(f"\t\t\tAddr:\t{lo >> 20 & ((1 << bus_bits) - 1):02x}:{lo >> 15 & 0x1F:02x}.{lo >> 12 & 7}  "
                  f"CfgSpace={addr:016x}\n")
        else:
            ctx.p(f"\t\t\tAddr:\t{addr:016x}\n")


def _device_ranges(bitmap: int) -> str:
    """lspci's list of devices: " 0, 3-5, 9"; a run reaching device 31 is printed without its end."""
    out = []
    run = 0
    for dev in range(32):
        if bitmap >> dev & 1:
            if not run:
                out.append(f"{',' if out else ''} {dev}")
            run += 1
            last = dev
        else:
            if run > 1:
                out.append(f"-{last}")
            run = 0
    return "".join(out)


def rcec(ctx: Ctx, cap: Capability) -> None:
    ctx.p("Root Complex Event Collector Endpoint Association\n")
    if ctx.verbose < 2 or not ctx.have(cap.offset, 12):
        return
    bitmap = value(cap, "PCI_RCEC_RCIEP_BITMAP")
    if bitmap:
        ctx.p(f"\t\tRCiEPBitmap: RCiEP at Device(s):{_device_ranges(bitmap)}\n")
    else:
        ctx.p(f"\t\tRCiEPBitmap: {'00000000 [none]' if ctx.verbose > 2 else '[none]'}\n")
    if cap.version < PCI_RCEC_BUSN_REG_VER:
        return
    nxt = field(cap, "PCI_RCEC_BUSN", "PCI_RCEC_BUSN_NEXT")
    last = field(cap, "PCI_RCEC_BUSN", "PCI_RCEC_BUSN_LAST")
    if (nxt, last) == (0xFF, 0x00):
        ctx.p(f"\t\tAssociatedBusNumbers: {'ff-00 [none]' if ctx.verbose > 2 else '[none]'}\n")
    else:
        ctx.p(f"\t\tAssociatedBusNumbers: {nxt:02x}-{last:02x}\n")


RENDERERS = {PCI_EXT_CAP_ID_RCLD: rclink, PCI_EXT_CAP_ID_RCEC: rcec}

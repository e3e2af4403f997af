"""lspci text for Vendor-Specific and Designated Vendor-Specific capabilities, CXL DVSECs included."""

from __future__ import annotations

from ...model import Block
from ...regs.ecaps import cxl
from ...regs.ecaps.vendor import PCI_EXT_CAP_ID_DVSEC, PCI_EXT_CAP_ID_VNDR
from ._words import field, flags, value

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module

if TYPE_CHECKING:
    from ...model import Capability
    from ..lspci import Ctx


def vsec(ctx: Ctx, cap: Capability) -> None:
    ctx.p("Vendor Specific Information: ")
    if not ctx.have(cap.offset + 4, 4):
        ctx.p("<unreadable>\n")
        return
    h = "PCI_VNDR_HEADER"
    ctx.p(f"ID={field(cap, h, 'PCI_VNDR_HEADER_ID'):04x} Rev={field(cap, h, 'PCI_VNDR_HEADER_REV')} "
          f"Len={field(cap, h, 'PCI_VNDR_HEADER_LEN'):03x} <?>\n")


def dvsec(ctx: Ctx, cap: Capability) -> None:
    ctx.p("Designated Vendor-Specific: ")
    if not ctx.have(cap.offset + 4, 8):
        ctx.p("<unreadable>\n")
        return
    h = "PCI_DVSEC_HEADER1"
    vendor, rev, length = (field(cap, h, f) for f in ("PCI_DVSEC_HEADER1_VID", "PCI_DVSEC_HEADER1_REV",
                                                       "PCI_DVSEC_HEADER1_LEN"))
    dvsec_id = value(cap, "PCI_DVSEC_HEADER2")
    ctx.p(f"Vendor={vendor:04x} ID={dvsec_id:04x} Rev={rev} Len={length}")
    if vendor != cxl.PCI_DVSEC_VENDOR_ID_CXL or length < 16:
        ctx.p(" <?>\n")
        return
    ctx.p(": CXL\n")
    if ctx.verbose < 2 or not ctx.have(cap.offset, length):
        return
    layout = cxl.CXL_DVSECS.get(dvsec_id)
    render = _CXL.get(dvsec_id)
    if layout is None or render is None:
        ctx.p(f"\t\tUnknown ID {dvsec_id:04x}\n")
        return
    render(ctx, Block(cap.function, layout, cap.offset), rev, length)


# -- CXL structures (CXL 3.0 §8.1) ----------------------------------------------------------------
def _range(ctx: Ctx, b: Block, n: int) -> None:
    size = value(b, f"PCI_CXL_DEV_RANGE{n}_SIZE_HI") << 32 | value(b, f"PCI_CXL_DEV_RANGE{n}_SIZE_LO")
    base = value(b, f"PCI_CXL_DEV_RANGE{n}_BASE_HI") << 32 | value(b, f"PCI_CXL_DEV_RANGE{n}_BASE_LO")
    end = (base + (size & ~0x0FFFFFFF) - 1) & 0xFFFFFFFFFFFFFFFF
    lo = f"PCI_CXL_DEV_RANGE{n}_SIZE_LO"
    decl = b.layout.register(lo)

    def meaning(name: str) -> str:
        return decl.field(name).meaning(field(b, lo, name)) or "<?>"

    ctx.p(f"\t\tRange{n}: {base:016x}-{end:016x}\n")
    ctx.p(f"\t\t\t{flags(b, lo)} Type={meaning('PCI_CXL_RANGE_TYPE')} Class={meaning('PCI_CXL_RANGE_CLASS')} "
          f"interleave={meaning('PCI_CXL_RANGE_INTERLEAVE')} timeout={1 << 2 * field(b, lo, 'PCI_CXL_RANGE_TIMEOUT')}s\n")


def _device(ctx: Ctx, b: Block, rev: int, length: int) -> None:
    if length < cxl.PCI_CXL_DEV_LEN or rev < 1:  # CXL 1.1 layouts are not decoded
        return
    c, t = "PCI_CXL_DEV_CAP", "PCI_CXL_DEV_CTRL"
    ctx.p(f"\t\tCXLCap:\t{flags(b, c, stop=4)} HDMCount {field(b, c, 'PCI_CXL_DEV_CAP_HDM_CNT')} {flags(b, c, start=4)}\n")
    ctx.p(f"\t\tCXLCtl:\t{flags(b, t, stop=3)} Cache SF Cov {field(b, t, 'PCI_CXL_DEV_CTRL_CACHE_SF_COV')} "
          f"Cache SF Gran {field(b, t, 'PCI_CXL_DEV_CTRL_CACHE_SF_GRAN')} {flags(b, t, start=3)}\n")
    ctx.p(f"\t\tCXLSta:\t{flags(b, 'PCI_CXL_DEV_STATUS')}\n")
    ctx.p(f"\t\tCXLSta2:\t{flags(b, 'PCI_CXL_DEV_STATUS2')}\n")
    unit = field(b, "PCI_CXL_DEV_CAP2", "PCI_CXL_DEV_CAP2_CACHE_UNIT")
    size = field(b, "PCI_CXL_DEV_CAP2", "PCI_CXL_DEV_CAP2_CACHE_SIZE")
    if unit == 0:
        ctx.p("\t\tCache Size Not Reported\n")
    elif unit in (1, 2):
        ctx.p(f"\t\tCache Size: {size * (64 << 10 if unit == 1 else 1 << 20):08x}\n")
    else:
        ctx.p(f"\t\tCache Size: {size} of unknown unit size ({unit})\n")
    _range(ctx, b, 1)
    _range(ctx, b, 2)


def _function_map(ctx: Ctx, b: Block, rev: int, length: int) -> None:
    for i in range(8):  # lspci shows the low 16 bits of each map register
        ctx.p(f"\t\tFuncMap {i}: {value(b, f'PCI_CXL_FUN_MAP_REG_{i}') & 0xFFFF:08x}\n")


def _port(ctx: Ctx, b: Block, rev: int, length: int) -> None:
    if length < cxl.PCI_CXL_PORT_EXT_LEN:
        return
    # lspci 3.9 tests mask 0x0a of the status register for PMComplete (the spec's bit is 0)
    ctx.p(f"\t\tCXLPortSta:\tPMComplete{'+' if value(b, 'PCI_CXL_PORT_EXT_STATUS') & 0x0A else '-'}\n")
    ctx.p(f"\t\tCXLPortCtl:\t{flags(b, 'PCI_CXL_PORT_CTRL')}\n")
    ctx.p(f"\t\tAlternateBus:\t{value(b, 'PCI_CXL_PORT_ALT_BUS_BASE'):02x}-{value(b, 'PCI_CXL_PORT_ALT_BUS_LIMIT'):02x}\n")
    ctx.p(f"\t\tAlternateBus:\t{value(b, 'PCI_CXL_PORT_ALT_MEM_BASE'):04x}-{value(b, 'PCI_CXL_PORT_ALT_MEM_LIMIT'):04x}\n")


def _gpf_time(ctx: Ctx, b: Block, reg_name: str, base_field: str, scale_field: str) -> str:
    """A GPF time as lspci prints it: base x 1/10/100 and the unit of the scale."""
    base, scale = field(b, reg_name, base_field), field(b, reg_name, scale_field)
    if scale > 7:
        ctx.p(f"\t\tReserved time scale encoding {scale:x}\n")
    factor = {0: 1, 1: 10, 2: 100}.get(scale % 3, 1) if scale <= 7 else 1
    unit = "us" if scale < 3 else "ms" if scale < 6 else "s" if scale == 6 else "<?>"
    return f"{base * factor}{unit}"


def _gpf_port(ctx: Ctx, b: Block, rev: int, length: int) -> None:
    for phase in (1, 2):
        r = f"PCI_CXL_GPF_PORT_PHASE{phase}_CTRL"
        t = _gpf_time(ctx, b, r, f"PCI_CXL_GPF_PORT_PHASE{phase}_BASE", f"PCI_CXL_GPF_PORT_PHASE{phase}_SCALE")
        ctx.p(f"\t\tGPF Phase {phase} Timeout: {t}\n")


def _gpf_device(ctx: Ctx, b: Block, rev: int, length: int) -> None:
    t = _gpf_time(ctx, b, "PCI_CXL_GPF_DEV_PHASE2_DUR", "PCI_CXL_GPF_DEV_PHASE2_BASE", "PCI_CXL_GPF_DEV_PHASE2_SCALE")
    ctx.p(f"\t\tGPF Phase 2 Duration: {t}\n")
    ctx.p(f"\t\tGPF Phase 2 Power: {value(b, 'PCI_CXL_GPF_DEV_PHASE2_POW')}mW\n")


def _flex_bus(ctx: Ctx, b: Block, rev: int, length: int) -> None:
    if rev < 1:
        ctx.p(f"\t\tRevision {rev} not supported\n")
        return
    wide = rev > 1  # CXL 3.0 adds 256B and PBR flits and the second register set
    cut = None if wide else -2
    ctx.p(f"\t\tFBCap:\t{flags(b, 'PCI_CXL_FB_PORT_CAP', stop=cut)}\n")
    ctx.p(f"\t\tFBCtl:\t{flags(b, 'PCI_CXL_FB_PORT_CTRL', stop=cut)}\n")
    ctx.p(f"\t\tFBSta:\t{flags(b, 'PCI_CXL_FB_PORT_STATUS', stop=cut)}\n")
    ctx.p(f"\t\tFBModTS:\tReceived FB Data: {field(b, 'PCI_CXL_FB_MOD_TS_DATA', 'PCI_CXL_FB_MOD_TS_DATA_RCVD'):06x}\n")
    if wide:
        ctx.p(f"\t\tFBCap2:\t{flags(b, 'PCI_CXL_FB_PORT_CAP2')}\n")
        ctx.p(f"\t\tFBCtl2:\t{flags(b, 'PCI_CXL_FB_PORT_CTRL2')}\n")
        ctx.p(f"\t\tFBSta2:\tNOPHintInfo: {field(b, 'PCI_CXL_FB_PORT_STATUS2', 'PCI_CXL_FB_STAT2_NOP_HINT'):x}\n")


def _register_locator(ctx: Ctx, b: Block, rev: int, length: int) -> None:
    ids = b.layout.register("PCI_CXL_RL_BLOCK1_LO").field("PCI_CXL_RL_BLOCK_ID")
    n = 0
    while 0x0C + 8 * n + 7 < length:
        entry = Block(b.function, b.layout, b.offset + 8 * n)  # blocks repeat every 8 bytes
        lo, hi = value(entry, "PCI_CXL_RL_BLOCK1_LO"), value(entry, "PCI_CXL_RL_BLOCK1_HI")
        block_id = ids.extract(lo)
        n += 1
        if not block_id:
            continue
        ctx.p(f"\t\tBlock{n}: BIR: bar{lo & 7}, ID: {ids.meaning(block_id) or '<?>'}, "
              f"offset: {hi << 32 | lo & 0xFFFF0000:016x}\n")


def _mld(ctx: Ctx, b: Block, rev: int, length: int) -> None:
    n = value(b, "PCI_CXL_MLD_NUM_LD")
    if 0 < n <= 16:  # larger encodings are reserved
        ctx.p(f"\t\tNumLogDevs: {n}\n")


_CXL = {0: _device, 2: _function_map, 3: _port, 4: _gpf_port, 5: _gpf_device, 7: _flex_bus, 8: _register_locator,
        9: _mld}

RENDERERS = {PCI_EXT_CAP_ID_VNDR: vsec, PCI_EXT_CAP_ID_DVSEC: dvsec}

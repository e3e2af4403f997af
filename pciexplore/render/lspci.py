"""Text exactly as `lspci` (pciutils 3.9) prints it, for the same flags, from our decoded model.

Renderers write into a `Ctx` the way lspci writes to stdout (`ctx.p(...)` with explicit newlines), so
a person can hold our output next to lspci's.  Capability renderers live in `render/caps/*.py` and
`render/ecaps/*.py`; each module defines `RENDERERS = {capability id: function(ctx, cap)}`.  The
function is called after "\tCapabilities: [xx] " has been written and writes the rest.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
from functools import cache

from ..model import Capability
from ..regs import package_modules

TYPE_CHECKING = False  # typing's constant without importing typing: every command's start-up pays for it
if TYPE_CHECKING:
    from typing import Any

    from ..model import Function
    from ..sources.base import Source
    from .lspci_header import DeviceFacts

CapRenderer = "Callable[[Ctx, Capability], None]"


class LspciOptions(namedtuple("LspciOptions", "verbose numeric domains kernel hex_dump machine path ids",
                              defaults=(0, 0, False, False, 0, 0, 0, None))):
    """lspci's flags: verbose (-v, -vv, -vvv), numeric (0: names, 1: -n numbers, 2: -nn both), domains (-D),
    kernel (-k), hex_dump (-x, -xxx, -xxxx), machine (-m obsolete format, -mm), path (-P bridge path, -PP bus
    path), ids (-d [vendor]:[device][:class[:prog-if]]).  A namedtuple: dataclasses' import cost every
    command's start-up."""

    __slots__ = ()


class Listing:
    """What the functions of one listing share: the flags, the output (one list of pieces for all of them)
    and text made once for every function with the same inputs (`None`: every function renders its own)."""

    __slots__ = ("opts", "chunks", "p", "domains", "paths", "caps_texts", "identity_texts")

    def __init__(self, opts: LspciOptions, domains: bool = False, paths: dict[int, str] | None = None,
                 reuse: bool = False) -> None:
        self.opts = opts
        self.chunks: list[str] = []
        #: write text, as lspci's printf (the list's own append: called for every piece of every line)
        self.p: Callable[[str], None] = self.chunks.append
        self.domains = domains  # -D, or some function is outside domain 0
        self.paths = paths  # -P/-PP: each function's path by id(function)
        #: capability text by what it depends on (`caps_text_key`)
        self.caps_texts: dict[tuple, str] | None = {} if reuse else None
        #: the first line after the slot name and the Subsystem line, by the ids they show (lspci_header.show_terse)
        self.identity_texts: dict[tuple, str] | None = {} if reuse else None

    def text(self) -> str:
        return "".join(self.chunks)


class Ctx:
    """One function being rendered: its bytes and the state shared by its header and capability renderers."""

    __slots__ = ("fn", "opts", "verbose", "cfg", "listing", "chunks", "p", "state")

    def __init__(self, fn: Function, opts: LspciOptions, cfg: bytes | None = None,
                 listing: Listing | None = None) -> None:
        self.fn = fn
        self.opts = opts
        self.verbose = opts.verbose
        #: the config bytes shown: all the function has, or just its header when that is all the flags show
        self.cfg = fn.config if cfg is None else cfg
        #: the listing this function is part of (a listing of its own when rendered alone)
        self.listing = listing = Listing(opts) if listing is None else listing
        self.chunks = listing.chunks
        self.p = listing.p
        #: facts one renderer leaves for later ones (e.g. "exp_type" for extended caps)
        self.state: dict[str, Any] = {}

    def have(self, offset: int, length: int) -> bool:
        """lspci's config_fetch: are these bytes available from the source?"""
        return 0 <= offset and offset + length <= len(self.cfg)

    def u8(self, offset: int) -> int:
        return self.cfg[offset]

    def u16(self, offset: int) -> int:
        return int.from_bytes(self.cfg[offset : offset + 2], "little")

    def u32(self, offset: int) -> int:
        return int.from_bytes(self.cfg[offset : offset + 4], "little")

    @staticmethod
    def flag(value: int, mask: int) -> str:
        """lspci's FLAG(): '+' when any bit of mask is set."""
        return "+" if value & mask else "-"


def _collect(package: str) -> dict[int, Callable]:
    found: dict[int, Callable] = {}
    for module in package_modules(package):
        for cap_id, fn in getattr(module, "RENDERERS", {}).items():
            if cap_id in found:
                raise RuntimeError(f"renderer for capability 0x{cap_id:x} defined twice ({module.__name__})")
            found[cap_id] = fn
    return found


@cache
def cap_renderers() -> dict[int, Callable]:
    return _collect(__package__ + ".caps")


@cache
def ecap_renderers() -> dict[int, Callable]:
    return _collect(__package__ + ".ecaps")


PCI_CAP_ID_PCIX, PCI_CAP_ID_EXP = 0x07, 0x10


def _capability(ctx: Ctx, offset: int, extended: bool) -> Capability:
    """The capability at `offset` that lspci's walk (show_caps) reached: made from its header as the model's
    walk makes it, without running that walk too (it finds the same entries, or stops earlier)."""
    if extended:
        header = ctx.u32(offset)
        return Capability(ctx.fn, offset, header & 0xFFFF, (header >> 20) & ~3, True, (header >> 16) & 0xF)
    return Capability(ctx.fn, offset, ctx.u8(offset), ctx.u8(offset + 1) & ~3, False)


PCI_STD_HEADER_SIZEOF = 0x40
#: ctx.state key set when a text depends on more than `caps_text_key` (the VPD file, a pointer into the header)
NOT_REUSABLE = "text_not_reusable"


def has_memory_bar(d: DeviceFacts) -> bool:
    """lspci's device_has_memory_space_bar: any BAR with an address or size that is not I/O space."""
    for base, size in zip(d.bases, d.sizes, strict=False):
        if (base or size) and not base & 1:
            return True
    return False


def caps_text_key(ctx: Ctx, where: int) -> tuple:
    """Everything the capability renderers read besides the flags (fixed for one run): the config bytes
    from 0x40 on (where the capabilities are; the header's BARs, command and status bits differ between
    functions of the same model); of the header, the ids (SSVID's names), the capability-list bit, the
    header type (PCI-X) and the list pointer at `where`; whether the function is other than dev 0 fn 0
    (Express LnkCap2, `_link2`) and whether it has a memory BAR (Express DevCap2/DevCtl2, from the
    kernel's view of BARs where there is one).  A walk that reaches into the header, and the VPD renderer
    (which reads the source's `vpd` file), mark their text as not reusable."""
    cfg, a = ctx.cfg, ctx.fn.address
    # PCI_VENDOR_ID..PCI_DEVICE_ID, PCI_STATUS's low byte (the list bit), PCI_HEADER_TYPE, the list pointer
    return (cfg[0:4], cfg[6], cfg[0x0E], cfg[where:where + 1], cfg[PCI_STD_HEADER_SIZEOF:], where,
            bool(a.device or a.function), has_memory_bar(ctx.state["facts"]))


def show_caps(ctx: Ctx, where: int = 0x34) -> None:
    """lspci's show_caps, or the text it gave a function of the same run with the same `caps_text_key`
    (the virtual functions of an SR-IOV device, the ports of a NIC, a row of the same NVMe drive have the
    same capability bytes): the renderers are pure functions of those inputs, so the text is rendered
    once per distinct key."""
    memo = ctx.listing.caps_texts
    if memo is None:
        walk_caps(ctx, where)
        return
    key = caps_text_key(ctx, where)
    text = memo.get(key)
    if text is not None:
        ctx.p(text)
        return
    start = len(ctx.chunks)
    walk_caps(ctx, where)
    if not ctx.state.get(NOT_REUSABLE):
        memo[key] = "".join(ctx.chunks[start:])


def walk_caps(ctx: Ctx, where: int = 0x34) -> None:
    """lspci's show_caps: the standard list from the pointer at `where` (0x14 for CardBus), printed as
    it is walked -- "<access denied>" when the source lacks the bytes, "<chain looped>" on a revisit,
    "<chain broken>" on id 0xff -- then the extended list when a PCI-X or Express capability was seen."""
    renderers = cap_renderers()
    can_have_ext_caps = False
    if ctx.u16(0x06) & 0x10:  # PCI_STATUS_CAP_LIST
        where = ctx.u8(where) & ~3
        been_there: set[int] = set()
        while where:
            ctx.p("\tCapabilities: ")
            if not ctx.have(where, 4):
                ctx.p("<access denied>\n")
                break
            cap_id = ctx.u8(where)
            nxt = ctx.u8(where + 1) & ~3
            ctx.p(f"[{where:02x}] ")
            if where in been_there:
                ctx.p("<chain looped>\n")
                break
            been_there.add(where)
            if where < PCI_STD_HEADER_SIZEOF:  # the renderer reads header bytes, which caps_text_key leaves out
                ctx.state[NOT_REUSABLE] = True
            if cap_id == 0xFF:
                ctx.p("<chain broken>\n")
                break
            render = renderers.get(cap_id)
            if render is None:
                ctx.p("Null\n" if cap_id == 0 else f"Capability ID {cap_id:#x} [{ctx.u16(where + 2):04x}]\n")
            else:
                render(ctx, _capability(ctx, where, False))
            if cap_id in (PCI_CAP_ID_PCIX, PCI_CAP_ID_EXP):
                can_have_ext_caps = True
            where = nxt
    if can_have_ext_caps:
        show_ext_caps(ctx)


def show_ext_caps(ctx: Ctx) -> None:
    """lspci's show_ext_caps: from 0x100 until a zero or all-ones header, a pointer to 0, a revisit,
    or bytes the source does not have."""
    renderers = ecap_renderers()
    where = 0x100
    been_there: set[int] = set()
    while True:
        if where < PCI_STD_HEADER_SIZEOF:  # a next pointer into the header, which caps_text_key leaves out
            ctx.state[NOT_REUSABLE] = True
        if not ctx.have(where, 4):
            break
        header = ctx.u32(where)
        if header in (0, 0xFFFFFFFF):
            break
        cap_id = header & 0xFFFF
        ctx.p(f"\tCapabilities: [{where:03x}")
        if ctx.verbose > 1:
            ctx.p(f" v{(header >> 16) & 0xF}")
        ctx.p("] ")
        if where in been_there:
            ctx.p("<chain looped>\n")
            break
        been_there.add(where)
        render = renderers.get(cap_id)
        if render is None:
            ctx.p("Null\n" if cap_id == 0 else f"Extended Capability ID {cap_id:#x}\n")
        else:
            render(ctx, _capability(ctx, where, True))
        where = (header >> 20) & ~3
        if not where:
            break


def render_function(fn: Function, opts: LspciOptions) -> str:
    """One function as lspci prints it, with the blank line lspci puts after verbose or hex output."""
    from .lspci_header import show_device

    ctx = Ctx(fn, opts)
    show_device(ctx)
    return ctx.listing.text()


def render_source(source: Source, opts: LspciOptions, selector: str | None = None) -> str:
    from .lspci_header import show_all

    return show_all(source, opts, selector)

"""Text exactly as `lspci` (pciutils 3.9) prints it, for the same flags, from our decoded model.

Renderers write into a `Ctx` the way lspci writes to stdout (`ctx.p(...)` with explicit newlines), so
a person can hold our output next to lspci's.  Capability renderers live in `render/caps/*.py` and
`render/ecaps/*.py`; each module defines `RENDERERS = {capability id: function(ctx, cap)}`.  The
function is called after "\tCapabilities: [xx] " has been written and writes the rest.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..model import Capability, Function
    from ..sources.base import Source

CapRenderer = "Callable[[Ctx, Capability], None]"


@dataclass(frozen=True)
class LspciOptions:
    verbose: int = 0  # -v, -vv, -vvv
    numeric: int = 0  # 0: names, 1: -n numbers, 2: -nn both
    domains: bool = False  # -D
    kernel: bool = False  # -k
    hex_dump: int = 0  # -x, -xxx, -xxxx


class Ctx:
    """Output buffer and per-function state shared by the header and capability renderers."""

    def __init__(self, fn: Function, opts: LspciOptions) -> None:
        self.fn = fn
        self.opts = opts
        self.verbose = opts.verbose
        self.cfg = fn.config
        self.chunks: list[str] = []
        #: facts one renderer leaves for later ones (e.g. "exp_type" for extended caps)
        self.state: dict[str, Any] = {}

    def p(self, text: str) -> None:
        self.chunks.append(text)

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

    def text(self) -> str:
        return "".join(self.chunks)


def _collect(package: str) -> dict[int, Callable]:
    pkg = importlib.import_module(package)
    found: dict[int, Callable] = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{package}.{info.name}")
        for cap_id, fn in getattr(module, "RENDERERS", {}).items():
            if cap_id in found:
                raise RuntimeError(f"renderer for capability 0x{cap_id:x} defined twice ({info.name})")
            found[cap_id] = fn
    return found


@cache
def cap_renderers() -> dict[int, Callable]:
    return _collect(__package__ + ".caps")


@cache
def ecap_renderers() -> dict[int, Callable]:
    return _collect(__package__ + ".ecaps")


def show_caps(ctx: Ctx) -> None:
    """The standard capability list, then the extended one when lspci would show it."""
    fn = ctx.fn
    renderers = cap_renderers()
    std = [c for c in fn.capabilities if not c.extended]
    for cap in std:
        ctx.p(f"\tCapabilities: [{cap.offset:02x}] ")
        render = renderers.get(cap.id)
        if render is None:
            ctx.p(f"Capability ID {cap.id:#x} [{ctx.u16(cap.offset + 2):04x}]\n")
        else:
            render(ctx, cap)
    for problem in fn.problems:
        if problem.extended:
            continue
        if problem.kind in ("access_denied", "truncated"):
            ctx.p("\tCapabilities: <access denied>\n")
        elif problem.kind == "looped":
            ctx.p(f"\tCapabilities: [{problem.offset:02x}] <chain looped>\n")
        elif problem.kind == "broken":
            ctx.p(f"\tCapabilities: [{problem.offset:02x}] <chain broken>\n")
    if ctx.state.get("can_have_ext_caps"):
        show_ext_caps(ctx)


def show_ext_caps(ctx: Ctx) -> None:
    renderers = ecap_renderers()
    for cap in (c for c in ctx.fn.capabilities if c.extended):
        ctx.p(f"\tCapabilities: [{cap.offset:03x}")
        if ctx.verbose > 1:
            ctx.p(f" v{cap.version}")
        ctx.p("] ")
        render = renderers.get(cap.id)
        if render is None:
            ctx.p(f"Extended Capability ID {cap.id:#x}\n")
        else:
            render(ctx, cap)
    for problem in ctx.fn.problems:
        if problem.extended and problem.kind == "looped":
            ctx.p(f"\tCapabilities: [{problem.offset:03x}")
            if ctx.verbose > 1:
                ctx.p(f" v{(ctx.u32(problem.offset) >> 16) & 0xF}")
            ctx.p("] <chain looped>\n")


def render_function(fn: Function, opts: LspciOptions) -> str:
    """One function as lspci prints it (without the blank line lspci puts after verbose output)."""
    from .lspci_header import show_device

    ctx = Ctx(fn, opts)
    show_device(ctx)
    return ctx.text()


def render_source(source: Source, opts: LspciOptions, selector: str | None = None) -> str:
    from .lspci_header import show_all

    return show_all(source, opts, selector)

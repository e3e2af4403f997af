"""lspci's device header lines (first line, Control/Status, BARs, bridge windows, ...).

FIRST VERSION: only the first line (numeric) and the capability list; being completed to match
lspci's show_device()/show_verbose() exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lspci import Ctx, LspciOptions, show_caps

if TYPE_CHECKING:
    from ..sources.base import Source


def show_device(ctx: Ctx) -> None:
    fn = ctx.fn
    addr = str(fn.address) if ctx.opts.domains else fn.address.short
    ctx.p(f"{addr} Class [{fn.class_code >> 8:04x}]: Device [{fn.vendor_id:04x}:{fn.device_id:04x}]\n")
    if ctx.verbose:
        if fn.header_type in (0, 1):
            ctx.state["can_have_ext_caps"] = False
        show_caps(ctx)


def show_all(source: Source, opts: LspciOptions, selector: str | None = None) -> str:
    out = []
    for fn in source.functions(selector):
        ctx = Ctx(fn, opts)
        show_device(ctx)
        out.append(ctx.text())
        if opts.verbose:
            out.append("\n")
    return "".join(out)

"""Capability chain: the header and every capability as links of a chain (offset, id, name); selecting
one shows its registers and fields, each bit's meaning taken from the declarations in `regs`."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from .common import Follows, esc
from .hexview import HexView

_STYLE = """<style>
.pcx-fields table{border-collapse:collapse;font-size:12px}
.pcx-fields td,.pcx-fields th{padding:1px 6px;line-height:1.3;border-bottom:1px solid #eee;text-align:left}
.pcx-fields tr.reg td{background:#f3f6fa;font-weight:bold}
.pcx-fields code{font-size:12px}
.pcx-fields td:nth-child(-n+3){white-space:nowrap}
.pcx-fields .doc{color:#555;font-size:11px;min-width:120px}
</style>"""


def _span(block: Any) -> int:
    """Bytes a block covers for highlighting: its declared registers, else the capability header."""
    if block.layout is not None and block.layout.length:
        return block.layout.length
    return 4 if getattr(block, "extended", False) else 2


def fields_html(block: Any) -> str:
    """Registers of a decoded block as a table; every name carries its declaration's words as a tooltip."""
    if block.layout is None:
        if not hasattr(block, "id"):  # the header of a type lspci does not know either (fn.problems says why)
            return f"{_STYLE}<div class='pcx-fields'><i>Unknown header type: only its bytes are shown.</i></div>"
        return (f"{_STYLE}<div class='pcx-fields'><i>No declaration for {esc(block.name)} yet: "
                f"only its bytes are shown.</i></div>")
    rows = []
    for rv in block.registers():
        d = rv.decl
        value = "unreadable" if rv.value is None else f"0x{rv.value:0{d.width * 2}x}"
        tip = " - ".join(t for t in (d.label, d.doc) if t)
        rows.append(f"<tr class='reg'><td title='{esc(tip)}'>{esc(d.name)}</td><td>0x{rv.offset:03x}</td>"
                    f"<td><code>{value}</code></td><td class='doc'>{esc(d.label)}</td></tr>")
        for f, raw, meaning in rv.describe():
            where = f"bit {f.lo}" if f.lo == f.hi else f"bits {f.hi}:{f.lo}"
            shown = ("+" if raw else "-") if f.is_flag else (f"{raw} ({meaning})" if meaning else f"{raw:#x}")
            label = f"{f.label}{shown}" if f.is_flag and f.label else shown
            tip = " - ".join(t for t in (f.label, f.doc) if t)
            rows.append(f"<tr><td title='{esc(tip)}'>&nbsp;&nbsp;{esc(f.name)}</td><td>{where}</td>"
                        f"<td><code>{esc(label)}</code></td><td class='doc'>{esc(f.doc)}</td></tr>")
    head = "<tr><th>register / field</th><th>where</th><th>value</th><th>meaning</th></tr>"
    return f"{_STYLE}<div class='pcx-fields'><table>{head}{''.join(rows)}</table></div>"


class CapabilityChain(Follows, w.VBox):
    """The chain of one function; `.links` are the buttons (header first), `.selected` the chosen block."""

    def __init__(self, function: Any | None = None, hexview: HexView | None = None) -> None:
        self.hexview = hexview
        self.function: Any | None = None
        self.blocks: list[Any] = []
        self.links: list[w.Button] = []
        self.selected: Any | None = None
        self.chain = w.HBox(layout=w.Layout(flex_flow="row wrap", align_items="center"))
        self.problems = w.HTML()
        self.register = w.Dropdown(description="Field", layout=w.Layout(width="480px"))
        self.register.observe(self._focus, names="value")
        self.fields = w.HTML()
        super().__init__([self.chain, self.problems, self.register, self.fields])
        self.add_class("pcx-chain")
        self.show(function)

    def show(self, function: Any | None) -> None:
        self.function = function
        self.follow(function)
        self.blocks = [] if function is None else [function.header, *function.capabilities]
        self.links = []
        items: list[w.Widget] = []
        for i, block in enumerate(self.blocks):
            if i:
                items.append(w.HTML("<span style='font-size:18px;padding:0 2px'>&rarr;</span>"))
            items.append(self._link(block))
        self.chain.children = items
        problems = [] if function is None else function.problems
        self.problems.value = "".join(f"<div style='color:#b00020'>&#9888; {esc(p)}</div>" for p in problems)
        if self.hexview is not None and self.hexview.function is not function:
            self.hexview.show(function)
        self.select(self.blocks[1] if len(self.blocks) > 1 else (self.blocks[0] if self.blocks else None))

    def _device_changed(self, fn: Any, what: str) -> None:
        """The values of the selected structure's registers changed: redraw its field table."""
        if self.selected is not None and what != "closed":
            self.fields.value = fields_html(self.selected)

    def _link(self, block: Any) -> w.Button:
        if hasattr(block, "id"):
            width = 3 if block.extended else 2
            text = f"[{block.offset:0{width}x}] {block.name} ({block.id:#x})"
            tip = block.layout.doc if block.layout is not None and block.layout.doc else block.name
        else:
            text = "[00] Header" + (f" ({block.layout.name})" if block.layout is not None else "")
            tip = "Configuration header: identity, command/status, BARs, capability pointer"
        button = w.Button(description=text, tooltip=tip, layout=w.Layout(width="auto"))
        button.add_class("pcx-link")
        button.on_click(lambda _b, blk=block: self.select(blk))
        self.links.append(button)
        return button

    def select(self, block: Any | None) -> None:
        self.selected = block
        for b, link in zip(self.blocks, self.links, strict=True):
            link.button_style = "info" if b is block else ""
        if block is None:
            self.fields.value = ""
            self.register.options = []
            return
        self.fields.value = fields_html(block)
        options: list[tuple[str, Any]] = [("(whole structure)", ())]
        for rv in block.registers():
            options.append((f"0x{rv.offset:03x} {rv.name}", (rv, None)))
            options += [(f"0x{rv.offset:03x}   {f.name}", (rv, f)) for f in rv.decl.fields]
        self.register.options = options
        self.register.value = ()
        if self.hexview is not None:
            self.hexview.highlight(block.offset, _span(block))

    def _focus(self, change: dict) -> None:
        if self.hexview is None:
            return
        if not change["new"]:  # nothing or the whole structure: no single field stands out
            self.hexview.focus(None)
            return
        rv, f = change["new"]
        if f is None:
            self.hexview.focus(rv.offset, rv.decl.width)
        else:
            self.hexview.focus(rv.offset + f.lo // 8, f.hi // 8 - f.lo // 8 + 1)

"""Hex view of config space: 16 bytes a row, the selected capability or field highlighted, annotations
marked (each marked byte carries the annotation's text as its tooltip)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import ipywidgets as w

from ..render.safe import notes_per_byte, tooltip
from .common import Follows, esc

_STYLE = """<style>
.pcx-hex table{border-collapse:collapse;font-family:monospace;font-size:12px}
.pcx-hex td{padding:0 3px;text-align:center}
.pcx-hex td.o{color:#888;text-align:right;padding-right:8px}
.pcx-hex td.sel{background:#ffe08a}
.pcx-hex td.fld{background:#f5a623;color:#000;font-weight:bold}
.pcx-hex td.ann{text-decoration:underline wavy #1565c0;color:#1565c0}
.pcx-hex td.na{color:#bbb}
</style>"""


class HexView(Follows, w.HTML):
    """Config bytes of one function; `highlight(offset, length)` marks a capability, `focus(...)` a field.

    `annotations`: (offset, length, text) triples (e.g. a capture's notes on bytes that matter).
    """

    def __init__(self, function: Any | None = None, length: int | None = None) -> None:
        super().__init__()
        self.add_class("pcx-hex")
        self.function = function
        self.length = length
        self.selection: tuple[int, int] | None = None
        self.field_bytes: tuple[int, int] | None = None
        self.annotations: list[tuple[int, int, str]] = []
        self.follow(function)
        self.render()

    def show(self, function: Any | None) -> None:
        self.function = function
        self.selection = self.field_bytes = None
        self.follow(function)
        self.render()

    def _device_changed(self, _fn: Any, what: str) -> None:
        if what != "closed":  # a closed source has nothing new to show: keep the last bytes
            self.render()

    def highlight(self, offset: int | None, length: int = 0) -> None:
        self.selection = None if offset is None else (offset, length)
        self.field_bytes = None
        self.render()

    def focus(self, offset: int | None, length: int = 0) -> None:
        self.field_bytes = None if offset is None else (offset, length)
        self.render()

    def annotate(self, notes: Iterable[tuple[int, int, str]]) -> None:
        self.annotations = list(notes)
        self.render()

    def _rows_to_show(self, data: bytes) -> int:
        if self.length is not None:
            return min(len(data), self.length)
        # extended space that is zero from some point on is not worth rows of zeros: stop at the last
        # 16-byte row holding something (never before 256 bytes, the standard space)
        used = len(data.rstrip(b"\0"))
        return min(len(data), max(256, -(-used // 16) * 16))

    def render(self) -> None:
        fn = self.function
        if fn is None:
            self.value = "<div class='pcx-hex'><i>no function selected</i></div>"
            return
        data = fn.config
        n = self._rows_to_show(data)
        # the first notes of each byte shown and how many there are: ranges clipped to the rows shown,
        # tooltips bounded (render.safe.tooltip), whatever the notes claim
        notes, count = notes_per_byte(((off, max(length, 1), text) for off, length, text in self.annotations), 0, n)

        def inside(i: int, span: tuple[int, int] | None) -> bool:
            return span is not None and span[0] <= i < span[0] + span[1]

        rows = []
        for base in range(0, n, 16):
            cells = [f"<td class='o'>{base:03x}:</td>"]
            for i in range(base, base + 16):
                if i >= n:
                    cells.append("<td class='na'>  </td>")
                    continue
                cls = ["fld" if inside(i, self.field_bytes) else "sel" if inside(i, self.selection) else ""]
                title = f"0x{i:03x}"
                if i in notes:
                    cls.append("ann")
                    title += ": " + tooltip(notes[i], count[i], "; ")
                classes = " ".join(c for c in cls if c)
                attr = f" class='{classes}'" if classes else ""
                cells.append(f"<td{attr} title='{esc(title)}' data-offset='{i}'>{data[i]:02x}</td>")
            rows.append("<tr>" + "".join(cells) + "</tr>")
        short = "" if n == len(data) else f"<small>{len(data) - n} more bytes, all zero, not shown</small>"
        if not data:
            short = "<small>the source has no config bytes for this function</small>"
        self.value = f"{_STYLE}<div class='pcx-hex'><table>{''.join(rows)}</table>{short}</div>"

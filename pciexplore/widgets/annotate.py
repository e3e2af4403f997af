"""Annotate from the page: the field, register or structure picked in the capability chain (or a byte
range typed as OFFSET+LENGTH), a note, and Save, which writes the capture file atomically.  Notes are
what captures carry; on any other source the panel says how to make one."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from ..errors import PciError
from .common import StatusLine, esc


class AnnotatePanel(w.VBox):
    """`AnnotatePanel(source, chain, on_saved=None)`; `target()` is what a note would cover now."""

    def __init__(self, source: Any, chain: Any, on_saved: Any = None) -> None:
        self.source, self.chain, self.on_saved = source, chain, on_saved
        self.where = w.HTML()
        self.bytes = w.Text(placeholder="or bytes: 0x9a+2", description="bytes", layout=w.Layout(width="220px"),
                            tooltip="a byte range of config space instead of the field picked above: OFFSET+LENGTH")
        self.text = w.Textarea(placeholder="what this means, what you saw, what to try", layout=w.Layout(width="100%"))
        self.tags = w.Text(placeholder="tags, comma separated", description="tags", layout=w.Layout(width="320px"))
        self.save = w.Button(description="save note", icon="save", button_style="primary",
                             tooltip="add the note and write the capture file atomically")
        self.status = StatusLine()
        self.save.on_click(lambda _b: self._save_clicked())
        chain.register.observe(lambda _ch: self._show_target(), names="value")
        self.bytes.observe(lambda _ch: self._show_target(), names="value")
        can = getattr(source, "annotate", None) is not None and getattr(source, "path", None) is not None
        why = None if can else (f"a {source.kind} source holds no notes: capture it first "
                                "(pciexplore capture SOURCE -o bug.json), then open the capture")
        for control in (self.bytes, self.text, self.tags, self.save):
            control.disabled = why is not None
        self.save.tooltip = why or self.save.tooltip
        body = [w.HTML(f"<small><i>{esc(why)}</i></small>")] if why else []
        super().__init__([w.HTML("<b>Note</b>"), self.where, self.bytes, self.text, self.tags, self.save, self.status,
                          *body])
        self.add_class("pcx-annotate")
        self._show_target()

    def target(self) -> Any:
        """A field or register name, or an (offset, length) range: what `Capture.annotate` takes."""
        typed = self.bytes.value.strip()
        if typed:
            offset, _, length = typed.partition("+")
            try:
                return int(offset, 0), int(length or "1", 0)
            except ValueError:
                raise PciError(f"bytes {typed!r}: write OFFSET+LENGTH, e.g. 0x9a+2") from None
        picked = self.chain.register.value
        if picked:
            rv, f = picked
            return f.name if f is not None else rv.name
        block = self.chain.selected
        if block is None:
            raise PciError("pick a structure, register or field in the chain first")
        return block.offset, max(1, block.layout.length if block.layout is not None else 1)

    def _show_target(self) -> None:
        try:
            t = self.target()
        except PciError as e:
            self.where.value = f"<small style='color:#b00020'>{esc(e)}</small>"
            return
        shown = t if isinstance(t, str) else f"config bytes 0x{t[0]:03x}+{t[1]}"
        self.where.value = f"<small>covers: <code>{esc(shown)}</code></small>"

    def _save_clicked(self) -> None:
        try:
            self.add_and_save()
        except PciError as e:  # a bad range, an empty note, a file that cannot be written: one line
            self.status.say(str(e), error=True)

    def add_and_save(self) -> None:
        fn = self.chain.function
        if fn is None:
            raise PciError("no function shown")
        tags = [t.strip() for t in self.tags.value.split(",") if t.strip()]
        note = self.source.annotate(fn, self.target(), self.text.value, tags=tags)
        path = self.source.save()
        self.text.value = ""
        self.status.say(f"noted on {note.where} and saved to {path}")
        if self.on_saved is not None:
            self.on_saved(fn)

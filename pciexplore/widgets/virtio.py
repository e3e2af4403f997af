"""The Virtio tab: a function's queues as rows (size, enable, vector, the message that vector sends and
its state); picking a queue highlights its MSI-X entry in the table view beside it.  Everything shown
comes from `fn.virtio.to_dict()`; the widget holds no virtio knowledge of its own."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from ..virtio.html import queues_html, vector_text
from .common import esc


class VirtioView(w.VBox):
    """`VirtioView(fn, msix_view=None)`: the queues of `fn.virtio`; `pick(queue)` highlights its entry."""

    def __init__(self, function: Any, msix_view: Any = None) -> None:
        self.function = function
        self.msix_view = msix_view
        self.summary = w.HTML()
        self.table = w.HTML()
        self.picker = w.Dropdown(description="queue", options=[], layout=w.Layout(width="240px"))
        self.picker.observe(lambda ch: self.pick(ch["new"]), names="value")
        self.refresh_button = w.Button(description="refresh", icon="refresh", tooltip="read the queues again")
        self.refresh_button.on_click(lambda _b: self.refresh())
        super().__init__([self.summary, w.HBox([self.picker, self.refresh_button]), self.table])
        self.add_class("pcx-virtio")
        self.info: dict[str, Any] = {}
        function.observe(self._device_changed)  # a vector the driver (or a verb) writes shows at once
        self.refresh()

    def _device_changed(self, _fn: Any, what: str) -> None:
        if what != "closed":
            self.refresh()

    def refresh(self) -> None:
        self.info = info = self.function.virtio.to_dict()
        self.summary.value = (f"<b>virtio {esc(info['device_type_name'])}</b> ({esc(info['transport'])}"
                              f"{', transitional' if info['transitional'] else ''})")
        if "queues" in info:
            names = "+".join(info["device_status_names"]) or "0 (reset)"
            self.summary.value += (f" &mdash; device_status {esc(names)}, MSI-X "
                                   f"{'enabled' if info['msix_enabled'] else 'disabled'}")
            self.picker.options = [(f"queue {q['index']} (vector {vector_text(q['msix_vector'])})", q["index"])
                                   for q in info["queues"]]
        self.table.value = queues_html(info)  # with what was not read, and why

    def pick(self, queue: int | None) -> int | None:
        """Highlight the MSI-X entry queue `queue`'s vector names (its page shown); returns that vector
        (None: the queue has no entry)."""
        row = next((q for q in self.info.get("queues", []) if q["index"] == queue), None)
        vector = row["msix_vector"] if row is not None and row["bound"] else None
        if self.msix_view is not None:
            self.msix_view.highlighted = vector
            if vector is None:
                self.msix_view.refresh()
            else:
                self.msix_view.row_of(vector)
        return vector

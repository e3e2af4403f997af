"""The Virtio tab: a function's queues as rows (size, enable, vector, the message that vector sends and
its state); picking a queue highlights its MSI-X entry in the table view beside it.  Everything shown
comes from `fn.virtio.to_dict()`; the widget holds no virtio knowledge of its own."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from .common import esc

HIGHLIGHT = "pcx-virtio-entry"  # CSS class put on the MSI-X row of the picked queue's vector
_STYLE = """<style>
.pcx-virtio-queues{border-collapse:collapse;font-size:12px}
.pcx-virtio-queues td,.pcx-virtio-queues th{padding:1px 6px;border-bottom:1px solid #eee;text-align:left}
.pcx-virtio-entry{background:#fff3c4;outline:2px solid #f9a825}
</style>"""


def _vector(v: int | None) -> str:
    return "not read" if v is None else "NO_VECTOR" if v == 0xFFFF else str(v)


def _entry(row: dict[str, Any]) -> str:
    if row.get("msix_vector") is None:
        return "<i>not read</i>"
    if not row["bound"]:
        return "<i>no MSI-X entry</i>"
    state = ("masked" if row["masked"] else "unmasked") + (", <b>pending</b>" if row["pending"] else "")
    return (f"<code>0x{row['address']:x} &larr; 0x{row['data']:08x}</code> {state} "
            f"<small>{esc(row['meaning'])}</small>")


def queues_html(info: dict[str, Any]) -> str:
    """The virtio model's plain data (`Virtio.to_dict()`) as a table: config vector first, then each queue."""
    head = ("<tr><th>queue</th><th>size</th><th>enable</th><th>vector</th><th>MSI-X entry</th></tr>")
    rows = [f"<tr class='pcx-virtio-config'><td>config</td><td></td><td></td>"
            f"<td>{_vector(info['config_vector']['msix_vector'])}</td><td>{_entry(info['config_vector'])}</td></tr>"]
    rows += [f"<tr class='pcx-virtio-queue'><td>{q['index']}</td><td>{_vector(q['size'])}</td>"
             f"<td>{_vector(q['enable'])}</td><td>{_vector(q['msix_vector'])}</td><td>{_entry(q)}</td></tr>"
             for q in info["queues"]]
    return f"{_STYLE}<table class='pcx-virtio-queues'>{head}{''.join(rows)}</table>"


class VirtioView(w.VBox):
    """`VirtioView(fn, msix_view=None)`: the queues of `fn.virtio`; `pick(queue)` highlights its entry."""

    def __init__(self, function: Any, msix_view: Any = None) -> None:
        self.function = function
        self.msix_view = msix_view
        self.summary = w.HTML()
        self.table = w.HTML()
        self.notes = w.HTML()
        self.picker = w.Dropdown(description="queue", options=[], layout=w.Layout(width="240px"))
        self.picker.observe(lambda ch: self.pick(ch["new"]), names="value")
        self.refresh_button = w.Button(description="refresh", icon="refresh", tooltip="read the queues again")
        self.refresh_button.on_click(lambda _b: self.refresh())
        super().__init__([self.summary, w.HBox([self.picker, self.refresh_button]), self.table, self.notes])
        self.add_class("pcx-virtio")
        self.info: dict[str, Any] = {}
        self.refresh()

    def refresh(self) -> None:
        self.info = info = self.function.virtio.to_dict()
        self.summary.value = (f"<b>virtio {esc(info['device_type_name'])}</b> ({esc(info['transport'])}"
                              f"{', transitional' if info['transitional'] else ''})")
        if "queues" not in info:
            self.table.value = ""
        else:
            names = "+".join(info["device_status_names"]) or "0 (reset)"
            self.summary.value += (f" &mdash; device_status {esc(names)}, MSI-X "
                                   f"{'enabled' if info['msix_enabled'] else 'disabled'}")
            self.table.value = queues_html(info)
            self.picker.options = [(f"queue {q['index']} (vector {_vector(q['msix_vector'])})", q["index"])
                                   for q in info["queues"]]
        self.notes.value = "".join(f"<div><small>not read: {esc(u)}</small></div>" for u in info.get("unread", []))

    def pick(self, queue: int | None) -> int | None:
        """Highlight the MSI-X entry queue `queue`'s vector names; returns that vector (None: no entry)."""
        if self.msix_view is not None:
            for r in self.msix_view.rows:
                r.box.remove_class(HIGHLIGHT)
        row = next((q for q in self.info.get("queues", []) if q["index"] == queue), None)
        if row is None or not row["bound"]:
            return None
        vector = row["msix_vector"]
        if self.msix_view is not None:
            self.msix_view.row_of(vector).box.add_class(HIGHLIGHT)
        return vector

"""The virtio model as HTML (no widgets): the queue table the notebook repr and the Virtio tab show."""

from __future__ import annotations

from html import escape
from typing import Any

_STYLE = """<style>
.pcx-virtio-queues{border-collapse:collapse;font-size:12px}
.pcx-virtio-queues td,.pcx-virtio-queues th{padding:1px 6px;border-bottom:1px solid #eee;text-align:left}
.pcx-highlight{background:#fff3c4;outline:2px solid #f9a825}
</style>"""


def vector_text(v: int | None) -> str:
    return "not read" if v is None else "NO_VECTOR" if v == 0xFFFF else str(v)


def _entry(row: dict[str, Any]) -> str:
    if row.get("msix_vector") is None:
        return "<i>not read</i>"
    if not row["bound"]:
        return "<i>no MSI-X entry</i>"
    state = ("masked" if row["masked"] else "unmasked") + (", <b>pending</b>" if row["pending"] else "")
    return (f"<code>0x{row['address']:x} &larr; 0x{row['data']:08x}</code> {state} "
            f"<small>{escape(str(row['meaning']))}</small>")


def queues_html(info: dict[str, Any]) -> str:
    """The virtio model's plain data (`Virtio.to_dict()`) as a table: config vector first, then each queue;
    what was not read below it."""
    notes = "".join(f"<div><small>not read: {escape(str(u))}</small></div>" for u in info.get("unread", []))
    if "queues" not in info:
        return notes
    head = "<tr><th>queue</th><th>size</th><th>enable</th><th>vector</th><th>MSI-X entry</th></tr>"
    rows = [f"<tr class='pcx-virtio-config'><td>config</td><td></td><td></td>"
            f"<td>{vector_text(info['config_vector']['msix_vector'])}</td><td>{_entry(info['config_vector'])}</td></tr>"]
    rows += [f"<tr class='pcx-virtio-queue'><td>{q['index']}</td><td>{vector_text(q['size'])}</td>"
             f"<td>{vector_text(q['enable'])}</td><td>{vector_text(q['msix_vector'])}</td><td>{_entry(q)}</td></tr>"
             for q in info["queues"]]
    return f"{_STYLE}<table class='pcx-virtio-queues'>{head}{''.join(rows)}</table>"

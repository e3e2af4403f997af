"""The interrupt doctor as a notebook panel: the findings of `pciexplore.doctor` as a table, with a
button to check again after changing the device."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from .common import esc

SEVERITY_COLOUR = {"error": "#b00020", "warning": "#b35c00", "info": "#555"}


class DoctorPanel(w.VBox):
    """`DoctorPanel(source)`: every finding with its rule, where it is and what to do."""

    def __init__(self, source: Any, selector: str | None = None) -> None:
        self.source, self.selector = source, selector
        self.button = w.Button(description="check again", icon="stethoscope", layout=w.Layout(width="auto"))
        self.button.on_click(lambda _b: self.refresh())
        self.table = w.HTML()
        self.findings: list[Any] = []
        super().__init__([self.button, self.table])
        self.functions = source.functions(selector)
        for fn in self.functions:  # the findings follow every change to the functions checked
            fn.observe(self._device_changed)
        self.refresh()

    def _device_changed(self, _fn: Any, what: str) -> None:
        if what != "closed":
            self.refresh()

    def refresh(self) -> None:
        from ..doctor import diagnose

        for fn in self.source.functions(self.selector):
            fn.refresh()
        self.findings = diagnose(self.source, self.selector)
        self.table.value = findings_html(self.findings, self.functions)

    def snapshot_html(self) -> str:
        return self.table.value


def checked_words(functions: list[Any] | None) -> str:
    """What an all-clear speaks of: the one function checked by its address, else how many."""
    if functions is None:
        return "every function"
    if len(functions) == 1:
        return str(functions[0].address)
    return f"all {len(functions)} functions" if functions else "no function (none was checked)"


def findings_html(findings: list[Any], functions: list[Any] | None = None) -> str:
    """Findings as a table: function, severity (in words and colour), where, what, rule and fix.
    `functions`: those checked, so that no findings speaks of them (one function by its address)."""
    if not findings:
        return f"<p>No findings: the MSI/MSI-X set-up of {esc(checked_words(functions))} looks sound.</p>"
    rows = "".join(
        f"<tr><td><code>{esc(f.device)}</code></td>"
        f"<td style='color:{SEVERITY_COLOUR.get(f.severity, '#000')};font-weight:bold'>{esc(f.severity)}</td>"
        f"<td><code>{esc(f.where)}</code></td><td>{esc(f.message)}<br><small>rule: {esc(f.rule)}</small>"
        f"<br><small>fix: {esc(f.fix)}</small></td></tr>"
        for f in findings)
    return ("<table class='pcx-doctor'><tr><th>function</th><th>severity</th><th>where</th>"
            f"<th>finding</th></tr>{rows}</table>")

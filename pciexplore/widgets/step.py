"""One step of a story as a button: pressing it calls a model verb, refreshes the views that show the
device, and prints what the model's event log says happened."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as w

from .common import StatusLine, esc


class Step(w.VBox):
    """`Step("Enable MSI-X", fn.msix.enable, log=fn.msix.log, views=[table])`; `press()` does what a click does."""

    def __init__(self, label: str, verb: Callable[..., Any], *args: Any, log: Sequence[Any] | None = None,
                 views: Sequence[Any] = (), spec: str = "") -> None:
        self.verb, self.args, self.events, self.views = verb, args, log, list(views)
        self.button = w.Button(description=label, button_style="primary", layout=w.Layout(width="auto"))
        self.button.add_class("pcx-step")
        self.button.on_click(lambda _b: self.press())
        self.said = w.HTML()
        self.status = StatusLine()
        self.presses = 0
        head = [self.button] + ([w.HTML(f"<i>{esc(spec)}</i>")] if spec else [])
        super().__init__([w.HBox(head), self.said, self.status])

    def press(self) -> list[str]:
        """Run the verb once; returns the event log lines it added (a refusal shows as the status line)."""
        before = len(self.events) if self.events is not None else 0
        self.presses += 1
        self.status.run(self.verb, *self.args)
        for view in self.views:
            view.refresh()
        lines = [str(e) for e in list(self.events)[before:]] if self.events is not None else []
        self.said.value = "".join(f"<div style='font-family:monospace'>&rarr; {esc(t)}</div>" for t in lines)
        return lines

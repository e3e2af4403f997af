"""One step of a story as a button: pressing it calls a model verb and records, under the button, what
the model's event log says happened and a snapshot of the state it left.  The snapshot is static: after a
notebook runs top to bottom each step still shows its own moment, while the live views (which follow the
device) show the last one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as w

from .common import StatusLine, esc


def default_snapshot(verb: Callable[..., Any]) -> Callable[[], str] | None:
    """A verb of an MSI-X model is recorded with the model's table and PBA; other verbs with nothing."""
    from ..msi.msix import Msix
    from .msix import snapshot_html

    model = getattr(verb, "__self__", None)
    return (lambda: snapshot_html(model)) if isinstance(model, Msix) else None


class Step(w.VBox):
    """`Step("Enable MSI-X", fn.msix.enable, log=fn.msix.log)`; `press()` does what a click does.

    `snapshot` gives the HTML recorded after each press (default: the MSI-X table and PBA when the verb
    is an MSI-X model's)."""

    def __init__(self, label: str, verb: Callable[..., Any], *args: Any, log: Sequence[Any] | None = None,
                 spec: str = "", snapshot: Callable[[], str] | None = None) -> None:
        self.verb, self.args, self.events = verb, args, log
        self.snapshot = snapshot if snapshot is not None else default_snapshot(verb)
        self.button = w.Button(description=label, button_style="primary", layout=w.Layout(width="auto"))
        self.button.add_class("pcx-step")
        self.button.on_click(lambda _b: self.press())
        self.said = w.HTML()
        self.status = StatusLine()
        self.state = w.HTML()
        self.presses = 0
        head = [self.button] + ([w.HTML(f"<i>{esc(spec)}</i>")] if spec else [])
        super().__init__([w.HBox(head), self.said, self.status, self.state])

    def press(self) -> list[str]:
        """Run the verb once; returns the event log lines it added (a refusal shows as the status line)."""
        before = len(self.events) if self.events is not None else 0
        self.presses += 1
        self.status.run(self.verb, *self.args)
        lines = [str(e) for e in list(self.events)[before:]] if self.events is not None else []
        self.said.value = "".join(f"<div style='font-family:monospace'>&rarr; {esc(t)}</div>" for t in lines)
        if self.snapshot is not None:
            self.state.value = self.snapshot()
        return lines

"""A recorded bring-up, scrubbed step by step: the step in words and what the driver had written by then.

A view over `Timeline` (pciexplore.sources.qemu.timeline): the slider picks a step, the model's
`state(step, function)` says what every register held then; the widget only renders it.
"""

from __future__ import annotations

from html import escape as esc
from typing import Any

import ipywidgets as w

CONTEXT = 3  # steps shown before and after the current one


class TimelineView(w.VBox):
    """`TimelineView(src.timeline())`: a slider over the steps, a function filter, and the state at the step."""

    def __init__(self, timeline: Any, function: str | None = None) -> None:
        self.timeline = timeline
        functions = sorted({s.function for s in timeline})
        self.slider = w.IntSlider(value=max(len(timeline) - 1, 0), min=0, max=max(len(timeline) - 1, 0),
                                  description="step", continuous_update=True, layout=w.Layout(width="95%"))
        self.function = w.Dropdown(options=[("all functions", None)] + [(f, f) for f in functions], value=function,
                                   description="function")
        self.steps = w.HTML()
        self.table = w.HTML()
        self.slider.observe(lambda _: self.show(), names="value")
        self.function.observe(lambda _: self.show(), names="value")
        super().__init__([w.HBox([self.function]), self.slider, self.steps, self.table])
        self.show()

    def show(self) -> None:
        n = self.slider.value
        if not len(self.timeline):
            self.steps.value = "<small>no steps recorded</small>"
            self.table.value = ""
            return
        lo, hi = max(0, n - CONTEXT), min(len(self.timeline), n + CONTEXT + 1)
        lines = [f"<b>{esc(s.text)}</b>" if s.step == n else f"<span style='color:#777'>{esc(s.text)}</span>"
                 for s in self.timeline.steps[lo:hi]]
        self.steps.value = "<pre style='margin:0'>" + "\n".join(lines) + "</pre>"
        state = self.timeline.state(n, self.function.value)
        state["value"] = state["value"].map(lambda v: f"{v:#x}")
        self.table.value = (f"<small>as written by step {n}: {len(state)} registers</small>"
                            + state.to_html(index=False, classes="pcx-timeline-state"))

"""The interrupt path as a live picture: pciexplore.msi.path's model drawn by render/irqpath.py, with
counts and rates refreshed by `poll()` or in the background by `start(interval)`."""

from __future__ import annotations

import time
from typing import Any

import ipywidgets as w

from .common import PollingView


class InterruptPathView(PollingView, w.VBox):
    """device → entry → message → APIC/CPU → IRQ → handler for a sysfs source (or one function of it)."""

    poll_thread = "pciexplore-irqpath"
    poll_wait_first = True  # the view has just drawn

    def __init__(self, source: Any, selector: str | None = None, proc: Any = None) -> None:
        from ..msi.path import interrupt_paths

        self.paths = interrupt_paths(source, selector, proc)
        self.picture = w.HTML()
        self.status = w.HTML()
        self._last = time.monotonic()
        super().__init__([self.picture, self.status])
        self.add_class("pcx-irqpath")
        self.render()

    def poll(self) -> None:
        """Read the kernel's files again; rates are per second since the previous poll."""
        self.paths.sample(0, sleep=lambda _: None, clock=_Since(self._last))
        self._last = time.monotonic()
        self.render()

    def render(self) -> None:
        from ..render.irqpath import paths_html

        self.picture.value = paths_html(self.paths)
        bad = len(self.paths.disagreements())
        self.status.value = (f"<small>{len(self.paths.vectors)} vectors; "
                             f"{bad} message(s) disagree with the effective affinity</small>")


class _Since:
    """A clock for InterruptPaths.sample that measures from the previous poll, not from the call."""

    def __init__(self, start: float) -> None:
        self.calls = 0
        self.start = start

    def __call__(self) -> float:
        self.calls += 1
        return self.start if self.calls == 1 else time.monotonic()

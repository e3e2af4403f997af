"""Interrupt counts over time: one line per vector (or IRQ), drawn as SVG, fed by any sampler.

The sampler is a model's: a callable returning {label: cumulative count} (e.g. the kernel's
/proc/interrupts counts for a function's MSI-X vectors).  The plot shows increments between samples.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as w

from .common import PollingView, esc

_COLORS = ("#1565c0", "#c62828", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#ad1457", "#4e342e")


class InterruptPlot(PollingView, w.VBox):
    """`poll()` takes one sample; `start(interval)` samples in the background until `stop()`."""

    poll_thread = "pciexplore-irqplot"

    def __init__(self, sample: Callable[[], Mapping[str, int]], window: int = 60, width: int = 640,
                 height: int = 200, title: str = "interrupts per sample interval") -> None:
        self.sample = sample
        self.window = window
        self.width, self.height = width, height
        self.title = title
        self.times: list[float] = []
        self.counts: list[dict[str, int]] = []
        self.svg = w.HTML()
        self.status = w.HTML()
        super().__init__([self.svg, self.status])
        self.add_class("pcx-irqplot")
        self.render()

    @classmethod
    def of_function(cls, fn: Any, **options: Any) -> InterruptPlot:
        """Counts of `fn`'s MSI/MSI-X vectors as the live kernel reports them (/proc/interrupts and
        msi_irqs/, through pciexplore.msi.kernel), one line per vector labelled with its handler."""
        import pandas as pd

        from ..msi.kernel import vectors

        def sample() -> dict[str, int]:
            return {(f"#{r.entry} " if not pd.isna(r.entry) else "") + (r.name or f"IRQ {r.irq}"):
                    0 if pd.isna(r.total) else int(r.total)
                    for r in vectors(selector=str(fn.address)).itertuples()}

        options.setdefault("title", f"interrupts of {fn.address} per sample interval")
        return cls(sample, **options)

    def poll(self) -> dict[str, int]:
        counts = dict(self.sample())
        self.times.append(time.monotonic())
        self.counts.append(counts)
        del self.times[: -self.window - 1]
        del self.counts[: -self.window - 1]
        self.render()
        return counts

    def deltas(self) -> dict[str, list[int]]:
        """Increments per label between consecutive samples (a counter that went back counts as 0)."""
        labels = sorted({k for c in self.counts for k in c})
        out: dict[str, list[int]] = {}
        for label in labels:
            seq = [c.get(label, 0) for c in self.counts]
            out[label] = [max(0, b - a) for a, b in zip(seq, seq[1:], strict=False)]
        return out

    def render(self) -> None:
        series = self.deltas()
        W, H, pad = self.width, self.height, 30
        top = max((max(v, default=0) for v in series.values()), default=0) or 1
        steps = max(1, self.window - 1)
        parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{W}' height='{H}' class='pcx-irqsvg'>",
                 f"<rect x='{pad}' y='5' width='{W - pad - 5}' height='{H - pad}' fill='#fafafa' stroke='#ccc'/>",
                 f"<text x='2' y='14' font-size='10'>{top}</text><text x='2' y='{H - pad + 5}' font-size='10'>0</text>"]
        legend = []
        for i, (label, vals) in enumerate(series.items()):
            color = _COLORS[i % len(_COLORS)]
            xy = [(pad + (W - pad - 5) * j / steps, 5 + (H - pad) * (1 - v / top))
                  for j, v in enumerate(vals[-steps - 1:])]
            if xy:  # the line, and a dot at its newest point so the first interval shows too
                pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
                parts.append(f"<polyline fill='none' stroke='{color}' stroke-width='1.5' points='{pts}'>"
                             f"<title>{esc(label)}</title></polyline>"
                             f"<circle cx='{xy[-1][0]:.1f}' cy='{xy[-1][1]:.1f}' r='2.5' fill='{color}'/>")
            total = self.counts[-1].get(label, 0) if self.counts else 0
            legend.append(f"<span style='color:{color}'>&#9632; {esc(label)}: {total}</span>")
        parts.append(f"<text x='{pad}' y='{H - 8}' font-size='11'>{esc(self.title)}; "
                     f"{len(self.counts)} samples</text></svg>")
        self.svg.value = "".join(parts) + "<div style='font-size:12px'>" + " &nbsp; ".join(legend) + "</div>"

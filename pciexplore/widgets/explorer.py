"""Explorer: the whole kit on one screen (what `pciexplore dashboard` serves) — the device browser on
the left; the chosen function's capability chain with its hex view, and its MSI-X table and PBA."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from ..words import plural
from .browser import DeviceBrowser
from .chain import CapabilityChain
from .common import esc, function_label, msix_model
from .hexview import HexView
from .irqplot import InterruptPlot
from .msix import MsixTableView


def config_notes(source: Any, fn: Any) -> list[tuple[int, int, str]]:
    """(offset, length, text) of the source's notes on `fn`'s config space (captures have them)."""
    notes = getattr(source, "notes", None)
    if notes is None:
        return []
    return [(a.offset, a.length, a.text) for a in notes(fn) if a.bar is None]


class Explorer(w.VBox):
    """`Explorer(source)`; `.browser`, `.chain`, `.hexview` and `.msix` (None when the function has none)."""

    def __init__(self, source: Any, page_size: int = 16) -> None:
        self.source = source
        self.page_size = page_size
        self.msix: MsixTableView | None = None
        self.plot: InterruptPlot | None = None
        self.title = w.HTML(f"<h3 style='margin:4px 0'>pciexplore &mdash; {esc(source.name)} "
                            f"<small>({esc(source.kind)}, {plural(len(source.functions()), 'function')})</small></h3>")
        self.browser = DeviceBrowser(source)
        self.hexview = HexView()
        self.chain = CapabilityChain(hexview=self.hexview)
        self.heading = w.HTML()
        self.msix_box = w.VBox()
        self.irq_box = w.VBox()
        # the chain's field table scrolls beside the hex view, so a selected field and its bytes are both seen
        # min_width 0: the table may shrink below its widest line, so its meaning column wraps instead of
        # running under the hex view
        self.chain.fields.layout = w.Layout(max_height="520px", overflow="auto", flex="1 1 auto", min_width="0")
        self.chain.children = [c for c in self.chain.children if c is not self.chain.fields]
        self.hexview.layout = w.Layout(max_height="520px", overflow="auto", flex="0 0 auto", min_width="440px")
        self.tabs = w.Tab([w.VBox([self.chain, w.HBox([self.chain.fields, self.hexview])]), self.msix_box,
                           self.irq_box])
        for i, title in enumerate(("Capabilities", "MSI-X", "Interrupts")):
            self.tabs.set_title(i, title)
        right = w.VBox([self.heading, self.tabs], layout=w.Layout(width="71%"))
        left = w.VBox([self.browser], layout=w.Layout(width="28%"))
        super().__init__([self.title, w.HBox([left, right])])
        self.add_class("pcx-explorer")
        self.browser.on_select(self.show)
        if self.browser.selected is not None:
            self.show(self.browser.selected)

    def show(self, fn: Any) -> None:
        self.heading.value = f"<b>{esc(function_label(fn))}</b>"
        self.chain.show(fn)
        self.hexview.annotate(config_notes(self.source, fn))
        if msix_model(fn) is None:
            self.msix = None
            self.msix_box.children = [w.HTML("<i>This function has no MSI-X capability.</i>")]
        else:
            self.msix = MsixTableView(fn, page_size=self.page_size)
            self.msix_box.children = [self.msix]
        self._show_interrupts(fn)

    def _show_interrupts(self, fn: Any) -> None:
        """The live kernel's counts per vector, for functions of this host that have MSI/MSI-X IRQs."""
        if self.plot is not None:
            self.plot.stop()
            self.plot = None
        if not getattr(self.source, "is_live_host", False):
            why = f"a {self.source.kind} source is not this host's live kernel: there are no counts to watch"
            self.irq_box.children = [w.HTML(f"<i>{esc(why)}</i>")]
            return
        if not (fn.kernel and fn.kernel.msi_irqs):
            self.irq_box.children = [w.HTML("<i>The kernel has no MSI/MSI-X IRQs for this function.</i>")]
            return
        self.plot = InterruptPlot.of_function(fn)
        self.plot.poll()
        sample = w.Button(description="sample", icon="refresh", tooltip="read the counts once more")
        sample.on_click(lambda _b: self.plot.poll() if self.plot else None)
        live = w.ToggleButton(description="live (1 s)", icon="play", tooltip="sample every second until toggled off")
        live.observe(lambda ch: (self.plot.start(1.0) if ch["new"] else self.plot.stop()) if self.plot else None,
                     names="value")
        self.irq_box.children = [w.HBox([sample, live]), self.plot]

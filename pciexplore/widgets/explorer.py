"""Explorer: the whole kit on one screen (what `pciexplore dashboard` serves) — the device browser on
the left; the chosen function's capability chain with its hex view, and its MSI-X table and PBA."""

from __future__ import annotations

import threading
from typing import Any

import ipywidgets as w

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


LIVE_INTERVAL = 0.2  # seconds between refreshes of a table that changes by itself (goal: 5 per second)


class Explorer(w.VBox):
    """`Explorer(source)`; `.browser`, `.chain`, `.hexview` and `.msix` (None when the function has none)."""

    def __init__(self, source: Any, page_size: int = 16) -> None:
        self.source = source
        self.page_size = page_size
        self.msix: MsixTableView | None = None
        self.plot: InterruptPlot | None = None
        self.live_refreshes = 0  # MSI-X table refreshes done by the live toggle
        self._live_stop: threading.Event | None = None
        self.title = w.HTML(f"<h3 style='margin:4px 0'>pciexplore &mdash; {esc(source.name)} "
                            f"<small>({esc(source.kind)}, {len(source.functions())} functions)</small></h3>")
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
            self.msix_box.children = [self._live_toggle(fn), self.msix] if self._changes_by_itself() else [self.msix]
        self._show_interrupts(fn)

    def _changes_by_itself(self) -> bool:
        """A running guest (qmp:) or this host's kernel reprograms tables while we look; a file never does."""
        return bool(getattr(self.source, "is_running_guest", False) or getattr(self.source, "is_live_host", False))

    def _live_toggle(self, fn: Any) -> w.ToggleButton:
        self.stop_live()
        live = w.ToggleButton(description=f"live ({1 / LIVE_INTERVAL:g}/s)", icon="play",
                              tooltip="read the table again and again, as the guest's driver changes it")
        live.observe(lambda ch: self.start_live(fn) if ch["new"] else self.stop_live(), names="value")
        return live

    def start_live(self, fn: Any, interval: float | None = None) -> None:
        """Refresh the MSI-X view of `fn` every `interval` seconds in a thread until stop_live()."""
        self.stop_live()
        stop = self._live_stop = threading.Event()
        view = self.msix

        def loop() -> None:
            while not stop.wait(interval or LIVE_INTERVAL):
                try:
                    fn.refresh()
                    view.refresh()
                except Exception:  # noqa: BLE001 - a VM that exited: the view keeps its last state
                    return
                self.live_refreshes += 1

        threading.Thread(target=loop, name="pciexplore-live-msix", daemon=True).start()

    def stop_live(self) -> None:
        if self._live_stop is not None:
            self._live_stop.set()
            self._live_stop = None

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

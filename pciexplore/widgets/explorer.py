"""Explorer: the whole kit on one screen (what `pciexplore dashboard` serves) — the device browser on
the left; the chosen function's capability chain with its hex view, and its MSI-X table and PBA."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from ..words import plural
from .annotate import AnnotatePanel
from .browser import DeviceBrowser
from .chain import CapabilityChain
from .common import Poller, esc, function_label, msix_model, stop_following
from .doctor import DoctorPanel
from .hexview import HexView
from .irqplot import InterruptPlot
from .msix import MsixTableView
from .virtio import VirtioView


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
        self._live: Poller | None = None
        self.title = w.HTML(f"<h3 style='margin:4px 0'>pciexplore &mdash; {esc(source.name)} "
                            f"<small>({esc(source.kind)}, {plural(len(source.functions()), 'function')})</small></h3>")
        self.browser = DeviceBrowser(source)
        self.hexview = HexView()
        self.chain = CapabilityChain(hexview=self.hexview)
        self.heading = w.HTML()
        self.msix_box = w.VBox()
        self.irq_box = w.VBox()
        self.virtio_box = w.VBox()
        self.virtio: VirtioView | None = None
        # the chain's field table scrolls beside the hex view, so a selected field and its bytes are both seen;
        # it shrinks down to its narrowest form (the meaning column wraps) and, where even that does not fit
        # beside the hex view, the hex view moves below it instead of running over it
        self.chain.fields.layout = w.Layout(max_height="520px", overflow="auto", flex="1 1 0",
                                            min_width="min-content")
        self.chain.children = [c for c in self.chain.children if c is not self.chain.fields]
        self.hexview.layout = w.Layout(max_height="520px", overflow="auto", flex="0 0 auto", min_width="440px")
        self.notes = AnnotatePanel(source, self.chain,
                                   on_saved=lambda fn: self.hexview.annotate(config_notes(self.source, fn)))
        self.tabs = w.Tab([w.VBox([self.chain, w.HBox([self.chain.fields, self.hexview],
                                                      layout=w.Layout(flex_flow="row wrap")), self.notes]),
                           self.msix_box, self.irq_box, self.virtio_box])
        self.doctor: DoctorPanel | None = None
        self.doctor_box = w.VBox()
        self.tabs.children = [*self.tabs.children, self.doctor_box]
        for i, title in enumerate(("Capabilities", "MSI-X", "Interrupts", "Virtio", "Doctor")):
            self.tabs.set_title(i, title)
        # the device list is as wide as its longest line, whatever the font measures it at; the tabs take the
        # rest and need about 820 px (an MSI-X row), so where both do not fit the list moves above the tabs
        # instead of being cut (JupyterLab with its file browser open at 1280 px)
        right = w.VBox([self.heading, self.tabs], layout=w.Layout(flex="1 1 820px", min_width="0"))
        left = w.VBox([self.browser], layout=w.Layout(flex="0 0 auto", max_width="100%", margin="0 8px 0 0"))
        super().__init__([self.title, w.HBox([left, right], layout=w.Layout(flex_flow="row wrap"))])
        self.add_class("pcx-explorer")
        self.browser.on_select(self.show)
        if self.browser.selected is not None:
            self.show(self.browser.selected)

    def show(self, fn: Any) -> None:
        # the views of the function shown before stop following it (else each pick adds observers)
        for view in (self.msix, self.virtio, self.doctor):
            if view is not None:
                stop_following(view, *(getattr(view, "functions", None) or [view.function]))
        self.chain.show(fn)
        self.hexview.annotate(config_notes(self.source, fn))
        if msix_model(fn) is None:
            self.msix = None
            self.msix_box.children = [w.HTML("<i>This function has no MSI-X capability.</i>")]
        else:
            self.msix = MsixTableView(fn, page_size=self.page_size)
            self.msix_box.children = [self._live_toggle(fn), self.msix] if self._changes_by_itself() else [self.msix]
        self._show_interrupts(fn)
        self.virtio = VirtioView(fn, self.msix) if fn.virtio is not None else None
        self.virtio_box.children = [self.virtio or w.HTML("<i>This function is not virtio-pci.</i>")]
        self.doctor = DoctorPanel(self.source, str(fn.address))
        self.doctor_box.children = [self.doctor]
        # the heading changes last: once it names the function, every tab shows that function
        self.heading.value = f"<b class='pcx-heading'>{esc(function_label(fn))}</b>"

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
        """Read `fn` again every `interval` seconds in a thread until stop_live(): each read is announced
        (`fn.changed()`), so every view of it follows, not only the MSI-X table.  A VM that exited ends
        it, and the views keep their last state."""
        self.stop_live()

        def refresh() -> None:
            fn.changed()
            self.live_refreshes += 1

        self._live = Poller("pciexplore-live", refresh, interval or LIVE_INTERVAL, wait_first=True)

    def stop_live(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

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

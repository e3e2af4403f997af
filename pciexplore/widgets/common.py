"""Small pieces every widget shares: escaping, a status line for verb results, disabled-with-reason."""

from __future__ import annotations

import html
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import ipywidgets as w

from ..errors import PciError


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


class StatusLine(w.HTML):
    """One line telling what the last action did, or why it could not (a PciError's one-line message)."""

    def say(self, text: str, error: bool = False) -> None:
        color = "#b00020" if error else "#333"
        self.value = f"<span class='pcx-status' style='color:{color}'>{esc(text)}</span>"

    def run(self, verb: Callable[..., Any], *args: Any, done: str = "") -> None:
        """Call a model verb; a PciError becomes this line's text instead of a traceback."""
        try:
            verb(*args)
        except PciError as e:
            self.say(str(e), error=True)
            return
        self.say(done)


class Follows:
    """A view of one function at a time that redraws when that function announces a change
    (`Function.observe`): `follow(fn)` switches to another function, `_device_changed` redraws."""

    _followed: Any = None

    def follow(self, function: Any | None) -> None:
        if function is self._followed:
            return
        if self._followed is not None:
            self._followed.unobserve(self._device_changed)
        self._followed = function
        if function is not None:
            function.observe(self._device_changed)

    def _device_changed(self, fn: Any, what: str) -> None:
        raise NotImplementedError


def stop_following(view: Any, *functions: Any) -> None:
    """Close a view that observes `functions`: it is told nothing more and the page lets it go."""
    for fn in functions:
        if fn is not None:
            fn.unobserve(view._device_changed)
    view.close()


@contextmanager
def one_message_each(widgets: Iterable[w.Widget]) -> Iterator[None]:
    """What changes inside goes to the page as one message per widget, however many of its traits changed
    (ipywidgets' hold_sync): the browser redraws a button once, not once for each of label, style, icon
    and tooltip."""
    with ExitStack() as stack:
        for widget in widgets:
            stack.enter_context(widget.hold_sync())
        yield


def disable(control: w.DOMWidget, reason: str | None) -> None:
    """Disable `control` when `reason` is given, and make the reason its tooltip."""
    control.disabled = reason is not None
    if reason is not None:
        control.tooltip = reason


def write_refusal(source: Any) -> str | None:
    """Why verbs that write cannot work on this source, or None when they can be tried."""
    if getattr(source, "closed", False):
        return f"the {source.kind} source was closed: nothing can be read or written any more"
    if getattr(source, "writable", False):
        return None
    return f"{source.kind} source is read-only: nothing can be written to it"


def function_label(fn: Any) -> str:
    """lspci's first line: "00:03.0 Ethernet controller [0200]: Red Hat, Inc. Virtio ... [1af4:1041]"."""
    where = fn.address.short if fn.address.domain == 0 else str(fn.address)
    try:
        from .. import names
    except ImportError:  # names are optional: numbers say it all
        return f"{where} Class [{fn.class_code >> 8:04x}]: Device [{fn.vendor_id:04x}:{fn.device_id:04x}]"
    db = names.default()
    cls = db.class_text(fn.class_code >> 8, names.MIXED)
    return f"{where} {cls}: {db.vendor_device_text(fn.vendor_id, fn.device_id, names.MIXED)}"


def list_label(fn: Any) -> str:
    """A shorter line for a list of functions: address, class and device name, without the vendor and
    the numbers (the full `function_label` heads the function's own view)."""
    where = fn.address.short if fn.address.domain == 0 else str(fn.address)
    try:
        from .. import names
    except ImportError:
        return f"{where} [{fn.class_code >> 8:04x}] {fn.vendor_id:04x}:{fn.device_id:04x}"
    db = names.default()
    device = db.device(fn.vendor_id, fn.device_id) or f"Device {fn.vendor_id:04x}:{fn.device_id:04x}"
    return f"{where} {db.class_text(fn.class_code >> 8, names.NAMES)}: {device}"


def msix_model(fn: Any) -> Any | None:
    """The function's MSI-X model (`fn.msix`), or None when it has no MSI-X capability."""
    from ..msi import msix_of

    return msix_of(fn)


def snapshot(thing: Any) -> Any:
    """A static record of a view or model as it is now (IPython HTML): a notebook cell's output that stays
    as it was when the cell ran, whatever happens to the device later.  Views with `snapshot_html()`
    (MsixTableView, DoctorPanel) and MSI-X models are recorded as the kit draws them; anything else by
    its own `_repr_html_`."""
    from IPython.display import HTML

    from ..msi.msix import Msix

    if isinstance(thing, Msix):
        from .msix import snapshot_html

        return HTML(snapshot_html(thing))
    if hasattr(thing, "snapshot_html"):
        return HTML(thing.snapshot_html())
    return HTML(thing._repr_html_())


class Poller:
    """`poll()` every `interval` seconds in a daemon thread, `samples` times or until `stop()`: what every
    live view (interrupt counts, the interrupt path, a running guest's table) runs.  `wait_first`: the
    first poll comes after one interval (the caller has just drawn).  A poll that raises ends the thread
    (a vanished device or file, a VM that exited: not the kernel) and `on_error` is told why."""

    def __init__(self, name: str, poll: Callable[[], Any], interval: float, samples: int | None = None,
                 wait_first: bool = False, on_error: Callable[[Exception], None] | None = None) -> None:
        self._stop = threading.Event()

        def loop() -> None:
            n = 0
            if wait_first and self._stop.wait(interval):
                return
            while not self._stop.is_set() and (samples is None or n < samples):
                try:
                    poll()
                except Exception as e:  # noqa: BLE001 - ends the polling, says why, never the kernel
                    if on_error is not None:
                        on_error(e)
                    return
                n += 1
                self._stop.wait(interval)

        self._thread = threading.Thread(target=loop, name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)


class PollingView:
    """start() and stop() of a view whose `poll()` runs on a Poller; a poll that raises ends it, and the
    view's `status` line says why (a vanished device or file ends the refresh, not the kernel)."""

    poll_thread = "pciexplore-poll"
    poll_wait_first = False  # True: the first poll comes after one interval (the view has just drawn)
    _poller: Poller | None = None
    poll: Callable[[], Any]  # the view's own: read again and redraw

    def start(self, interval: float = 1.0, samples: int | None = None) -> None:
        """Poll every `interval` seconds in a background thread, `samples` times or until stop()."""
        self.stop()
        self._poller = Poller(self.poll_thread, self.poll, interval, samples, wait_first=self.poll_wait_first,
                              on_error=self._stopped)

    def _stopped(self, e: Exception) -> None:
        self.status.value = f"<small style='color:#b00020'>stopped: {esc(e)}</small>"  # type: ignore[attr-defined]

    def stop(self) -> None:
        if self._poller is not None:
            self._poller.stop()
            self._poller = None

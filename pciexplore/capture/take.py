"""Taking a capture of any source: config bytes, MSI-X table and PBA windows, the kernel's view."""

from __future__ import annotations

import platform
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DeviceGone, PciError
from ..regs.caps.msix import PCI_MSIX_ENTRY_SIZE
from ..words import plural
from . import format as fmt
from .format import BarWindow, CapturedFunction, InterruptSample, MissingWindow
from .source import Capture, now

if TYPE_CHECKING:
    from ..model import Function
    from ..sources.base import Source

PROC_INTERRUPTS = "/proc/interrupts"

def msix_windows(fn: Function) -> list[tuple[str, int, int, int]]:
    """(what, bar, offset, size) of the MSI-X table and PBA, located by the MSI-X model."""
    model = fn.msix
    if model is None:
        return []
    try:
        r = model.regs()
    except PciError:
        return []  # the capability is cut off by the end of what the source had
    return [("msix-table", r.table_bir, r.table_offset, r.size * PCI_MSIX_ENTRY_SIZE),
            ("msix-pba", r.pba_bir, r.pba_offset, r.pba_bytes)]


def read_msix(fn: Function) -> dict[str, tuple[int, int, bytes]]:
    """{"msix-table"|"msix-pba": (bar, offset, bytes)} read through the function's source (PciError if it cannot)."""
    return {what: (bar, offset, fn.source.read_bar(fn.address, bar, offset, size))
            for what, bar, offset, size in msix_windows(fn)}


def take(source: Source, selector: str | None = None, *, bars: Iterable[tuple[int, int, int]] = (),
         how: str = "pciexplore.capture.take()", title: str = "", description: str = "",
         proc_interrupts: str | Path | None = None) -> Capture:
    """Capture every function of `source` (or those matching `selector`): config bytes, the MSI-X table
    and PBA plus any (bar, offset, size) in `bars` where the source can read BARs, and the kernel's view.

    /proc/interrupts is sampled for live hosts (or from `proc_interrupts` when given)."""
    if proc_interrupts is None and getattr(source, "is_live_host", False):
        proc_interrupts = PROC_INTERRUPTS
    interrupts_text = _read_interrupts(proc_interrupts)
    extra = list(bars)
    functions = []
    seen = set()
    repeated, gone = [], []
    for fn in source.functions(selector):
        if fn.address in seen:  # an lspci dump may list a function twice (two snapshots); keep the first
            repeated.append(str(fn.address))
            continue
        seen.add(fn.address)
        try:
            functions.append(_take_function(source, fn, extra, interrupts_text))
        except DeviceGone as e:  # unplugged while we looked: capture the others, say which went
            gone.append(f"{fn.address} ({e.message})")
    metadata = {
        "title": title, "description": description,
        "tool": f"pciexplore {_version()}", "time": now(), "host": socket.gethostname(), "kernel": platform.release(),
        "source_kind": source.kind, "source": source.name, "how": how,
    }
    metadata = {k: v for k, v in metadata.items() if v}
    extra_notes = {}
    if repeated:
        extra_notes["repeated"] = f"{', '.join(repeated)} appeared again in the source; only the first copy was captured"
    if gone:
        extra_notes["gone"] = f"could not be read while capturing: {', '.join(gone)}"
    limited = [a for a in getattr(source, "limited", {}) if a in seen]
    if limited:
        extra_notes["limited"] = (f"config space of {plural(len(limited), 'function')} was cut short (the kernel gives "
                                  "non-root users the first 64 bytes): capture as root for all of it")
    if extra_notes:
        metadata["extra"] = extra_notes
    # a capture of a capture (e.g. one function cut out of a bug report) keeps the notes on what it holds
    notes = [a for a in source.annotations if a.function in seen] if isinstance(source, Capture) else []
    timeline = source.timeline() if callable(getattr(source, "timeline", None)) else None
    return Capture(f"capture of {source.name}", functions, metadata, notes,
                   timeline=timeline.to_list() if timeline is not None else None)


def _take_function(source: Source, fn: Function, extra: list[tuple[int, int, int]],
                   interrupts_text: str | None) -> CapturedFunction:
    fn.refresh()  # the state as it is now, not as an earlier look at the source cached it
    config = fn.config[: fmt.MAX_CONFIG]
    cf = CapturedFunction(fn.address, config)
    regions = source.bar_regions(fn.address)
    if regions is not None:
        cf.bar_regions = [{"index": r.index, "base": r.base, "size": r.size, "flags": r.flags}
                          for r in sorted(regions.values(), key=lambda r: r.index)]
    wanted = msix_windows(fn) + [("requested", bar, offset, size) for bar, offset, size in extra]
    for what, bar, offset, size in wanted:
        if bar > fmt.MAX_BAR:
            cf.missing.append(MissingWindow(bar, offset, size, what, f"BIR {bar} is reserved"))
        elif size > fmt.MAX_WINDOW:
            cf.missing.append(MissingWindow(bar, offset, size, what, f"larger than {fmt.MAX_WINDOW} bytes"))
        elif not source.can_read_bars:
            cf.missing.append(MissingWindow(bar, offset, size, what,
                                            f"a {source.kind} source has config space only"))
        elif len(cf.windows) >= fmt.MAX_WINDOWS:
            cf.missing.append(MissingWindow(bar, offset, size, what, f"more than {fmt.MAX_WINDOWS} windows"))
        else:
            try:
                cf.windows.append(BarWindow(bar, offset, source.read_bar(fn.address, bar, offset, size), what))
            except PciError as e:
                cf.missing.append(MissingWindow(bar, offset, size, what, e.message))
    _virtio_windows(cf, fn)
    vpd = source.read_vpd(fn.address) if hasattr(source, "read_vpd") else None
    cf.vpd = vpd[: fmt.MAX_VPD] if vpd is not None else None
    kernel = source.kernel_info(fn.address)
    if kernel is not None:
        cf.kernel = {k: _plain(getattr(kernel, k)) for k in fmt.KERNEL_FIELDS if hasattr(kernel, k)}
        irqs = set(kernel.msi_irqs) | ({kernel.irq} if kernel.irq else set())
        if interrupts_text is not None and irqs:
            cf.interrupts = _interrupt_rows(interrupts_text, irqs)
    return cf


def _virtio_windows(cf: CapturedFunction, fn: Function) -> None:
    """The virtio structures as the virtio model reads them, register by register (a bulk read of them
    would see only the first register of each DWORD); never the ISR, which clears when read."""
    v = fn.virtio
    if v is None:
        return
    try:
        windows = v.windows()
    except PciError as e:
        cf.missing.append(MissingWindow(0, 0, 0, "virtio", e.message))
        return
    for what, bar, offset, data in windows[: max(fmt.MAX_WINDOWS - len(cf.windows), 0)]:
        cf.windows.append(BarWindow(bar, offset, data, what))


def _plain(value):
    """KernelInfo values as JSON has them (tuples become lists)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _read_interrupts(path: str | Path | None) -> str | None:
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read(4 << 20)
    except OSError:
        return None


def _interrupt_rows(text: str, irqs: set[int]) -> InterruptSample:
    """The header and the rows whose IRQ number is one of `irqs`, verbatim (parsing is the reader's job)."""
    lines = text.splitlines()
    rows = []
    for line in lines[1:]:
        number = line.split(":", 1)[0].strip()
        if number.isdigit() and int(number) in irqs:
            rows.append(line)
    return InterruptSample(lines[0] if lines else "", rows, now())


def _version() -> str:
    from .. import __version__

    return __version__

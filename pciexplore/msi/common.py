"""What MSI and MSI-X share: checks, the event log and the story of one step, BAR facts."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import InputError, PciError
from ..model import Block, ConfigWindow
from ..regs.base import Field, Layout
from ..regs.header import HEADERS
from ..sources.base import ByteRange

if TYPE_CHECKING:
    from ..model import Function
    from ..sources.base import Delivery

_TYPE0 = HEADERS[0]
_COMMAND = _TYPE0.register("PCI_COMMAND")
COMMAND_RANGE = ByteRange(None, _COMMAND.offset, _COMMAND.width)
PCI_COMMAND_MEMORY = _COMMAND.field("PCI_COMMAND_MEMORY").mask
PCI_COMMAND_MASTER = _COMMAND.field("PCI_COMMAND_MASTER").mask
IORESOURCE_IO = 0x100


@dataclass(frozen=True, slots=True)
class Check:
    """Something the kernel would never let a driver skip, found wrong: `kind` for programs."""

    kind: str  # "reserved_bir", "bar_unimplemented", "io_bar", "outside_bar", "overlap", "memory_off", ...
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class Event:
    """One step of the story: `text` reads like "trigger(3): vector 3 masked → PBA bit 3 set"."""

    seq: int
    verb: str
    text: str
    deliveries: tuple[Delivery, ...] = ()

    def __str__(self) -> str:
        return self.text


class EventLog(list):
    """The steps taken through a model, in order, told in words for teaching."""

    def add(self, verb: str, text: str, deliveries: Iterable[Delivery] = ()) -> Event:
        event = Event(len(self), verb, text, tuple(deliveries))
        self.append(event)
        return event

    def __str__(self) -> str:
        return "\n".join(e.text for e in self) if self else "(no steps yet)"

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{html.escape(e.text)}</li>" for e in self)
        return f"<ol start='0'>{items}</ol>" if self else "<i>no steps yet</i>"


def with_field(field: Field, value: int, new: int) -> int:
    """`value` with `field` replaced by `new` (every other bit as it was)."""
    return (value & ~field.mask) | field.encode(new)


def write_field(fn: Function, offset: int, width: int, field: Field, current: int, value: int) -> None:
    """Write one config register with `field` set to `value` and every other bit as `current` had it."""
    fn.source.write_config(fn.address, offset, with_field(field, current, value).to_bytes(width, "little"))


def ranges(bits: Iterable[int]) -> str:
    """[0, 1, 2, 5] -> "0-2, 5"."""
    out: list[str] = []
    run: list[int] = []
    for b in sorted(bits):
        if run and b == run[-1] + 1:
            run.append(b)
            continue
        if run:
            out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [b]
    if run:
        out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ", ".join(out)


def set_bits(value: int) -> list[int]:
    out = []
    n = 0
    while value:
        if value & 1:
            out.append(n)
        value >>= 1
        n += 1
    return out


class StepTeller:
    """Runs one verb and tells what it caused: pending bits set/cleared and messages sent.

    The verb reads the device once before it acts and hands over the pending bits it read (bit n =
    vector n); `act` does the action and returns the pending bits read from the device after it."""

    def __init__(self, fn: Function, log: EventLog, pending_name: str) -> None:
        self.function = fn
        self.log = log
        self.pending_name = pending_name

    def run(self, verb: str, why: str, before_pending: int, act: Callable[[], int], wrote_config: bool) -> Event:
        # one announcement for the whole verb, after its step is in the log: views redraw once, log included
        with self.function.source.changing():
            return self._run(verb, why, before_pending, act, wrote_config)

    def _run(self, verb: str, why: str, before_pending: int, act: Callable[[], int], wrote_config: bool) -> Event:
        source = self.function.source
        before = source.deliveries()
        seen = len(before) if before is not None else 0
        after_pending = act()
        if wrote_config:  # the function's cached config bytes are no longer what the device holds
            self.function.refresh()
        after = source.deliveries()
        sent = [d for d in (after or [])[seen:] if d.function in (None, self.function.address)]
        parts = []
        newly_set = set_bits(after_pending & ~before_pending)
        newly_clear = set_bits(before_pending & ~after_pending)
        if newly_set:
            parts.append(f"{self.pending_name} bit{'s' if len(newly_set) > 1 else ''} {ranges(newly_set)} set")
        for d in sent:
            which = f" (vector {d.vector})" if d.vector is not None else ""
            warn = f" (NOT AN INTERRUPT: {d.warning})" if d.warning else ""
            parts.append(f"message 0x{d.address:x} ← 0x{d.data:x} sent{which}{warn}")
        if after is None:
            parts.append("(this source cannot observe messages)")
        elif not sent and verb.startswith(("trigger", "unmask", "enable")):
            parts.append("nothing sent")
        if newly_clear:
            parts.append(f"{self.pending_name} bit{'s' if len(newly_clear) > 1 else ''} "
                         f"{ranges(newly_clear)} cleared")
        text = f"{verb}: {why}" + (f" → {', '.join(parts)}" if parts else "")
        return self.log.add(verb, text, sent)


class InterruptModel:
    """What the MSI and MSI-X models share: the function, the capability offset, the event log and
    the step teller that narrates each verb by its effect on the pending bits and deliveries."""

    name = ""  # "MSI" or "MSI-X"
    pending_name = ""  # how the pending bits are called in the story: "pending" or "PBA"
    layout: Layout  # the capability's register declarations

    def __init__(self, function: Function, offset: int) -> None:
        self.function = function
        self.offset = offset
        self.log = EventLog()
        self._teller = StepTeller(function, self.log, self.pending_name)

    @property
    def source(self):
        return self.function.source

    @property
    def _capability_range(self) -> ByteRange:
        """The config bytes the capability's declared registers take."""
        return ByteRange(None, self.offset, self.layout.length)

    def _capability_block(self, data: bytes) -> Block:
        """The capability decoded from its bytes as read (`_capability_range`)."""
        return Block(ConfigWindow(self.offset, data), self.layout, self.offset)

    def _read_capability(self, with_command: bool = False) -> tuple[Block, int | None]:
        """The capability's registers and, when asked, PCI_COMMAND: one read of just those bytes from the
        device, not of the whole config space."""
        ranges = [self._capability_range] + ([COMMAND_RANGE] if with_command else [])
        cap, *command = self.source.read_ranges(self.function.address, ranges)
        block = self._capability_block(cap)
        if not command:
            return block, None
        return block, int.from_bytes(command[0], "little") if len(command[0]) == COMMAND_RANGE.size else 0

    def _cut_short(self) -> InputError:
        return InputError(f"{self.name} capability is cut short by the end of readable config space",
                          **self.function.where(self.offset))

    @property
    def deliveries(self) -> list[Delivery] | None:
        """Every message this function sent (address, data, vector, order); None if unobservable."""
        return function_deliveries(self.function)

    def kernel(self):
        """Linux IRQ, per-CPU counts and handler name per vector (live host: msi_irqs/ + /proc/interrupts)."""
        return kernel_view(self.function)

    def _repr_html_(self) -> str:
        checks = "".join(f"<li>{html.escape(str(c))}</li>" for c in self.checks())
        try:
            whole = (f"{self.name} off" if not self.enabled
                     else "Function Mask" if getattr(self, "function_masked", False) else "-")
            table = table_html(self.table, whole)
        except PciError as e:  # show why the table is unreadable (a dump, no resourceN) instead of failing
            table = f"<i>{html.escape(str(e))}</i>"
        return (f"<div><b>{html.escape(repr(self))}</b>"
                + (f"<ul style='color:#b00'>{checks}</ul>" if checks else "") + table + "</div>")


def bar_starts(fn: Function) -> dict[int, int]:
    """BAR index -> register value for each BAR of a type-0 header (a 64-bit BAR takes two slots)."""
    out: dict[int, int] = {}
    i = 0
    while i < 6:
        raw = fn.read(0x10 + 4 * i, 4)
        if raw is None:
            break
        out[i] = raw
        i += 2 if raw & 1 == 0 and (raw >> 1) & 3 == 2 else 1
    return out


def bar_facts(fn: Function, bir: int) -> tuple[str | None, int | None]:
    """(problem kind or None, size if known) for the BAR a BIR names, from config space and the
    source's own placement (sysfs `resource`, QEMU's assignment)."""
    if bir > 5:
        return "reserved_bir", None
    if fn.header_type != 0:
        return ("no_such_bar" if bir > 1 else None), None
    starts = bar_starts(fn)
    if bir not in starts and bir - 1 in starts:
        return "upper_half", None
    raw = starts.get(bir)
    if raw is not None and raw & 1:
        return "io_bar", None
    region = (fn.source.bar_regions(fn.address) or {}).get(bir)
    if region is not None:
        return ("io_bar", None) if region.flags & IORESOURCE_IO else (None, region.size)
    if not raw:
        return "bar_unimplemented", None
    return None, None


#: what bar_facts found -> (Check kind, message); a BAR that is not there is "bar_unimplemented"
#: whatever the reason, so programs (doctor) see one kind
BAR_PROBLEMS = {
    "reserved_bir": ("reserved_bir", "BIR {bir} is reserved (only BARs 0-5 can hold it)"),
    "upper_half": ("bar_unimplemented", "BIR {bir} names the upper half of 64-bit BAR {below}, not a BAR"),
    "io_bar": ("io_bar", "BIR {bir} names an I/O BAR (it must be a memory BAR)"),
    "bar_unimplemented": ("bar_unimplemented",
                          "BIR {bir} names BAR {bir}, which reads 0 (not implemented or never assigned)"),
    "no_such_bar": ("bar_unimplemented", "BIR {bir} names BAR {bir}, which a bridge header (type 1/2) does not have"),
}


def check_vector(n: int, count: int, what: str, fn: Function) -> None:
    if not isinstance(n, int) or not 0 <= n < count:
        raise InputError(f"{what} {n!r} out of range: this function has {count} (0..{count - 1})", **fn.where())


_HEX = {"address": "0x{:016x}", "data": "0x{:08x}", "ctrl": "0x{:08x}"}


def table_html(df, whole: str = "function", max_rows: int = 64) -> str:
    """A vector table as people read it in a notebook: the message in hex, what masks it (its own mask
    bit, else `whole`: what holds every vector, e.g. "Function Mask" or "MSI-X off"), whether it is
    pending, and one line of x86 meaning (the full frame, a column per field, stays `.table`)."""
    import pandas as pd

    from .x86 import describe

    own = "entry_masked" if "entry_masked" in df.columns else "mask_bit"
    view = pd.DataFrame({
        "address": [f"0x{a:016x}" for a in df["address"]],
        "data": [f"0x{d:08x}" for d in df["data"]],
        "masked by": [("its mask bit" if e else whole) if m else "-" for e, m in zip(df[own], df["masked"], strict=True)],
        "pending": ["yes" if p else "-" for p in df["pending"]],
        "meaning on x86": [describe(int(a), int(d)) for a, d in zip(df["address"], df["data"], strict=True)],
    }, index=df.index)
    return view.to_html(max_rows=max_rows)


def function_deliveries(fn: Function) -> list[Delivery] | None:
    """Messages this function sent, in order; None when its source cannot observe messages."""
    sent = fn.source.deliveries()
    return None if sent is None else [d for d in sent if d.function in (None, fn.address)]


def kernel_view(fn: Function):
    """The kernel's view of this function's vectors (live sysfs source): IRQ, per-CPU counts, handler."""
    from ..errors import NotSupported
    from . import kernel

    root = getattr(fn.source, "root", None)
    if fn.source.kind != "sysfs" or root is None:
        raise NotSupported(f"the kernel's view needs the live sysfs source, not {fn.source.kind}",
                           **fn.where())
    return kernel.vectors(sysfs_root=root, selector=str(fn.address))

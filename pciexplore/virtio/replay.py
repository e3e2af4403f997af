"""Replay a virtio driver's bring-up through each delivery path and show which write was lost.

A bring-up is a list of steps in the timeline's form (sources/qemu/timeline.py: kind, register, index,
value): a timeline `pciexplore vm` recorded (a running guest's, e.g. the Linux guest in
data/default.json), a JSON list of such steps, or a built-in script ("hermit", "linux").  Each virtio
function's steps are written, in order, into a simulated virtio-net function per delivery mode
(sources/delivery.py); then each queue the driver enabled fires, then a configuration change, and the
messages each mode sent are compared.  A difference is explained by the writes that caused it: an entry
written while unmasked after DRIVER_OK, a vector changed after DRIVER_OK.

Replayed: PCI_COMMAND and PCI_MSIX_FLAGS config writes, MSI-X table writes, virtio common-configuration
writes.  Not replayed: BAR placement and other config writes (the simulator keeps its own BARs), reads
(a trace has none: whether the driver read the PBA is not known), notifications and data.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError, PciError
from ..regs import virtio as V
from ..sources.delivery import MODES
from ..sources.qemu.timeline import PCI_MSIX_ENTRY_FIELDS, VIRTIO_COMMON, Step, Timeline

if TYPE_CHECKING:
    import pandas as pd

MSIX_CAP, MSIX_BAR, MODERN_BAR, PCI_COMMAND = 0xB0, 1, 4, 0x04
ENTRY_FIELD = {name: off for off, name in PCI_MSIX_ENTRY_FIELDS.items()}
COMMON_BY_NAME = {name: (off, width) for off, (name, width, _) in VIRTIO_COMMON.items()}
CONFIG_WRITES = {"PCI_COMMAND": (PCI_COMMAND, 2), "PCI_MSIX_FLAGS": (MSIX_CAP + 2, 2)}
MESSAGE_FIELDS = ("PCI_MSIX_ENTRY_LOWER_ADDR", "PCI_MSIX_ENTRY_UPPER_ADDR", "PCI_MSIX_ENTRY_DATA")
QUEUE_CAUSES = ("rx0", "tx0", "ctrl")  # the simulated virtio-net's queues, in order
DRIVER_OK = V.VIRTIO_CONFIG_S_DRIVER_OK


def _msg(m: tuple[int, int] | None) -> str:
    return "nothing" if m is None else f"0x{m[0]:x} ← 0x{m[1]:x}"


@dataclass(frozen=True)
class Hazard:
    """A write that works on the emulated path and breaks under irqfd/vhost."""

    step: int
    check: str  # irqfd_entry_written_unmasked | irqfd_vector_after_driver_ok
    index: int  # MSI-X entry, or queue (-1: msix_config)
    text: str


@dataclass(frozen=True)
class Outcome:
    """What one event made one mode do."""

    event: str  # "queue 0 (rx0)", "config"
    mode: str
    message: tuple[int, int] | None  # the first message sent, None when nothing was sent
    vector: int | None
    via: str | None
    pending: tuple[int, ...]  # PBA bits the device holds right after the event (no PBA read)
    pending_read: tuple[int, ...]  # PBA bits a PBA read returns (irqfd: the read polls held events in)


@dataclass(frozen=True)
class Loss:
    """One event a mode delivered differently from the emulated path, and the writes that caused it."""

    event: str
    mode: str
    hazards: tuple[Hazard, ...]
    text: str


@dataclass
class Replay:
    """One function's bring-up through each mode: outcomes per event, the lost writes in words."""

    function: str
    device: str
    vectors: int
    steps: int  # steps of this function in the bring-up
    replayed: int  # of which written into the simulator
    modes: tuple[str, ...]
    outcomes: list[Outcome] = field(default_factory=list)
    hazards: list[Hazard] = field(default_factory=list)
    losses: list[Loss] = field(default_factory=list)
    journal: dict[str, list[str]] = field(default_factory=dict)

    @property
    def lost(self) -> list[str]:
        """Each loss in words: "entry 1 address written while unmasked after DRIVER_OK ...: the emulated
        path sends the new message ..., the irqfd route still holds the old one ..."."""
        return [x.text for x in self.losses]

    def outcome(self, event: str, mode: str) -> Outcome:
        return next(o for o in self.outcomes if o.event == event and o.mode == mode)

    @property
    def events(self) -> list[str]:
        return list(dict.fromkeys(o.event for o in self.outcomes))

    @property
    def table(self) -> pd.DataFrame:
        """event x mode -> the message sent (or 'nothing'; '(pending)' when it waits in the PBA)."""
        import pandas as pd

        rows = {}
        for o in self.outcomes:
            shown = _msg(o.message) if o.message else ("pending" if o.pending_read else "nothing")
            rows.setdefault(o.event, {})[o.mode] = shown
        return pd.DataFrame.from_dict(rows, orient="index", columns=list(self.modes))

    def __str__(self) -> str:
        head = (f"{self.function} {self.device}: {self.replayed} of {self.steps} steps replayed on a simulated "
                f"virtio-net ({self.vectors} vectors), then each enabled queue and a configuration change fired")
        lines = [head]
        width = max((len(e) for e in self.events), default=5)
        lines.append("  " + "event".ljust(width) + "  " + "  ".join(m.ljust(26) for m in self.modes).rstrip())
        for event in self.events:
            cells = []
            for m in self.modes:
                o = self.outcome(event, m)
                cells.append((_msg(o.message) if o.message else "pending" if o.pending_read else "nothing").ljust(26))
            lines.append("  " + event.ljust(width) + "  " + "  ".join(cells).rstrip())
        if self.lost:
            lines += [f"  LOST: {t}" for t in self.lost]
        else:
            lines.append("  no write lost: every mode sends the same messages")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "lost": self.lost}

    def _repr_html_(self) -> str:
        from html import escape

        lost = "".join(f"<li><b>lost</b>: {escape(t)}</li>" for t in self.lost) or \
            "<li>no write lost: every mode sends the same messages</li>"
        return (f"<div class='pcx-replay'><p><code>{escape(self.function)}</code> {escape(self.device)}: "
                f"{self.replayed} of {self.steps} steps replayed, then each enabled queue and a configuration "
                f"change fired</p>{self.table.to_html(escape=True)}<ul>{lost}</ul></div>")


# -- built-in scripts ------------------------------------------------------------------------------------

def virtio_step(register: str, value: int, index: int | None = None) -> dict:
    """A step writing common-configuration field `register` (of queue `index`, when it is a queue's)."""
    return {"kind": "virtio", "register": register, "index": index, "value": value}


def entry_step(v: int, name: str, value: int) -> dict:
    """A step writing field `name` (PCI_MSIX_ENTRY_*) of MSI-X table entry `v`."""
    return {"kind": "msix-table", "register": name, "index": v, "value": value}


def _program(v: int, data: int) -> list[dict]:
    return [entry_step(v, "PCI_MSIX_ENTRY_LOWER_ADDR", 0xFEE00000), entry_step(v, "PCI_MSIX_ENTRY_UPPER_ADDR", 0),
            entry_step(v, "PCI_MSIX_ENTRY_DATA", data)]


def _queues(n: int) -> list[dict]:
    out = []
    for q in range(n):
        out += [virtio_step("queue_select", q), virtio_step("queue_size", 0x100, q),
                virtio_step("queue_msix_vector", q + 1, q), virtio_step("queue_enable", 1, q)]
    return out


SCRIPTS = ("hermit", "hermit-fixed", "linux")


def script(name: str) -> list[dict]:
    """A built-in bring-up: "hermit" (the origin story: entries programmed after DRIVER_OK while unmasked),
    "hermit-fixed" (the same order, each entry masked while its message is written, then unmasked) or
    "linux" (vp_find_vqs_msix's order: entries programmed and unmasked before DRIVER_OK)."""
    start = [{"kind": "config", "register": "PCI_COMMAND", "index": None, "value": 0x406},
             virtio_step("device_status", 0), virtio_step("device_status", 3), virtio_step("driver_feature_select", 1),
             virtio_step("driver_feature", 1), virtio_step("device_status", 0xB)]
    msix_on = [{"kind": "config", "register": "PCI_MSIX_FLAGS", "index": None, "value": 0x8003}]
    if name in ("hermit", "hermit-fixed"):
        unmask = [entry_step(v, "PCI_MSIX_ENTRY_VECTOR_CTRL", 0) for v in range(4)]
        program = [s for v in range(4) for s in _program(v, 0x30 + v)]
        if name == "hermit-fixed":
            program = [s for v in range(4) for s in (entry_step(v, "PCI_MSIX_ENTRY_VECTOR_CTRL", 1), *_program(v, 0x30 + v),
                                                     entry_step(v, "PCI_MSIX_ENTRY_VECTOR_CTRL", 0))]
        steps = start + msix_on + unmask + [virtio_step("msix_config", 0)] + _queues(3) + [virtio_step("device_status", 0xF)] \
            + program
    elif name == "linux":
        masked_on = [{"kind": "config", "register": "PCI_MSIX_FLAGS", "index": None, "value": 0xC003}]
        program = [s for v in range(4) for s in _program(v, 0x30 + v)]
        unmask = [entry_step(v, "PCI_MSIX_ENTRY_VECTOR_CTRL", 0) for v in range(4)]
        steps = start + masked_on + program + msix_on + unmask + [virtio_step("msix_config", 0)] + _queues(3) \
            + [virtio_step("device_status", 0xF)]
    else:
        raise InputError(f"unknown script {name!r}; scripts: {', '.join(SCRIPTS)}")
    return [{"step": i, "function": "00:02.0", "device": f"{name} script", **s} for i, s in enumerate(steps)]


# -- reading a bring-up -----------------------------------------------------------------------------------

def load(what: str | Path | list | Timeline) -> tuple[list[Step], Any]:
    """Steps from a timeline, a list of step dicts, a built-in script name, or a file: a capture with a
    recorded timeline, or a JSON list of steps (or {"steps": [...]}).  Also the source the steps came
    with, when there is one (a capture: its MSI-X table sizes)."""
    if isinstance(what, Timeline):
        return list(what.steps), None
    if isinstance(what, list):
        return _steps(what, "steps"), None
    name = str(what)
    if name in SCRIPTS:
        return _steps(script(name), name), None
    path = Path(name)
    if not path.exists() and name.split(":", 1)[0] in ("sim", "qmp"):  # a source that records its bring-up
        import pciexplore

        src = pciexplore.open(name)
        timeline = src.timeline()
        if timeline is None:
            raise InputError("this source has no recorded bring-up (no virtio function)", file=name)
        return list(timeline.steps), src
    try:
        doc = json.loads(path.read_text())
    except OSError as e:
        raise InputError(f"cannot read the bring-up: {e.strerror}", file=name) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"not JSON: {e}", file=name) from None
    if isinstance(doc, dict) and "format" in doc:  # a capture: its recorded timeline, its functions' tables
        import pciexplore

        src = pciexplore.open(name)
        timeline = src.timeline()
        if timeline is None:
            raise InputError("this capture has no recorded bring-up (timeline): take it of a VM started "
                             "with `pciexplore vm`", file=name)
        return list(timeline.steps), src
    items = doc.get("steps") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise InputError("want a list of steps, {\"steps\": [...]}, or a capture with a timeline", file=name)
    return _steps(items, name), None


def _steps(items: list, name: str) -> list[Step]:
    out = []
    for i, d in enumerate(items):
        if isinstance(d, Step):
            out.append(d)
            continue
        if not isinstance(d, dict) or not {"kind", "register", "value"} <= set(d):
            raise InputError(f"step {i}: want an object with kind, register and value", file=name)
        if not isinstance(d["value"], int) or isinstance(d["value"], bool) or d["value"] < 0:
            raise InputError(f"step {i}: value {d['value']!r} is not a non-negative integer", file=name)
        index = d.get("index")
        if index is not None and (not isinstance(index, int) or index < 0):
            raise InputError(f"step {i}: index {index!r} is not a non-negative integer", file=name)
        kind, reg = d["kind"], d["register"]
        known = {"virtio": COMMON_BY_NAME, "msix-table": ENTRY_FIELD, "config": None, "msix": None}
        if kind not in known:
            raise InputError(f"step {i}: unknown kind {kind!r}; kinds: virtio, msix-table, config", file=name)
        if known[kind] is not None and reg not in known[kind]:
            raise InputError(f"step {i}: unknown {kind} register {reg!r}", file=name)
        if kind == "msix-table" and index is None:
            raise InputError(f"step {i}: an MSI-X table step needs the entry as index", file=name)
        out.append(Step(int(d.get("step", i)), str(d.get("function", "00:02.0")), str(d.get("device", "?")),
                        kind, reg, index, d["value"], None, f"{kind} {reg} ← {d['value']:#x}"))
    return out


def virtio_functions(steps: list[Step]) -> list[str]:
    """The functions whose steps touch a virtio common configuration, in order of appearance."""
    return list(dict.fromkeys(s.function for s in steps if s.kind == "virtio"))


# -- replaying ------------------------------------------------------------------------------------------

class _Replica:
    """One simulated virtio-net function in one delivery mode, fed the steps."""

    def __init__(self, mode: str, vectors: int) -> None:
        from ..sources.sim import SimSource

        self.src = SimSource(f"virtio-net,vectors={vectors},delivery={mode}")
        self.addr = self.src.addresses()[0]
        self.fn = self.src.devices[self.addr]

    def apply(self, s: Step) -> bool:
        """Write one step; False for a step that is not replayed."""
        self.fn.delivery.step = s.step
        return write_step(self.src, self.addr, s, self.fn.vectors)

    def fire(self, cause: str) -> tuple[list, tuple[int, ...], tuple[int, ...]]:
        before = len(self.src.deliveries())
        self.fn.delivery.step = None
        self.src.trigger(self.addr, cause)
        got = self.src.deliveries()[before:]
        fn = self.fn
        held = tuple(v for v in range(fn.vectors) if fn.msix_is_pending(v))
        self.src.read_bar(self.addr, MSIX_BAR, fn.pba_offset, 8)  # a driver's PBA read (virtio_pci_vector_poll)
        read = tuple(v for v in range(fn.vectors) if fn.msix_is_pending(v))
        return got, held, read


def write_step(src: Any, a: Any, s: Step, vectors: int) -> bool:
    """Write one step into function `a` of a writable source, as the driver did; False for a step that is
    not replayed (BAR placement, other config writes, an entry past the table)."""
    if s.kind == "config" and s.register in CONFIG_WRITES:
        at, width = CONFIG_WRITES[s.register]
        src.write_config(a, at, (s.value & (1 << 8 * width) - 1).to_bytes(width, "little"))
    elif s.kind == "msix-table" and s.index is not None and s.index < vectors:
        src.write_bar(a, MSIX_BAR, 16 * s.index + ENTRY_FIELD[s.register], (s.value & 0xFFFF_FFFF).to_bytes(4, "little"))
    elif s.kind == "virtio" and s.register in COMMON_BY_NAME:
        off, width = COMMON_BY_NAME[s.register]
        if s.index is not None and VIRTIO_COMMON[off][2]:  # a per-queue field names its queue: select it
            src.write_bar(a, MODERN_BAR, COMMON_BY_NAME["queue_select"][0], s.index.to_bytes(2, "little"))
        src.write_bar(a, MODERN_BAR, off, (s.value & (1 << 8 * width) - 1).to_bytes(width, "little"))
    else:
        return False
    return True


def play(src: Any, bdf: str, steps: str | list) -> int:
    """Write a bring-up (a built-in script's name or a list of step dicts) into function `bdf` of a
    simulated source, register by register as the driver would; returns how many steps were written."""
    fn = src.function(bdf)
    size = fn.msix.regs().size if fn.msix is not None else 0
    todo = _steps(script(steps) if isinstance(steps, str) else steps, "steps")
    return sum(write_step(src, fn.address, s, size) for s in todo)


def _table_size(src: Any, bdf: str, steps: list[Step]) -> int:
    if src is not None:
        try:
            m = src.function(bdf).msix
            if m is not None:
                return m.regs().size
        except PciError:
            pass
    used = [s.index for s in steps if s.kind == "msix-table" and s.index is not None]
    return max(used, default=3) + 1


def replay(what: str | Path | list | Timeline, modes: tuple[str, ...] | list[str] = MODES,
           function: str | None = None, vectors: int | None = None) -> list[Replay]:
    """Replay each virtio function's bring-up (or only `function`'s) through `modes`; one Replay each.
    `vectors`: the MSI-X table size to simulate (default: the capture's, else the highest entry written)."""
    modes = tuple(modes)
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise InputError(f"unknown delivery mode {', '.join(bad) or '(none)'}; modes: {', '.join(MODES)}")
    if "emulated" not in modes:
        modes = ("emulated", *modes)  # the reference every difference is told against
    steps, src = load(what)
    functions = virtio_functions(steps)
    if function is not None:
        from ..address import Address

        want = Address.parse(function).short
        functions = [f for f in functions if f == want]
    if not functions:
        raise InputError("no virtio common-configuration writes in this bring-up"
                         + (f" for {function}" if function else ""), file=str(what) if isinstance(what, (str, Path)) else None)
    return [_replay_one([s for s in steps if s.function == bdf], bdf, modes, src, vectors) for bdf in functions]


def _replay_one(steps: list[Step], bdf: str, modes: tuple[str, ...], src: Any, vectors: int | None) -> Replay:
    vectors = vectors or _table_size(src, bdf, steps)
    replicas = {m: _Replica(m, vectors) for m in modes}
    out = Replay(bdf, steps[0].device if steps else "?", vectors, len(steps), 0, modes)
    ref = replicas["emulated"].fn
    for s in steps:
        hazard = _hazard(ref, s)
        applied = [r.apply(s) for r in replicas.values()]
        out.replayed += all(applied)
        if hazard is not None:
            out.hazards.append(hazard)
    net = "net" in out.device or "script" in out.device  # the simulator's queue names fit a virtio-net only

    def on(vector: int) -> str:
        return "NO_VECTOR" if vector == V.VIRTIO_MSI_NO_VECTOR else f"vector {vector}"

    events = [(f"queue {q}" + (f" ({QUEUE_CAUSES[q]})" if net else "") + f", {on(ref.queues[q].vector)}",
               QUEUE_CAUSES[q]) for q in range(len(QUEUE_CAUSES)) if ref.queues[q].enable]
    events.append((f"config, {on(ref.config_vector)}", "config"))
    for label, cause in events:
        for m, r in replicas.items():
            got, held, read = r.fire(cause)
            first = got[0] if got else None
            out.outcomes.append(Outcome(label, m, (first.address, first.data) if first else None,
                                        first.vector if first else None, first.via if first else None, held, read))
    out.journal = {m: list(r.fn.delivery.journal) for m, r in replicas.items()}
    out.losses = _explain(out)
    return out


def _hazard(fn: Any, s: Step) -> Hazard | None:
    """Whether step `s`, about to be written into `fn` (the emulated replica), is one of the writes that
    work emulated and break under irqfd: judged by the device's state just before it."""
    driver_ok = bool(fn.status & DRIVER_OK)
    if not driver_ok:
        return None
    if s.kind == "msix-table" and s.register in MESSAGE_FIELDS and s.index is not None and s.index < fn.vectors:
        at = 16 * s.index + ENTRY_FIELD[s.register]
        if not fn.msix_is_masked(s.index) and fn._bar_get(fn.msix_bir, fn.table_offset + at) != s.value & 0xFFFF_FFFF:
            what = "address" if "ADDR" in s.register else "data"
            return Hazard(s.step, "irqfd_entry_written_unmasked", s.index,
                          f"entry {s.index} {what} written while unmasked after DRIVER_OK (step {s.step})")
    if s.kind == "virtio" and s.register in ("queue_msix_vector", "msix_config"):
        queue = (fn.queue_sel if s.index is None else s.index) if s.register == "queue_msix_vector" else -1
        old = fn.config_vector if queue < 0 else fn.queues[queue].vector if queue < len(fn.queues) else None
        if old is not None and old != s.value:
            who = "msix_config" if queue < 0 else f"queue {queue} queue_msix_vector"
            shown = "NO_VECTOR" if old == V.VIRTIO_MSI_NO_VECTOR else str(old)
            new = "NO_VECTOR" if s.value == V.VIRTIO_MSI_NO_VECTOR else str(s.value)
            return Hazard(s.step, "irqfd_vector_after_driver_ok", queue,
                          f"{who} {shown} → {new} written after DRIVER_OK (step {s.step})")
    return None


def _explain(r: Replay) -> list[Loss]:
    """One sentence per event whose messages differ from the emulated path's, naming the write that caused it."""
    out = []
    for event in r.events:
        ref = r.outcome(event, "emulated")
        for m in r.modes:
            o = r.outcome(event, m)
            if m == "emulated" or o.message == ref.message:
                continue
            queue = int(event.split()[1].rstrip(",")) if event.startswith("queue") else -1
            entry = o.vector if o.vector is not None else ref.vector
            writes = [h for h in r.hazards if h.check == "irqfd_entry_written_unmasked" and h.index == entry]
            moves = [h for h in r.hazards if h.check == "irqfd_vector_after_driver_ok" and h.index == queue]
            cause = "; ".join(_told(writes) + [h.text for h in moves]) or f"{event} fired"
            texts: list[str] = []
            path = "the irqfd route" if m == "irqfd" else f"the {m} path"
            if ref.message is None:
                texts.append(f"{cause}: the emulated path sends nothing, {path} of vector {o.vector} still sends "
                             f"{_msg(o.message)}")
            elif o.message is None:
                texts.append(f"{cause}: the emulated path sends {_msg(ref.message)}, {path} sends nothing")
            elif m == "irqfd" and o.via and "route" in o.via and o.vector != ref.vector:
                texts.append(f"{cause}: the emulated path sends vector {ref.vector}'s message {_msg(ref.message)}, "
                           f"the irqfd still feeds the route of the old vector {o.vector}: {_msg(o.message)}")
            elif m == "irqfd" and o.via and "route" in o.via:
                texts.append(f"{cause}: the emulated path sends the new message {_msg(ref.message)}, {path} still "
                           f"holds the old one {_msg(o.message)}")
            else:
                texts.append(f"{cause}: the emulated path sends {_msg(ref.message)}, {path} {_msg(o.message)}")
            out.append(Loss(event, m, tuple(writes + moves), texts[0]))
    return out


def _told(hazards: list[Hazard]) -> list[str]:
    """Entry writes of one entry told as one: "entry 1 address and data written while unmasked after
    DRIVER_OK (steps 28, 30)"."""
    if not hazards:
        return []
    fields = list(dict.fromkeys(h.text.split()[2] for h in hazards))
    steps = ", ".join(str(h.step) for h in hazards)
    return [f"entry {hazards[0].index} {' and '.join(fields)} written while unmasked after DRIVER_OK "
            f"(step{'s' if len(hazards) > 1 else ''} {steps})"]

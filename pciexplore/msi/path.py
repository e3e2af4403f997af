"""The path of each interrupt on a live Linux host, from the device to the handler:

    device → MSI-X entry (or MSI vector) → message (address/data) → APIC ID / CPU → Linux IRQ → handler

Each step comes from where the kernel or the device says it: the message from the MSI-X table (when the
BAR can be read) or the MSI capability in config space; the IRQ and its mode from `msi_irqs/N`; the
entry from the hardware IRQ number in /proc/interrupts; the allowed and effective CPUs from
/proc/irq/N/; each CPU's APIC ID from /proc/cpuinfo; handler names and counts from /proc/interrupts.

The x86 message names one destination APIC ID (Intel SDM vol. 3 §11.11.1); Linux programs it from the
IRQ's effective affinity, so the two must agree.  With interrupt remapping (address bit 4 set, VT-d
§5.1.5.2, or an "IR-" chip) the address holds a handle into the IOMMU's table: the destination is
there, not in the message, and is not cross-checked.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import PciError
from . import kernel, x86

if TYPE_CHECKING:
    from ..doctor import Finding
    from ..model import Function
    from ..sources.base import Source

#: cross-check outcomes
AGREES = "agrees"
DISAGREES = "disagrees"
REMAPPED = "remapped"
NOT_CHECKED = "not checked"


@dataclass(slots=True)
class VectorPath:
    """One MSI/MSI-X vector of one function, followed to its handler."""

    function: str
    mode: str  # "msix" or "msi", from msi_irqs/N
    irq: int
    entry: int | None  # table entry / MSI vector, from the hardware IRQ number
    address: int | None = None  # the message, when the table (or MSI capability) could be read
    data: int | None = None
    masked: bool | None = None
    meaning: str = ""  # x86.describe of the message, or why there is no message
    dest_apic: int | None = None  # physical-mode destination APIC ID in the message
    remapped: bool = False
    allowed_cpus: list[int] | None = None  # smp_affinity_list
    effective_cpus: list[int] | None = None  # effective_affinity_list
    effective_apics: list[int] | None = None  # APIC IDs of the effective CPUs (/proc/cpuinfo)
    check: str = NOT_CHECKED
    why: str = ""  # the cross-check in words
    chip: str | None = None
    handler: str = ""
    counts: list[int] = field(default_factory=list)  # per CPU
    total: int | None = None
    rate: float | None = None  # interrupts per second, after sample()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Messages = dict[int, tuple[int, int, bool | None]]


def _messages(fn: Function, mode: str) -> tuple[Messages, str]:
    """Entry -> (address, data, masked) of every vector of `mode`, read once (the whole MSI-X table, or
    the MSI capability); empty with the reason when they cannot be read."""
    try:
        if mode == "msix":
            model = fn.msix
            if model is None:
                return {}, "no MSI-X capability in config space"
            return {e.vector: (e.address, e.data, e.masked) for e in model.entries}, ""
        model = fn.msi
        if model is None:
            return {}, "no MSI capability in config space"
        r = model.regs()
        return {v: (*r.message(v), None) for v in range(r.count)}, ""
    except PciError as e:
        return {}, e.message


def cross_check(p: VectorPath) -> tuple[str, str]:
    """Does the message go where the kernel says the IRQ goes?"""
    if p.remapped:
        return REMAPPED, ("interrupt remapping: the message holds an IRTE handle, the destination is in the "
                          "IOMMU's remapping table (not cross-checked)")
    if p.address is None or p.data is None:
        return NOT_CHECKED, p.meaning or "no message"
    if not x86.is_interrupt_address(p.address):
        return NOT_CHECKED, "not an x86 interrupt address"
    if x86.fields(p.address, p.data)["dest_mode"]:
        return NOT_CHECKED, "logical destination mode: the ID is a set of CPUs, not one APIC ID"
    if not p.effective_apics:
        return NOT_CHECKED, "no effective affinity or no APIC IDs (/proc/irq/N, /proc/cpuinfo)"
    if p.dest_apic in p.effective_apics:
        return AGREES, f"message goes to APIC {p.dest_apic}, the effective CPU's"
    return DISAGREES, (f"message goes to APIC {p.dest_apic} but the kernel says IRQ {p.irq} is effective on "
                       f"CPU {','.join(map(str, p.effective_cpus or []))} (APIC "
                       f"{','.join(map(str, p.effective_apics))})")


def _kernel_dirs(source: Source) -> tuple[Path, Path | None]:
    """The sysfs devices directory and the /proc to pair with it: this host's /proc for the live tree,
    a `proc` directory beside a sysfs-like tree (ROOT/devices + ROOT/proc), else none."""
    root = Path(getattr(source, "root", ""))
    if getattr(source, "is_live_host", False):
        return root, Path("/proc")
    proc = root.parent / "proc"
    return root, proc if (proc / "interrupts").is_file() else None


def _sysfs_irq_note(fn: Function, irqs: dict[int, str]) -> str:
    """What this function's sysfs `irq` file holds, beside its MSI/MSI-X IRQs."""
    info = fn.kernel
    irq = info.irq if info is not None else None
    listed = ",".join(map(str, irqs))
    if "msi" in irqs.values() and irq == min(i for i, m in irqs.items() if m == "msi"):
        return f"{fn.address}: sysfs irq {irq} is its first MSI IRQ (MSI is enabled), not an INTx line; all: {listed}"
    return f"{fn.address}: sysfs irq {irq} is its INTx IRQ, not an MSI-X vector's; msi_irqs/: {listed}"


class InterruptPaths:
    """Every MSI/MSI-X vector the kernel allocated on a sysfs source (live or a sysfs-like tree),
    followed to its handler.  `frame()` is a DataFrame; in Jupyter the object shows as a picture."""

    def __init__(self, source: Source, selector: str | None = None, proc: str | Path | None = None) -> None:
        if source.kind != "sysfs":
            raise PciError(f"the interrupt path needs the kernel's view (a sysfs source), not a {source.kind} "
                           "source", file=source.name)
        self.source = source
        self.selector = selector
        self.sysfs, found = _kernel_dirs(source)
        self.proc = Path(proc) if proc is not None else found
        self.cpus: list[str] = []
        self.apic_ids: dict[int, int] = {}
        self.notes: list[str] = [kernel.SYSFS_IRQ_NOTE]
        self.vectors: list[VectorPath] = []
        #: "function mode" -> why its messages could not be read (e.g. no resourceN: a VM)
        self.unreadable: dict[str, str] = {}
        self.read()

    def _interrupts(self) -> kernel.Interrupts | None:
        if self.proc is None:
            return None
        try:
            return kernel.read_interrupts(self.proc / "interrupts")
        except PciError as e:
            self.notes.append(str(e))
            return None

    def read(self) -> None:
        """Read every file again (counts included; rates are kept from the last `sample`)."""
        interrupts = self._interrupts()
        by_irq = interrupts.by_irq() if interrupts else {}
        self.cpus = interrupts.cpus if interrupts else []
        self.apic_ids = kernel.read_apic_ids(self.proc / "cpuinfo") if self.proc else {}
        self.vectors = []
        self.unreadable = {}
        self.notes = [kernel.SYSFS_IRQ_NOTE]
        for fn in self.source.functions(self.selector):
            irqs = kernel.msi_irqs(self.sysfs / str(fn.address))
            if irqs:
                self.notes.append(_sysfs_irq_note(fn, irqs))
            messages: dict[str, Messages] = {}
            for mode in dict.fromkeys(irqs.values()):
                messages[mode], why = _messages(fn, mode)
                if why:
                    self.unreadable[f"{fn.address} {mode}"] = why
            for irq, mode in irqs.items():
                self.vectors.append(self._follow(fn, irq, mode, by_irq.get(irq), messages.get(mode, {})))

    def _follow(self, fn: Function, irq: int, mode: str, line: kernel.IrqLine | None,
                messages: Messages) -> VectorPath:
        entry = line.msi_entry if line and line.msi_function in (None, fn.address) else None
        p = VectorPath(str(fn.address), mode, irq, entry)
        if entry is not None and entry in messages:
            p.address, p.data, p.masked = messages[entry]
            p.meaning = x86.describe(p.address, p.data)
        else:
            p.meaning = ("the hardware IRQ number does not say which entry" if entry is None else
                         "message not readable" if not messages else f"no entry {entry} in the device")
        if line is not None:
            p.chip, p.handler, p.counts, p.total = line.chip, line.names, list(line.counts), line.total
        p.remapped = bool((p.chip or "").startswith("IR-") or (p.address is not None and x86.is_interrupt_address(
            p.address) and x86.remappable(p.address)))
        if p.address is not None and p.data is not None and not p.remapped:
            f = x86.fields(p.address, p.data)
            # bits 11:5 carry APIC ID bits 14:8 where the hypervisor offers the extended destination ID
            p.dest_apic = f["dest_id"] | f["ext_dest_id"] << 8
        if self.proc is not None:
            aff = kernel.read_affinity(irq, self.proc)
            p.allowed_cpus, p.effective_cpus = aff.allowed, aff.effective
            if not p.handler and aff.actions:
                p.handler = ", ".join(aff.actions)
            if aff.effective is not None and self.apic_ids:
                p.effective_apics = [self.apic_ids[c] for c in aff.effective if c in self.apic_ids]
        p.check, p.why = cross_check(p)
        return p

    def sample(self, interval: float = 1.0, sleep: Callable[[float], None] = time.sleep,
               clock: Callable[[], float] = time.monotonic) -> InterruptPaths:
        """Read the counts twice `interval` seconds apart and set each vector's rate."""
        t0, before = clock(), {p.irq: p.total for p in self.vectors}
        sleep(interval)
        self.read()
        dt = clock() - t0
        for p in self.vectors:
            old = before.get(p.irq)
            p.rate = (p.total - old) / dt if old is not None and p.total is not None and dt > 0 else None
        return self

    def disagreements(self) -> list[VectorPath]:
        return [p for p in self.vectors if p.check == DISAGREES]

    def frame(self):
        import pandas as pd

        rows = []
        for p in self.vectors:
            d = p.to_dict()
            d.pop("counts")
            for name in ("allowed_cpus", "effective_cpus", "effective_apics"):
                d[name] = None if d[name] is None else ",".join(map(str, d[name]))
            d.update({cpu: (p.counts[i] if i < len(p.counts) else None) for i, cpu in enumerate(self.cpus)})
            rows.append(d)
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        return {"cpus": self.cpus, "apic_ids": {str(k): v for k, v in self.apic_ids.items()},
                "notes": self.notes, "unreadable": self.unreadable, "vectors": [p.to_dict() for p in self.vectors]}

    def text(self) -> str:
        """One line per vector, the path in arrows."""
        out = []
        for p in self.vectors:
            msg = f"0x{p.address:x} ← 0x{p.data:x}" if p.address is not None else "?"
            cpus = ",".join(map(str, p.effective_cpus)) if p.effective_cpus is not None else "?"
            apics = ",".join(map(str, p.effective_apics)) if p.effective_apics else "?"
            rate = f", {p.rate:.1f}/s" if p.rate is not None else ""
            entry = "?" if p.entry is None else p.entry
            out.append(f"{p.function} {p.mode} entry {entry} → {msg} ({p.meaning}) → CPU {cpus} (APIC {apics}) → "
                       f"IRQ {p.irq} → {p.handler or '?'}: {p.total if p.total is not None else '?'}{rate}  "
                       f"[{p.check}" + (f": {p.why}]" if p.check != NOT_CHECKED else "]"))
        out += [f"{where}: message not readable: {why}" for where, why in self.unreadable.items()]
        return "\n".join(out + [f"note: {n}" for n in self.notes]) + "\n"

    def _repr_html_(self) -> str:
        from ..render.irqpath import paths_html

        return paths_html(self)


def findings(fn: Function) -> Iterator[Finding]:
    """Doctor findings: each vector whose message goes to another APIC than its IRQ's effective CPU."""
    from ..doctor import Finding

    if fn.source.kind != "sysfs" or not (fn.kernel and fn.kernel.msi_irqs):
        return
    for p in InterruptPaths(fn.source, str(fn.address)).disagreements():
        yield Finding(
            "msi_destination_mismatch", "error", p.function, f"{p.mode.upper()} entry {p.entry}, IRQ {p.irq}",
            p.why,
            "Intel SDM vol. 3 §11.11.1: the message's destination ID names the APIC that receives it; Linux "
            "programs it from the IRQ's effective affinity and sets the IDT vector up on that CPU only",
            "the entry was not rewritten after an affinity change, or someone else wrote it (look for 'No irq "
            f"handler for vector' in dmesg); write the affinity again (echo CPUS > /proc/irq/{p.irq}/"
            "smp_affinity_list) so the kernel reprograms it; in a VM the hypervisor's copy may be stale",
            vector=p.entry)


def interrupt_paths(source: Source, selector: str | None = None, proc: str | Path | None = None) -> InterruptPaths:
    """The path of every MSI/MSI-X vector of `source`'s functions (or those `selector` matches)."""
    return InterruptPaths(source, selector, proc)

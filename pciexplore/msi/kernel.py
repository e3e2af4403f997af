"""What the Linux kernel says about a function's interrupts: `msi_irqs/` in sysfs names the IRQs, and
/proc/interrupts gives per IRQ the per-CPU counts, the chip, the hardware IRQ (which carries the
MSI-X entry index) and the handler names.  Sampling twice gives rates per vector.

/proc/interrupts lines look like (kernel/irq/proc.c show_interrupts):
    " 36:          0     123884 PCI-MSIX-0000:00:02.0   1-edge      virtio1-req.0"
    "129:   9 0 IR-PCI-MSI 524288-edge      nvme0q0"            (older kernels: one global MSI domain)
    " 11:   0 0 GICv3  27 Level     arch_timer"                 (arm64: separate trigger word)
    "NMI:          0          0   Non-maskable interrupts"
    "ERR:          0"
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..address import Address
from ..errors import InputError, NotSupported
from ..sources.kernel_files import read_kernel_file

PROC_INTERRUPTS = "/proc/interrupts"
SYSFS_PCI = "/sys/bus/pci/devices"
_HWIRQ_TYPE = re.compile(r"^(?P<hwirq>\d+)?-(?P<type>[A-Za-z]\w*)$")  # x86 "5-edge", "-edge"
_PER_DEVICE_CHIP = re.compile(r"^(?:IR-)?PCI-MSI(?P<x>X)?-(?P<bdf>[0-9a-fA-F]{4,}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])$")
_GLOBAL_MSI_CHIP = re.compile(r"^(?:IR-)?PCI-MSI(?:X)?$")


@dataclass(slots=True)
class IrqLine:
    """One line of /proc/interrupts."""

    label: str  # "36", "NMI", "LOC", ...
    counts: list[int]  # per CPU column, as many as the line has
    chip: str | None = None
    hwirq: int | None = None
    trigger: str | None = None  # "edge", "level", "Edge", "Level"
    names: str = ""  # handler names (", "-separated) or, for arch lines, the description
    line: int = 0

    @property
    def irq(self) -> int | None:
        return int(self.label) if self.label.isdigit() else None

    @property
    def total(self) -> int:
        return sum(self.counts)

    @property
    def msi_function(self) -> Address | None:
        """The PCI function an MSI/MSI-X IRQ belongs to, when the chip or hwirq says so."""
        if self.chip is None:
            return None
        m = _PER_DEVICE_CHIP.match(self.chip)
        if m:
            return Address.parse(m["bdf"])
        if _GLOBAL_MSI_CHIP.match(self.chip) and self.hwirq is not None:
            # pci_msi_domain_calc_hwirq: entry | requester ID << 11 | domain << 27
            rid = (self.hwirq >> 11) & 0xFFFF
            return Address(self.hwirq >> 27, rid >> 8, (rid >> 3) & 0x1F, rid & 7)
        return None

    @property
    def msi_entry(self) -> int | None:
        """MSI-X table entry (or MSI vector) index the IRQ stands for, from the hardware IRQ number."""
        if self.chip is None or self.hwirq is None:
            return None
        if _PER_DEVICE_CHIP.match(self.chip):
            return self.hwirq
        if _GLOBAL_MSI_CHIP.match(self.chip):
            return self.hwirq & 0x7FF
        return None


@dataclass(slots=True)
class Interrupts:
    cpus: list[str]
    lines: list[IrqLine] = field(default_factory=list)

    def by_irq(self) -> dict[int, IrqLine]:
        return {ln.irq: ln for ln in self.lines if ln.irq is not None}


def parse_interrupts(text: str, file: str = PROC_INTERRUPTS) -> Interrupts:
    """Parse /proc/interrupts text; a line that is not "LABEL: counts ..." is a one-line error."""
    rows = text.splitlines()
    if not rows or not rows[0].split() or not all(c.startswith("CPU") for c in rows[0].split()):
        raise InputError("not /proc/interrupts: the first line should name the CPU columns (CPU0 CPU1 ...)",
                         file=file, line=1)
    cpus = rows[0].split()
    out = Interrupts(cpus)
    for number, raw in enumerate(rows[1:], start=2):
        if not raw.strip():
            continue
        label, colon, rest = raw.partition(":")
        label = label.strip()
        if not colon or not label or " " in label:
            raise InputError(f"expected 'IRQ: counts ...', got {raw.strip()[:60]!r}", file=file, line=number)
        tokens = rest.split()
        counts = []
        while tokens and len(counts) < len(cpus) and tokens[0].isdigit():
            counts.append(int(tokens.pop(0)))
        out.lines.append(_describe(label, counts, tokens, rest, number))
    return out


def _describe(label: str, counts: list[int], tokens: list[str], rest: str, number: int) -> IrqLine:
    """Split what follows the counts into chip, hwirq, trigger and handler names."""
    line = IrqLine(label, counts, line=number)
    if not label.isdigit():
        line.names = " ".join(tokens)
        return line
    for i, tok in enumerate(tokens):
        m = _HWIRQ_TYPE.match(tok)
        if m and i > 0:
            line.chip = " ".join(tokens[:i])
            line.hwirq = int(m["hwirq"]) if m["hwirq"] else None
            line.trigger = m["type"]
            line.names = _tail(rest, tokens, i + 1)
            return line
        if tok.isdigit() and i > 0 and i + 1 < len(tokens) and tokens[i + 1] in ("Edge", "Level"):
            line.chip = " ".join(tokens[:i])
            line.hwirq = int(tok)
            line.trigger = tokens[i + 1]
            line.names = _tail(rest, tokens, i + 2)
            return line
    if tokens:
        line.chip = tokens[0]
        line.names = _tail(rest, tokens, 1)
    return line


def _tail(rest: str, tokens: list[str], start: int) -> str:
    """The original text from token `start` on (handler names keep their ", " separators)."""
    if start >= len(tokens):
        return ""
    pos = 0
    for tok in tokens[:start]:
        pos = rest.index(tok, pos) + len(tok)
    return rest[pos:].strip()


def read_interrupts(path: str | Path = PROC_INTERRUPTS) -> Interrupts:
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise NotSupported(f"cannot read: {e.strerror}", file=str(path)) from None
    return parse_interrupts(text, str(path))


def msi_irqs(sysfs_dir: str | Path) -> dict[int, str]:
    """IRQ -> "msi"/"msix" from a function's sysfs `msi_irqs/` directory (empty when it has none)."""
    d = Path(sysfs_dir) / "msi_irqs"
    out: dict[int, str] = {}
    if not d.is_dir():
        return out
    for name in os.listdir(d):
        if name.isdigit():
            try:
                out[int(name)] = (d / name).read_text().strip()
            except OSError:
                out[int(name)] = "?"
    return dict(sorted(out.items()))


def vectors(interrupts: Interrupts | None = None, sysfs_root: str | Path = SYSFS_PCI,
            selector: str | None = None):
    """pandas DataFrame, one row per MSI/MSI-X IRQ of every function (or those `selector` matches):
    function, mode, entry, irq, name, total and one column per CPU."""
    import pandas as pd

    from ..address import Selector

    interrupts = interrupts or read_interrupts()
    by_irq = interrupts.by_irq()
    sel = Selector(selector) if selector else None
    rows = []
    root = Path(sysfs_root)
    for entry in sorted(os.listdir(root)) if root.is_dir() else []:
        try:
            addr = Address.parse(entry)
        except InputError:
            continue
        if sel and not sel.matches(addr):
            continue
        for irq, mode in msi_irqs(root / entry).items():
            line = by_irq.get(irq)
            rows.append({
                "function": str(addr), "mode": mode,
                "entry": line.msi_entry if line and line.msi_function in (None, addr) else None,
                "irq": irq, "name": line.names if line else None, "total": line.total if line else None,
                **{cpu: (line.counts[i] if line and i < len(line.counts) else None)
                   for i, cpu in enumerate(interrupts.cpus)},
            })
    df = pd.DataFrame(rows, columns=["function", "mode", "entry", "irq", "name", "total", *interrupts.cpus])
    df["entry"] = df["entry"].astype("Int64")
    return df


def sample(interval: float = 1.0, count: int = 2, sysfs_root: str | Path = SYSFS_PCI, selector: str | None = None,
           read: Callable[[], Interrupts] = read_interrupts, sleep: Callable[[float], None] = time.sleep,
           clock: Callable[[], float] = time.monotonic):
    """Take `count` snapshots `interval` seconds apart: DataFrame of function, entry, irq, name, time,
    total and rate (interrupts per second since the previous snapshot; NaN for the first)."""
    import pandas as pd

    if count < 1 or interval < 0:
        raise InputError("sample needs count >= 1 and interval >= 0")
    frames = []
    for i in range(count):
        if i:
            sleep(interval)
        t = clock()
        df = vectors(read(), sysfs_root, selector)[["function", "mode", "entry", "irq", "name", "total"]]
        frames.append(df.assign(time=t))
    out = pd.concat(frames, ignore_index=True)
    out["rate"] = (out.groupby("irq")["total"].diff() / out.groupby("irq")["time"].diff()).astype(float)
    return out


# -- where each IRQ goes: /proc/irq/N/ and /proc/cpuinfo ------------------------------------------------

#: sysfs-bus-pci ABI (pci-sysfs.c irq_show): with MSI enabled `irq` holds the first MSI IRQ; with MSI-X
#: or neither it holds the INTx IRQ (often 0 on MSI-X-only devices), never an MSI-X vector's IRQ
SYSFS_IRQ_NOTE = ("sysfs 'irq' is the INTx IRQ unless MSI (not MSI-X) is enabled, when it is the first MSI "
                  "IRQ; the IRQs of MSI-X vectors are only in msi_irqs/")


def parse_cpulist(text: str) -> list[int]:
    """A kernel CPU list ("0-3,8,10-11", bitmap_parselist's format) as CPU numbers; "" is no CPU."""
    out: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        lo, dash, hi = part.partition("-")
        try:
            first, last = int(lo), int(hi.partition(":")[0]) if dash else int(lo)
        except ValueError:
            raise InputError(f"not a CPU list: {text.strip()[:60]!r}") from None
        out.extend(range(first, last + 1))
    return out


@dataclass(slots=True)
class IrqAffinity:
    """/proc/irq/N/: the CPUs an IRQ may go to (smp_affinity_list) and the ones the interrupt controller
    was actually programmed with (effective_affinity_list; on x86 one CPU, whose APIC ID the MSI
    message carries)."""

    irq: int
    allowed: list[int] | None  # None when the file is absent or unreadable
    effective: list[int] | None
    actions: list[str] = field(default_factory=list)  # handler names: the directories /proc/irq/N/ holds


def read_affinity(irq: int, proc: str | Path = "/proc") -> IrqAffinity:
    d = f"{proc}/irq/{irq}"

    def cpus(name: str) -> list[int] | None:
        text = read_kernel_file(f"{d}/{name}")
        try:
            return None if text is None else parse_cpulist(text)
        except InputError:
            return None

    try:
        actions = sorted(n for n in os.listdir(d) if os.path.isdir(f"{d}/{n}"))
    except OSError:
        actions = []
    return IrqAffinity(irq, cpus("smp_affinity_list"), cpus("effective_affinity_list"), actions)


def read_apic_ids(cpuinfo: str | Path = "/proc/cpuinfo") -> dict[int, int]:
    """CPU number -> APIC ID from /proc/cpuinfo ("processor" and "apicid" lines; empty off x86)."""
    text = read_kernel_file(cpuinfo, 1 << 26)  # ~1.5 KB a CPU: room for thousands
    if text is None:
        return {}
    out: dict[int, int] = {}
    cpu: int | None = None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "processor":
            cpu = int(value) if value.strip().isdigit() else None
        elif key == "apicid" and cpu is not None and value.strip().isdigit():
            out[cpu] = int(value)
    return out

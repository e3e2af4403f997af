"""The kernel's own files beside a sysfs-like tree (see fake_sysfs.build_tree), written in the formats
real kernels print, for tests and teaching:

- `ROOT/proc/interrupts`, `ROOT/proc/irq/N/{smp_affinity_list,effective_affinity_list,<handler>/}`,
  `ROOT/proc/cpuinfo` (processor / apicid lines): what pciexplore.msi.path follows;
- `devices/<bdf>/msi_irqs/N` ("msi" or "msix", drivers/pci/msi/msi.c msi_mode_show);
- `current_link_speed`, `current_link_width`, `max_link_speed`, `max_link_width` (pci-sysfs.c: the speed
  as pci_speed_string names it, "16.0 GT/s PCIe", the width as a bare number);
- `aer_dev_correctable`, `aer_dev_fatal`, `aer_dev_nonfatal` ("NAME COUNT" per named bit, then
  "TOTAL_ERR_COR N"; drivers/pci/pcie/aer.c aer_stats_dev_attr) and `aer_rootport_total_err_{cor,fatal,
  nonfatal}` (one number) for root ports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from ..address import Address

#: drivers/pci/pcie/aer.c: aer_correctable_error_string (bit -> name; the bits not listed are NULL)
AER_CORRECTABLE = {0: "RxErr", 6: "BadTLP", 7: "BadDLLP", 8: "Rollover", 12: "Timeout", 13: "NonFatalErr",
                   14: "CorrIntErr", 15: "HeaderOF"}
#: aer_uncorrectable_error_string, shared by aer_dev_fatal and aer_dev_nonfatal
AER_UNCORRECTABLE = {0: "Undefined", 4: "DLP", 5: "SDES", 12: "TLP", 13: "FCP", 14: "CmpltTO", 15: "CmpltAbrt",
                     16: "UnxCmplt", 17: "RxOF", 18: "MalfTLP", 19: "ECRC", 20: "UnsupReq", 21: "ACSViol",
                     22: "UncorrIntErr", 23: "BlockedTLP", 24: "AtomicOpBlocked", 25: "TLPBlockedErr",
                     26: "PoisonTLPBlocked", 27: "DMWrReqBlocked", 28: "IDECheck", 29: "MisIDETLP",
                     30: "PCRC_CHECK", 31: "TLPXlatBlocked"}
#: (file, names, width of the kernel's array, the array's name for unnamed bits, total's name)
AER_FILES = (
    ("aer_dev_correctable", AER_CORRECTABLE, 16, "dev_cor_errs", "ERR_COR"),
    ("aer_dev_fatal", AER_UNCORRECTABLE, 32, "dev_fatal_errs", "ERR_FATAL"),
    ("aer_dev_nonfatal", AER_UNCORRECTABLE, 32, "dev_nonfatal_errs", "ERR_NONFATAL"),
)
#: pci_speed_string() for the PCIe link speeds (LNKSTA_CLS / LNKCAP_SLS encodings 1-6)
SPEED_STRINGS = {1: "2.5 GT/s PCIe", 2: "5.0 GT/s PCIe", 3: "8.0 GT/s PCIe", 4: "16.0 GT/s PCIe",
                 5: "32.0 GT/s PCIe", 6: "64.0 GT/s PCIe"}


def aer_text(names: Mapping[int, str], width: int, array: str, total_name: str, counts: Mapping[int, int],
             total: int | None = None) -> str:
    """One AER counter file as the kernel prints it: every named bit (zeros too), unnamed bits only
    when counted, then the total of messages sent (given, or the sum)."""
    lines = []
    for bit in range(width):
        if bit in names:
            lines.append(f"{names[bit]} {counts.get(bit, 0)}\n")
        elif counts.get(bit):
            lines.append(f"{array}_bit[{bit}] {counts[bit]}\n")
    lines.append(f"TOTAL_{total_name} {sum(counts.values()) if total is None else total}\n")
    return "".join(lines)


def write_aer(devices: str | Path, addr: Address, correctable: Mapping[int, int] | None = None,
              fatal: Mapping[int, int] | None = None, nonfatal: Mapping[int, int] | None = None,
              rootport: tuple[int, int, int] | None = None) -> None:
    """AER counters of `addr` (bit -> count), and a root port's totals (cor, fatal, nonfatal)."""
    d = Path(devices) / str(addr)
    for (name, names, width, array, total), counts in zip(AER_FILES, (correctable, fatal, nonfatal), strict=True):
        (d / name).write_text(aer_text(names, width, array, total, counts or {}))
    if rootport is not None:
        for suffix, value in zip(("cor", "fatal", "nonfatal"), rootport, strict=True):
            (d / f"aer_rootport_total_err_{suffix}").write_text(f"{value}\n")


def write_link(devices: str | Path, addr: Address, current: tuple[int, int], maximum: tuple[int, int]) -> None:
    """The four link files from (speed encoding, width) pairs, as pci-sysfs.c prints them."""
    d = Path(devices) / str(addr)
    for prefix, (speed, width) in (("current", current), ("max", maximum)):
        (d / f"{prefix}_link_speed").write_text(SPEED_STRINGS.get(speed, "Unknown") + "\n")
        (d / f"{prefix}_link_width").write_text(f"{width}\n")


def write_msi_irqs(devices: str | Path, addr: Address, irqs: Mapping[int, str]) -> None:
    d = Path(devices) / str(addr) / "msi_irqs"
    d.mkdir(exist_ok=True)
    for irq, mode in irqs.items():
        (d / str(irq)).write_text(f"{mode}\n")


def cpulist(cpus: Sequence[int]) -> str:
    """CPU numbers in the kernel's list format ("0-2,5"), as bitmap_print_to_pagebuf prints them."""
    parts: list[str] = []
    for cpu in sorted(set(cpus)):
        if parts and cpu == int(parts[-1].rpartition("-")[2]) + 1:
            parts[-1] = f"{parts[-1].partition('-')[0]}-{cpu}"
        else:
            parts.append(str(cpu))
    return ",".join(parts)


def write_proc(root: str | Path, interrupts: str, affinity: Mapping[int, tuple[Sequence[int], Sequence[int], str]],
               apic_ids: Mapping[int, int]) -> Path:
    """ROOT/proc: `interrupts` verbatim, /proc/irq/N/ from irq -> (allowed CPUs, effective CPUs, handler
    name), and cpuinfo with one processor/apicid pair per CPU.  Returns the proc directory."""
    proc = Path(root) / "proc"
    proc.mkdir(parents=True, exist_ok=True)
    (proc / "interrupts").write_text(interrupts)
    for irq, (allowed, effective, handler) in affinity.items():
        d = proc / "irq" / str(irq)
        d.mkdir(parents=True, exist_ok=True)
        (d / "smp_affinity_list").write_text(cpulist(allowed) + "\n")
        (d / "effective_affinity_list").write_text(cpulist(effective) + "\n")
        if handler:
            (d / handler).mkdir(exist_ok=True)
    (proc / "cpuinfo").write_text("".join(f"processor\t: {cpu}\nvendor_id\t: GenuineIntel\napicid\t\t: {apic}\n"
                                          f"initial apicid\t: {apic}\n\n" for cpu, apic in apic_ids.items()))
    return proc

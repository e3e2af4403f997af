"""/proc/interrupts parsing and the kernel view of vectors, against this machine's real files (the
kernel's own msi_irqs/ directories are the reference for which IRQs belong to which function) and
against composed text in the formats kernel/irq/proc.c prints on x86 (per-device and global MSI
domains) and arm64 (separate trigger word)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pciexplore.address import Address
from pciexplore.cli import main
from pciexplore.errors import InputError
from pciexplore.msi import kernel

LIVE = Path("/sys/bus/pci/devices")


def live_msi_functions() -> dict[str, dict[int, str]]:
    return {d: kernel.msi_irqs(LIVE / d) for d in sorted(os.listdir(LIVE))} if LIVE.is_dir() else {}


@pytest.mark.skipif(not Path("/proc/interrupts").exists(), reason="no /proc/interrupts")
def test_real_proc_interrupts_against_msi_irqs() -> None:
    parsed = kernel.read_interrupts()
    online = os.sysconf("SC_NPROCESSORS_CONF")
    assert len(parsed.cpus) == online
    by_irq = parsed.by_irq()
    functions = {f: irqs for f, irqs in live_msi_functions().items() if irqs}
    if not functions:
        pytest.skip("no function on this host has MSI/MSI-X IRQs")
    for bdf, irqs in functions.items():
        for irq, mode in irqs.items():
            line = by_irq[irq]  # every IRQ the kernel lists in msi_irqs/ is in /proc/interrupts
            assert len(line.counts) == len(parsed.cpus)
            assert mode in ("msi", "msix")
            assert line.msi_function in (None, Address.parse(bdf))
        entries = [by_irq[i].msi_entry for i in irqs]
        if all(e is not None for e in entries):
            assert len(set(entries)) == len(entries)  # one IRQ per table entry
    # every arch line (NMI, LOC, ...) keeps its description, never a chip
    assert all(ln.chip is None and ln.names for ln in parsed.lines if ln.irq is None and ln.label not in ("ERR", "MIS"))


@pytest.mark.skipif(not LIVE.is_dir(), reason="no sysfs")
def test_vectors_frame_on_this_host() -> None:
    df = kernel.vectors()
    expected = sorted((f, irq) for f, irqs in live_msi_functions().items() for irq in irqs)
    assert sorted(zip(df["function"], df["irq"], strict=True)) == expected
    assert (df["total"] == df[kernel.read_interrupts().cpus].sum(axis=1)).all()


COMPOSED = """\
            CPU0       CPU1       CPU2       CPU3
   0:         41          0          0          0   IO-APIC   2-edge      timer
   9:          0          4          0          0   IO-APIC   9-fasteoi   acpi
  16:          0          0         12          0   IO-APIC  16-fasteoi   ehci_hcd:usb1, i801_smbus
 124:          5          0          0       7002   IR-PCI-MSI 524288-edge      nvme0q0
 125:        100        200          0          0   IR-PCI-MSI 524289-edge      nvme0q1
 130:          0          0          9          0   IR-PCI-MSI 1572864-edge      enp3s0-rx-0
 140:          1          2          3          4   PCI-MSIX-0000:00:02.0   3-edge      virtio1-req.0
 141:          0          0          0          1   PCI-MSI-0001:02:00.0   0-edge      ahci[0001:02:00.0]
 150:          0          0          0          0   DMAR-MSI   0-edge      dmar0
 160:          0          0          0          0  xen-percpu    -virq      timer0
NMI:          1          2          3          4   Non-maskable interrupts
LOC:     123456      65432      11111      22222   Local timer interrupts
ERR:          0
MIS:          0
"""


def test_composed_x86_text() -> None:
    parsed = kernel.parse_interrupts(COMPOSED, "composed")
    by = parsed.by_irq()
    assert parsed.cpus == ["CPU0", "CPU1", "CPU2", "CPU3"]
    assert (by[0].chip, by[0].hwirq, by[0].trigger, by[0].names) == ("IO-APIC", 2, "edge", "timer")
    assert by[16].names == "ehci_hcd:usb1, i801_smbus"
    # global MSI domain: hwirq = entry | requester ID << 11 | domain << 27 (524288 = 01:00.0 entry 0)
    assert by[124].msi_function == Address(0, 1, 0, 0) and by[124].msi_entry == 0 and by[124].total == 7007
    assert by[125].msi_entry == 1
    assert by[130].msi_function == Address(0, 3, 0, 0) and by[130].msi_entry == 0  # 1572864 = 0x300 << 11
    assert by[140].msi_function == Address(0, 0, 2, 0) and by[140].msi_entry == 3
    assert by[141].msi_function == Address(1, 2, 0, 0) and by[141].names == "ahci[0001:02:00.0]"
    assert by[150].msi_function is None and by[150].msi_entry is None  # not a PCI MSI chip
    assert (by[160].chip, by[160].hwirq, by[160].trigger) == ("xen-percpu", None, "virq")
    nmi = [ln for ln in parsed.lines if ln.label == "NMI"][0]
    assert nmi.counts == [1, 2, 3, 4] and nmi.names == "Non-maskable interrupts" and nmi.chip is None
    err = [ln for ln in parsed.lines if ln.label == "ERR"][0]
    assert err.counts == [0] and err.total == 0


def test_composed_arm64_text() -> None:
    text = ("           CPU0       CPU1\n"
            " 11:      12345      23456     GICv3  27 Level     arch_timer\n"
            " 40:          3          0   ITS-MSI 524288 Edge      nvme0q0\n"
            "IPI0:       10         20       Rescheduling interrupts\n")
    by = kernel.parse_interrupts(text).by_irq()
    assert (by[11].chip, by[11].hwirq, by[11].trigger, by[11].names) == ("GICv3", 27, "Level", "arch_timer")
    assert (by[40].chip, by[40].hwirq) == ("ITS-MSI", 524288)


@pytest.mark.parametrize("text,line,words", [
    ("", 1, "first line should name the CPU"),
    ("hello world\n", 1, "first line should name the CPU"),
    ("   CPU0\n  1:  5  IO-APIC 1-edge i8042\nthis is not a line\n", 3, "expected 'IRQ: counts"),
    ("   CPU0\nbad label: 1\n", 2, "expected 'IRQ: counts"),
])
def test_bad_text_is_a_one_line_error(text: str, line: int, words: str) -> None:
    with pytest.raises(InputError, match=words) as e:
        kernel.parse_interrupts(text, "f")
    assert e.value.line == line and "\n" not in str(e.value)


def fake_host(tmp_path: Path, texts: list[str]):
    """A sysfs tree with one function whose msi_irqs/ lists IRQs 140 and 141, and successive texts."""
    d = tmp_path / "devices" / "0000:00:02.0" / "msi_irqs"
    d.mkdir(parents=True)
    (d / "140").write_text("msix\n")
    (d / "141").write_text("msix\n")
    it = iter(texts)
    return tmp_path / "devices", (lambda: kernel.parse_interrupts(next(it)))


def test_sample_gives_rates(tmp_path: Path) -> None:
    head = "   CPU0   CPU1\n"
    texts = [head + " 140: 10 0 PCI-MSIX-0000:00:02.0 0-edge q0\n 141: 0 0 PCI-MSIX-0000:00:02.0 1-edge q1\n",
             head + " 140: 30 20 PCI-MSIX-0000:00:02.0 0-edge q0\n 141: 0 1 PCI-MSIX-0000:00:02.0 1-edge q1\n"]
    root, read = fake_host(tmp_path, texts)
    times = iter([100.0, 102.0])
    df = kernel.sample(2.0, 2, root, read=read, sleep=lambda s: None, clock=lambda: next(times))
    last = df[df["time"] == 102.0].set_index("entry")
    assert last.loc[0, "rate"] == 20.0 and last.loc[1, "rate"] == 0.5  # (40-10)/2, (1-0)/2
    assert df[df["time"] == 100.0]["rate"].isna().all()


def test_irqs_command_on_fake_host(tmp_path: Path, capsys) -> None:
    proc = tmp_path / "interrupts"
    proc.write_text("   CPU0\n 140: 7 PCI-MSIX-0000:00:02.0 0-edge eth0-rx\n 141: 1 PCI-MSIX-0000:00:02.0 1-edge eth0-tx\n")
    root, _ = fake_host(tmp_path, [])
    assert main(["irqs", "--proc", str(proc), str(root)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["function", "mode", "entry", "irq", "name", "total", "CPU0"]
    assert out[1].split() == ["0000:00:02.0", "msix", "0", "140", "eth0-rx", "7", "7"]


@pytest.mark.skipif(not Path("/proc/interrupts").exists() or not LIVE.is_dir(), reason="no live kernel view")
def test_disk_io_moves_virtio_blk_counts(tmp_path: Path) -> None:
    """virtio_blk names its queue vectors "virtioN-req.M": synced writes to a file on that disk must
    make their counts move between two samples."""
    now = kernel.vectors()
    req = now[now["name"].fillna("").str.contains(r"^virtio\d+-req", regex=True)]
    if req.empty:
        pytest.skip("no virtio-blk device on this host")
    if os.stat(tmp_path).st_dev != os.stat("/").st_dev:
        pytest.skip("tmp_path is not on the root disk")

    def disk_io(_seconds: float) -> None:
        for i in range(8):
            with open(tmp_path / f"f{i}", "wb") as f:
                f.write(os.urandom(1 << 20))
                f.flush()
                os.fsync(f.fileno())

    df = kernel.sample(0.0, 2, sleep=disk_io)
    moved = df[df["irq"].isin(req["irq"]) & df["rate"].notna()]
    assert (moved["rate"] > 0).any(), moved

"""The interrupt path device → entry → message → APIC/CPU → IRQ → handler: on this machine's real sysfs
and /proc (each file read again here, independently, and lspci's MSI-X Count), and on sysfs-like trees
whose kernel files are laid out as real kernels lay them out, with a message that disagrees with the
effective affinity and a remapped one."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

import pciexplore
from pciexplore.cli import main
from pciexplore.doctor import diagnose
from pciexplore.msi import kernel
from pciexplore.msi.path import AGREES, DISAGREES, NOT_CHECKED, REMAPPED, interrupt_paths
from pciexplore.render.irqpath import paths_html
from pciexplore.sources.fake_kernel import cpulist, write_msi_irqs, write_proc
from pciexplore.sources.fake_sysfs import build_tree
from tests.conftest import corpus_file

LIVE = Path("/sys/bus/pci/devices")
NIC = "0000:00:02.0"


def _cpuinfo_apicids() -> dict[int, int]:
    """processor -> apicid, read with a regular expression rather than the kit's parser."""
    text = Path("/proc/cpuinfo").read_text()
    blocks = [b for b in text.split("\n\n") if "processor" in b]
    out = {}
    for b in blocks:
        cpu = re.search(r"^processor\s*:\s*(\d+)", b, re.M)
        apic = re.search(r"^apicid\s*:\s*(\d+)", b, re.M)
        if cpu and apic:
            out[int(cpu[1])] = int(apic[1])
    return out


def _expand(text: str) -> set[int]:
    out: set[int] = set()
    for part in filter(None, text.strip().split(",")):
        a, _, b = part.partition("-")
        out |= set(range(int(a), int(b or a) + 1))
    return out


@pytest.mark.skipif(not (LIVE.is_dir() and Path("/proc/irq").is_dir()), reason="no sysfs or /proc/irq")
def test_this_hosts_paths_against_its_files() -> None:
    paths = interrupt_paths(pciexplore.open(None))
    expected = sorted((d, int(n), (LIVE / d / "msi_irqs" / n).read_text().strip())
                      for d in os.listdir(LIVE) if (LIVE / d / "msi_irqs").is_dir()
                      for n in os.listdir(LIVE / d / "msi_irqs"))
    if not expected:
        pytest.skip("no MSI/MSI-X IRQs on this host")
    assert sorted((p.function, p.irq, p.mode) for p in paths.vectors) == expected
    apic = _cpuinfo_apicids()
    assert paths.apic_ids == apic
    proc_lines = {ln.split(":")[0].strip(): ln for ln in Path("/proc/interrupts").read_text().splitlines()[1:]}
    for p in paths.vectors:
        d = Path(f"/proc/irq/{p.irq}")
        assert set(p.allowed_cpus) == _expand((d / "smp_affinity_list").read_text())
        assert set(p.effective_cpus) == _expand((d / "effective_affinity_list").read_text())
        assert p.effective_apics == [apic[c] for c in p.effective_cpus]
        # the handler name: a directory of /proc/irq/N, and the last word of the /proc/interrupts line
        assert (d / p.handler).is_dir() and proc_lines[str(p.irq)].split()[-1] == p.handler
        assert p.total >= 0 and len(p.counts) == os.sysconf("SC_NPROCESSORS_CONF")
    if shutil.which("lspci"):  # lspci's MSI-X Count bounds the entries the kernel's hwirqs name
        for bdf in {p.function for p in paths.vectors if p.mode == "msix"}:
            out = subprocess.run(["lspci", "-vv", "-s", bdf], capture_output=True, text=True).stdout
            count = int(re.search(r"MSI-X: Enable\+ Count=(\d+)", out)[1])
            entries = [p.entry for p in paths.vectors if p.function == bdf]
            assert len(set(entries)) == len(entries) and all(0 <= e < count for e in entries)
    for bdf in {p.function for p in paths.vectors if p.mode == "msix"}:  # the sysfs `irq` pitfall, per function
        irq = int((LIVE / bdf / "irq").read_text())
        assert f"{bdf}: sysfs irq {irq} is its INTx IRQ, not an MSI-X vector's" in "\n".join(paths.notes)
    if not any((LIVE / p.function / "resource0").exists() for p in paths.vectors):
        assert all(p.check == NOT_CHECKED and p.address is None for p in paths.vectors)
        assert all("resource" in why for why in paths.unreadable.values())


def _proc_line(irq: int, counts: list[int], bdf: str, entry: int, name: str, chip: str = "PCI-MSIX") -> str:
    return f"{irq:4}: " + "".join(f"{c:11}" for c in counts) + f" {chip}-{bdf} {entry:3}-edge      {name}\n"


def nic_tree(tmp_path: Path, chip: str = "PCI-MSIX", remap_entry: int | None = None) -> tuple[Path, Path]:
    """sim:nic as its driver left it (entries 0-4 to APIC 0,1,0,1,0) copied into a sysfs-like tree, with
    the kernel's files for IRQs 50-54; IRQ 53 (entry 3, whose message names APIC 1) is made effective on
    CPU 0, APIC 0: the disagreement."""
    sim = pciexplore.open("sim:nic,driver")
    addr = sim.functions()[0].address
    dev = sim.devices[addr]
    bar3 = bytearray(dev.bar_mem[3])
    if remap_entry is not None:  # VT-d remappable format: bit 4 set, handle in bits 19:5
        struct.pack_into("<I", bar3, 16 * remap_entry, 0xFEE00000 | 1 << 4 | 7 << 5)
    devices = build_tree(tmp_path / "sys", [(addr, bytes(dev.config))], {addr: dict(dev.bar_sizes)},
                         {(addr, 0): bytes(dev.bar_mem[0]), (addr, 3): bytes(bar3)})
    write_msi_irqs(devices, addr, {50 + e: "msix" for e in range(5)})
    names = ["eth0-config", "eth0-rx-0", "eth0-tx-0", "eth0-rx-1", "eth0-tx-1"]
    effective = [0, 1, 0, 0, 0]
    text = "           CPU0       CPU1       CPU2\n" + "".join(
        _proc_line(50 + e, [10 * e, e, 0], NIC, e, names[e], chip) for e in range(5))
    text += "NMI:          0          0          0   Non-maskable interrupts\n"
    write_proc(tmp_path / "sys", text, {50 + e: ([0, 1, 2], [effective[e]], names[e]) for e in range(5)},
               {0: 0, 1: 1, 2: 4})
    return devices, devices / NIC / "resource3"


def test_fake_tree_path_and_the_disagreement(tmp_path: Path) -> None:
    devices, resource3 = nic_tree(tmp_path)
    paths = interrupt_paths(pciexplore.open(str(devices)))
    raw = resource3.read_bytes()
    assert [p.irq for p in paths.vectors] == [50, 51, 52, 53, 54]
    for p in paths.vectors:
        lo, hi, data, ctrl = struct.unpack_from("<4I", raw, 16 * p.entry)  # the spec's entry layout
        assert (p.address, p.data) == (lo | hi << 32, data)
        assert p.dest_apic == (lo >> 12) & 0xFF  # SDM 11.11.1: destination ID in address bits 19:12
        assert p.allowed_cpus == [0, 1, 2]
    assert [p.check for p in paths.vectors] == [AGREES, AGREES, AGREES, DISAGREES, AGREES]
    bad = paths.disagreements()[0]
    assert (bad.irq, bad.dest_apic, bad.effective_cpus, bad.effective_apics) == (53, 1, [0], [0])
    assert "APIC 1" in bad.why and "CPU 0" in bad.why
    assert [p.handler for p in paths.vectors][:2] == ["eth0-config", "eth0-rx-0"]
    assert paths.vectors[2].counts == [20, 2, 0] and paths.vectors[2].total == 22
    (finding,) = [f for f in diagnose(pciexplore.open(str(devices))) if f.check == "msi_destination_mismatch"]
    assert (finding.severity, finding.vector, finding.device) == ("error", 3, NIC) and "/proc/irq/53/" in finding.fix
    page = paths_html(paths)
    assert page.count("<rect") == 6 * 5 and "IRQ 53" in page and "#c62828" in page


def test_remapped_message_is_not_cross_checked(tmp_path: Path) -> None:
    devices, _ = nic_tree(tmp_path, remap_entry=3)
    p = interrupt_paths(pciexplore.open(str(devices))).vectors[3]
    assert (p.remapped, p.check, p.dest_apic) == (True, REMAPPED, None)
    assert "IRTE index 7" in p.meaning and "not cross-checked" in p.why
    # an "IR-" chip (Linux with interrupt remapping) says so even when the address looks compatible
    devices, _ = nic_tree(tmp_path / "ir", chip="IR-PCI-MSIX")
    assert {p.check for p in interrupt_paths(pciexplore.open(str(devices))).vectors} == {REMAPPED}


def test_rates_from_two_reads(tmp_path: Path) -> None:
    devices, _ = nic_tree(tmp_path)
    paths = interrupt_paths(pciexplore.open(str(devices)))
    interrupts = devices.parent / "proc" / "interrupts"
    clock = iter([0.0, 2.0])

    def bump(_: float) -> None:  # 8 more interrupts on IRQ 51 while "two seconds" pass
        interrupts.write_text(interrupts.read_text().replace(
            _proc_line(51, [10, 1, 0], NIC, 1, "eth0-rx-0"), _proc_line(51, [18, 1, 0], NIC, 1, "eth0-rx-0")))

    paths.sample(2.0, sleep=bump, clock=lambda: next(clock))
    assert [p.rate for p in paths.vectors] == [0.0, 4.0, 0.0, 0.0, 0.0]


def test_cpulist_round_trip() -> None:
    for cpus in ([0], [0, 1, 2, 3], [0, 2, 3, 4, 7], [1, 5, 6, 64, 65]):
        assert kernel.parse_cpulist(cpulist(cpus)) == cpus
    assert cpulist([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8"
    assert kernel.parse_cpulist("\n") == []


def test_cli_path_exit_status_and_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    devices, _ = nic_tree(tmp_path)
    page = tmp_path / "p.html"
    rc = main(["irqs", "--path", str(devices), "--html", str(page)])
    out = capsys.readouterr().out
    assert rc == 1  # a disagreement
    assert "IRQ 53 → eth0-rx-1" in out and "[disagrees:" in out
    assert page.read_text().startswith("<!doctype html>") and "<svg" in page.read_text()
    assert main(["irqs", "--path", "--json", str(devices)]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["apic_ids"] == {"0": 0, "1": 1, "2": 4} and doc["cpus"] == ["CPU0", "CPU1", "CPU2"]
    assert [(v["irq"], v["check"]) for v in doc["vectors"]][3] == (53, DISAGREES)


def test_msi_message_from_config_space_and_the_irq_file(tmp_path: Path) -> None:
    """MSI: the message is in config space, which a real host lets root read even when BARs are out of
    reach; sysfs `irq` then holds the first MSI IRQ (sysfs-bus-pci ABI)."""
    fn = pciexplore.open(str(corpus_file("realworld/intel-57a1-nic-xxx.lspci"))).functions()[0]
    cfg = bytearray(fn.config)
    r, cap = fn.msi.regs(), fn.cap("msi").offset
    cfg[cap + 2] |= 1  # PCI_MSI_FLAGS_ENABLE
    cfg[cap + 4 : cap + 8] = (0xFEE04000).to_bytes(4, "little")  # APIC 4
    cfg[r.address_hi_at : r.address_hi_at + 4] = bytes(4)
    cfg[r.data_at : r.data_at + 2] = (0x4025).to_bytes(2, "little")
    devices = build_tree(tmp_path / "sys", [(fn.address, bytes(cfg))])
    (devices / str(fn.address) / "irq").write_text("60\n")
    write_msi_irqs(devices, fn.address, {60: "msi"})
    write_proc(tmp_path / "sys", "           CPU0       CPU1       CPU2\n"
               + _proc_line(60, [0, 0, 7], str(fn.address), 0, "eno1", "PCI-MSI"),
               {60: ([0, 1, 2], [2], "eno1")}, {0: 0, 1: 1, 2: 4})
    paths = interrupt_paths(pciexplore.open(str(devices)))
    (p,) = paths.vectors
    assert (p.mode, p.entry, p.address, p.data, p.dest_apic) == ("msi", 0, 0xFEE04000, 0x4025, 4)
    assert p.check == AGREES and p.effective_apics == [4] and p.handler == "eno1" and p.total == 7
    assert f"{fn.address}: sysfs irq 60 is its first MSI IRQ (MSI is enabled)" in "\n".join(paths.notes)


def test_widget_redraws_counts_and_rates(tmp_path: Path) -> None:
    from pciexplore.widgets import InterruptPathView

    devices, _ = nic_tree(tmp_path)
    view = InterruptPathView(pciexplore.open(str(devices)))
    assert "1 message(s) disagree" in view.status.value and "eth0-rx-0" in view.picture.value
    interrupts = devices.parent / "proc" / "interrupts"
    interrupts.write_text(interrupts.read_text().replace(
        _proc_line(51, [10, 1, 0], NIC, 1, "eth0-rx-0"), _proc_line(51, [1010, 1, 0], NIC, 1, "eth0-rx-0")))
    view.poll()
    assert "1011 interrupts" in view.picture.value and view.paths.vectors[1].rate > 0
    view.start(0.01, samples=2)
    view.stop()

    def vanished(*_a, **_k):
        raise FileNotFoundError(f"{devices}/0000:00:19.0/msi_irqs: No such file or directory")

    view.paths.sample = vanished  # the device goes away: the refresh ends and says why, the kernel goes on
    view.start(0.01, samples=5)
    view._poller._thread.join(timeout=5)
    assert view.status.value.startswith("<small style='color:#b00020'>stopped: ") and "msi_irqs" in view.status.value
    view.stop()

"""Link health and errors: the downgrade decision against lspci's own '(downgraded)' marks on every corpus
dump, the kernel's AER counter format (a literal as drivers/pci/pcie/aer.c prints it), sysfs-like trees with
a downgraded link, AER counters and root port totals, a triggered DPC read back by lspci, the doctor,
`pciexplore health` and the `ls` column."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

import pciexplore
from pciexplore.cli import main
from pciexplore.doctor import diagnose
from pciexplore.errors import InputError
from pciexplore.health import health, parse_aer_counters, summary
from pciexplore.sources.fake_kernel import AER_CORRECTABLE, aer_text, write_aer, write_link
from pciexplore.sources.fake_sysfs import build_tree
from tests.conftest import corpus_dumps, corpus_file

PHY32 = "pciutils-tests/cap-phy32.lspci"  # NVMe endpoint: LnkCap 32GT/s x2, LnkSta 16GT/s x2


def _lspci_links(path: Path) -> dict[str, tuple[str, str]]:
    """bdf -> (LnkSta speed word, width word) as lspci -vv prints them, '(downgraded)' kept."""
    out = subprocess.run(["lspci", "-vv", "-F", str(path)], capture_output=True, text=True).stdout
    links, dev = {}, None
    for line in out.splitlines():
        if line and not line[0].isspace():
            dev = line.split()[0]
        m = re.match(r"\s+LnkSta:\s+Speed ([^,]+), Width (x\d+[^,]*)", line)
        if m and dev:
            links[dev] = (m[1], m[2])
    return links


@pytest.mark.lspci
@pytest.mark.parametrize("dump", corpus_dumps(), ids=lambda p: p.name)
def test_downgrade_matches_lspci(dump: Path) -> None:
    lspci = _lspci_links(dump)
    src = pciexplore.open(str(dump))
    for fn in src.functions():
        h = health(fn)
        bdf = str(fn.address)
        key = bdf if bdf in lspci else bdf[5:]
        if key not in lspci or h.link is None:
            continue
        speed, width = lspci[key]
        assert h.link.speed_downgraded == ("(downgraded)" in speed), (bdf, speed, h.link)
        assert h.link.width_downgraded == ("(downgraded)" in width), (bdf, width, h.link)
        assert width.startswith(f"x{h.link.width}")


AER_CORRECTABLE_AS_PRINTED = """\
RxErr 2
BadTLP 0
BadDLLP 5
Rollover 0
dev_cor_errs_bit[10] 1
Timeout 0
NonFatalErr 0
CorrIntErr 0
HeaderOF 0
TOTAL_ERR_COR 8
"""


def test_aer_counter_format() -> None:
    # drivers/pci/pcie/aer.c, in bit order: every named bit "%s %llu", unnamed bits only when counted, then TOTAL_
    assert aer_text(AER_CORRECTABLE, 16, "dev_cor_errs", "ERR_COR", {0: 2, 7: 5, 10: 1}) == AER_CORRECTABLE_AS_PRINTED
    c = parse_aer_counters(AER_CORRECTABLE_AS_PRINTED)
    assert (c.total, c.counts["RxErr"], c.counts["BadDLLP"], c.counts["dev_cor_errs_bit[10]"]) == (8, 2, 5, 1)
    with pytest.raises(InputError, match=r"aer_dev_fatal:2: expected 'NAME COUNT'") as e:
        parse_aer_counters("Undefined 0\ngarbage\n", "aer_dev_fatal")
    assert "\n" not in str(e.value)


def phy32_tree(tmp_path: Path) -> tuple[Path, pciexplore.Function]:
    fn = pciexplore.open(str(corpus_file(PHY32))).functions()[0]
    devices = build_tree(tmp_path / "sys", [(fn.address, fn.config)])
    write_link(devices, fn.address, current=(4, 2), maximum=(5, 2))
    write_aer(devices, fn.address, correctable={0: 3, 6: 1}, nonfatal={20: 2})
    return devices, fn


def test_fake_tree_link_and_aer(tmp_path: Path) -> None:
    devices, fn = phy32_tree(tmp_path)
    h = health(pciexplore.open(str(devices)).function(fn.address))
    assert h.sysfs_link == {"current_link_speed": "16.0 GT/s PCIe", "current_link_width": "2",
                            "max_link_speed": "32.0 GT/s PCIe", "max_link_width": "2"}
    assert (h.link.speed, h.link.max_speed, h.link.width, h.link.max_width) == (4, 5, 2, 2)
    assert h.link.speed_downgraded and not h.link.width_downgraded
    assert h.link.bandwidth_share == pytest.approx(0.5)  # same 128b/130b code at 16 and 32 GT/s
    assert h.notes == []  # the kernel's files tell what config space tells
    write_link(devices, fn.address, current=(3, 1), maximum=(5, 2))  # the link retrained since
    notes = health(pciexplore.open(str(devices)).function(fn.address)).notes
    assert notes == ["sysfs current_link_speed is '8.0 GT/s PCIe' but config space says 16GT/s (read at another "
                     "moment, or the link retrained)",
                     "sysfs current_link_width is '1' but config space says 2 (read at another moment, or the link "
                     "retrained)"]
    assert (h.aer["aer_dev_correctable"].total, h.aer["aer_dev_correctable"].counts["BadTLP"]) == (4, 1)
    assert h.aer["aer_dev_nonfatal"].counts["UnsupReq"] == 2 and h.aer["aer_dev_fatal"].total == 0
    found = {f.check: f for f in diagnose(pciexplore.open(str(devices)))}
    assert found["link_downgraded"].severity == "warning" and "50% of the bandwidth" in found["link_downgraded"].message
    assert found["link_downgraded"].offset == fn.cap("exp").offset + 0x12  # PCI_EXP_LNKSTA
    assert "UnsupReq 2" in [f for f in diagnose(pciexplore.open(str(devices))) if f.severity == "error"][0].message
    assert summary(pciexplore.open(str(devices)).function(fn.address)) == "link:16GT/sx2<32GT/sx2,cor:4,non:2"


def test_sysfs_speed_strings() -> None:
    from pciexplore.health import sysfs_speed

    # pci_speed_string today, and the older kernels' "%s GT/s" spellings
    assert [sysfs_speed(t) for t in ("2.5 GT/s PCIe", "5.0 GT/s PCIe", "8 GT/s", "64.0 GT/s PCIe", "Unknown",
                                     "33 MHz PCI")] == [1, 2, 3, 6, None, None]


def test_width_downgrade_and_share() -> None:
    from pciexplore.health import Link
    from pciexplore.regs.caps.express import PCI_EXP_TYPE_ENDPOINT, PCI_EXP_TYPE_ROOT_PORT

    link = Link(PCI_EXP_TYPE_ENDPOINT, 1, 4, 3, 16)  # 2.5GT/s x4 of 8GT/s x16
    assert link.width_downgraded and link.speed_downgraded
    assert link.bandwidth_share == pytest.approx((2.5 * 0.8 * 4) / (8 * 128 / 130 * 16))
    assert not Link(PCI_EXP_TYPE_ROOT_PORT, 1, 4, 3, 16).width_downgraded  # the partner limits a root port


def _root_port_with_dpc() -> bytes:
    """A type 1 root port: Express capability v2 at 0x40, AER at 0x100, DPC at 0x140 with its trigger set."""
    cfg = bytearray(4096)
    cfg[0:4] = (0x8086 | 0x1234 << 16).to_bytes(4, "little")
    cfg[0x06] = 0x10  # capability list
    cfg[0x0A:0x0C] = b"\x04\x06"  # PCI bridge
    cfg[0x0E] = 1
    cfg[0x34] = 0x40
    cfg[0x40:0x44] = bytes([0x10, 0x00, 0x42, 0x00])  # Express, v2, Root Port
    cfg[0x4C:0x50] = (3 | 4 << 4).to_bytes(4, "little")  # LnkCap 8GT/s x4
    cfg[0x52:0x54] = (1 | 1 << 4 | 1 << 13).to_bytes(2, "little")  # LnkSta 2.5GT/s x1 (a root port: not marked)
    cfg[0x100:0x104] = (0x0001 | 2 << 16 | 0x140 << 20).to_bytes(4, "little")  # AER v2 -> 0x140
    cfg[0x104:0x108] = (1 << 20).to_bytes(4, "little")  # UESta: UnsupReq
    cfg[0x140:0x144] = (0x001D | 1 << 16).to_bytes(4, "little")  # DPC v1, last
    cfg[0x148:0x14A] = (1 | 1 << 1).to_bytes(2, "little")  # DpcSta: Trigger+, reason 1 (ERR_NONFATAL)
    cfg[0x14A:0x14C] = (0x0100).to_bytes(2, "little")  # source 01:00.0
    return bytes(cfg)


@pytest.mark.lspci
def test_dpc_and_latched_errors_against_lspci(tmp_path: Path) -> None:
    cfg = _root_port_with_dpc()
    dump = tmp_path / "rp.lspci"
    dump.write_text("00:1c.0 PCI bridge: Intel Corporation Device 1234\n" + "".join(
        f"{off:03x}: " + " ".join(f"{b:02x}" for b in cfg[off : off + 16]) + "\n" for off in range(0, 4096, 16)))
    out = subprocess.run(["lspci", "-vv", "-F", str(dump)], capture_output=True, text=True).stdout
    assert re.search(r"DpcSta:\s+Trigger\+ Reason:01", out) and "UESta:" in out and "UnsupReq+" in out
    h = health(pciexplore.open(str(dump)).functions()[0])
    assert h.dpc_triggered and h.dpc_source == 0x0100 and h.uncor_status == 1 << 20
    assert not h.link.speed_downgraded  # root port: lspci prints no '(downgraded)' either
    assert "(downgraded)" not in out
    checks = {f.check: f for f in diagnose(pciexplore.open(str(dump)))}
    assert checks["dpc_triggered"].severity == "error" and "01:00.0" in checks["dpc_triggered"].message
    assert checks["aer_uncorrectable_latched"].offset == 0x104


def test_rootport_totals_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    devices = build_tree(tmp_path / "sys", [(pciexplore.Address(0, 0, 0x1C, 0), _root_port_with_dpc())])
    write_aer(devices, pciexplore.Address(0, 0, 0x1C, 0), rootport=(7, 0, 1))
    assert main(["health", "--json", str(devices)]) == 1  # DPC: an error
    doc = json.loads(capsys.readouterr().out)
    assert doc[0]["rootport"] == {"aer_rootport_total_err_cor": 7, "aer_rootport_total_err_nonfatal": 1,
                                  "aer_rootport_total_err_fatal": 0}
    assert {f["check"] for f in doc[0]["findings"]} >= {"dpc_triggered", "aer_rootport"}
    assert main(["ls", str(devices)]) == 0
    line = capsys.readouterr().out.split()
    assert line[4] == "UESta:0x100000,dpc"  # the health word after the driver ("-")
    assert main(["health", str(corpus_file(PHY32))]) == 0
    assert "speed downgraded: 50% of the bandwidth" in capsys.readouterr().out


@pytest.mark.lspci
@pytest.mark.skipif(not Path("/sys/bus/pci/devices").is_dir(), reason="no sysfs")
def test_this_host_links_and_files_against_lspci(capsys: pytest.CaptureFixture[str]) -> None:
    src = pciexplore.open(None)
    out = subprocess.run(["lspci", "-vv", "-D"], capture_output=True, text=True).stdout
    with_lnksta, dev = set(), None
    for line in out.splitlines():
        if line and not line[0].isspace():
            dev = line.split()[0]
        elif "LnkSta:" in line:
            with_lnksta.add(dev)
    ours = {str(fn.address) for fn in src.functions() if health(fn).link is not None}
    assert ours == with_lnksta  # this Firecracker guest: conventional PCI, no link at all
    for fn in src.functions():  # the kernel's own files, read here directly
        d = Path("/sys/bus/pci/devices") / str(fn.address)
        h = health(fn)
        assert set(h.sysfs_link) == {n for n in ("current_link_speed", "current_link_width", "max_link_speed",
                                                 "max_link_width") if (d / n).exists()}
        assert set(h.aer) == {n for n in ("aer_dev_correctable", "aer_dev_nonfatal", "aer_dev_fatal") if (d / n).exists()}
    assert main(["health"]) == 0
    if not with_lnksta:
        assert capsys.readouterr().out == f"no PCIe link or AER counters on the {len(src.functions())} functions\n"


def test_fifos_and_endless_files_in_a_tree_neither_hang_nor_grow(tmp_path: Path) -> None:
    """A sysfs-like tree is input: a FIFO as an AER or link file, or an affinity list, is skipped."""
    from pciexplore.msi import kernel
    from pciexplore.sources.kernel_files import read_kernel_file

    devices, fn = phy32_tree(tmp_path)
    d = devices / str(fn.address)
    for name in ("aer_dev_correctable", "current_link_speed"):
        (d / name).unlink()
        os.mkfifo(d / name)
    h = health(pciexplore.open(str(devices)).function(fn.address))  # returns: nothing blocks on a FIFO
    assert "aer_dev_correctable" not in h.aer and "current_link_speed" not in h.sysfs_link
    assert h.aer["aer_dev_nonfatal"].total == 2
    irq = tmp_path / "proc" / "irq" / "7"
    irq.mkdir(parents=True)
    os.mkfifo(irq / "smp_affinity_list")
    (irq / "effective_affinity_list").symlink_to("/dev/zero")
    assert (kernel.read_affinity(7, tmp_path / "proc").allowed, kernel.read_affinity(7, tmp_path / "proc").effective) \
        == (None, None)
    big = tmp_path / "big"
    big.write_bytes(b"0," * 100_000)
    assert len(read_kernel_file(big, 1000)) == 1000

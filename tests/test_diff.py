"""`diff`: field-level differences, checked against lspci's reading of the same bytes and the PCIe spec
(Command bit 2 Bus Master; MSI-X Message Control bit 14 Function Mask and bit 15 Enable; table entry
Vector Control bit 0 Mask; one PBA bit per vector)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import pciexplore
from pciexplore.address import Address
from pciexplore.capture import open_capture, take
from pciexplore.commands.export import lspci_text
from pciexplore.diff import diff
from pciexplore.sources.fake_sysfs import build_tree

REPO = Path(__file__).resolve().parents[1]
Q35 = "qemu/q35-e1000e-nvme-virtio.lspci"
E1000E = Address(0, 1, 0, 0)


@pytest.fixture
def pair(corpus, tmp_path):
    """Two saved copies of the q35 capture; the test edits the second one's bytes."""
    cap = take(pciexplore.open(corpus / Q35))
    return cap.save(tmp_path / "a.json"), cap.save(tmp_path / "b.json")


def _edit(path: Path, addr: str, offset: int, value: int, mask: int = 0xFF) -> None:
    doc = json.loads(path.read_text())
    fn = next(f for f in doc["functions"] if f["address"] == addr)
    cfg = bytearray.fromhex(fn["config"])
    cfg[offset] = (cfg[offset] & ~mask) | (value & mask)
    fn["config"] = cfg.hex()
    path.write_text(json.dumps(doc))


def _lspci_line(capture: Path, bdf: str, word: str, tmp_path: Path) -> str:
    dump = tmp_path / "x.lspci"
    dump.write_text(lspci_text(open_capture(capture)))
    out = subprocess.run(["lspci", "-F", str(dump), "-vvv", "-s", bdf], capture_output=True, text=True,
                         check=True).stdout
    return next(line for line in out.splitlines() if word in line)


@pytest.mark.lspci
def test_bus_master_cleared_is_named_and_lspci_agrees(pair, tmp_path):
    a, b = pair
    _edit(b, "0000:01:00.0", 0x04, 0, mask=0x04)  # PCI_COMMAND bit 2
    result = diff(str(a), str(b))
    assert [str(d) for d in result] == ["01:00.0 PCI_COMMAND_MASTER (BusMaster): 1 → 0"]
    assert "BusMaster+" in _lspci_line(a, "01:00.0", "Control:", tmp_path)
    assert "BusMaster-" in _lspci_line(b, "01:00.0", "Control:", tmp_path)


@pytest.mark.lspci
def test_msix_function_mask_and_enable(pair, tmp_path):
    a, b = pair
    msix = open_capture(a).function(E1000E).cap("msix").offset
    _edit(b, "0000:01:00.0", msix + 3, 0xC0, mask=0xC0)  # Message Control bits 15 (Enable) and 14 (Function Mask)
    lines = [str(d) for d in diff(str(a), str(b))]
    assert lines == ["01:00.0 PCI_MSIX_FLAGS_MASKALL (Masked): 0 → 1", "01:00.0 PCI_MSIX_FLAGS_ENABLE (Enable): 0 → 1"]
    assert "Enable- Count=5 Masked-" in _lspci_line(a, "01:00.0", "MSI-X:", tmp_path)
    assert "Enable+ Count=5 Masked+" in _lspci_line(b, "01:00.0", "MSI-X:", tmp_path)


def test_undeclared_bytes_are_still_reported(pair):
    a, b = pair
    assert open_capture(a).read_config(E1000E)[0x300] == 0
    _edit(b, "0000:01:00.0", 0x300, 0x5A)
    _edit(b, "0000:01:00.0", 0x301, 0x5B)
    assert [str(d) for d in diff(str(a), str(b))] == ["01:00.0 config 0x300-0x301: 00 00 → 5a 5b"]


def test_identical_and_missing_functions(pair, tmp_path):
    a, b = pair
    assert len(diff(str(a), str(b))) == 0
    doc = json.loads(b.read_text())
    doc["functions"] = [f for f in doc["functions"] if f["address"] != "0000:00:04.0"]
    b.write_text(json.dumps(doc))
    assert [str(d) for d in diff(str(a), str(b))] == ["00:04.0 present: yes → no"]


def _tree(root: Path, cfg: bytes, table: bytes, pba: bytes) -> Path:
    bar3 = bytearray(0x4000)
    bar3[: len(table)] = table
    bar3[0x2000: 0x2000 + len(pba)] = pba
    return build_tree(root, [(E1000E, cfg)], bar_sizes={E1000E: {0: 0x20000, 1: 0x20000, 3: 0x4000}},
                      bar_contents={(E1000E, 3): bytes(bar3)})


def _entry(address: int, data: int, masked: bool) -> bytes:
    return (address.to_bytes(4, "little") + bytes(4) + data.to_bytes(4, "little")
            + int(masked).to_bytes(4, "little"))


def test_msix_entries_and_pba_between_live_trees(corpus, tmp_path):
    cfg = pciexplore.open(corpus / Q35).function(E1000E).config
    before = [_entry(0xFEE00000, 0x4020 + n, masked=True) for n in range(5)]
    after = list(before)
    after[2] = _entry(0xFEE00000, 0x4022, masked=False)
    after[1] = _entry(0xFEE01000, 0x4099, masked=True)
    a = _tree(tmp_path / "a", cfg, b"".join(before), b"\x00")
    b = _tree(tmp_path / "b", cfg, b"".join(after), b"\x08")  # PBA bit 3: vector 3 pending
    result = diff(str(a), str(b))
    assert [str(d) for d in result] == [
        "01:00.0 MSI-X entry 1 Address: 0xfee00000 → 0xfee01000",
        "01:00.0 MSI-X entry 1 Data: 0x00004021 → 0x00004099",
        "01:00.0 MSI-X entry 2 Masked: yes → no",
        "01:00.0 MSI-X entry 3 Pending: no → yes",
    ]
    frame = result.to_frame()
    assert list(frame.columns) == ["function", "where", "name", "label", "old", "new", "offset"]
    assert frame.loc[2, "name"] == "PCI_MSIX_ENTRY_CTRL_MASKBIT" and frame.loc[2, "offset"] == 2 * 16 + 12
    # the same through captures of the two trees: read_bar serves the captured windows
    ca = take(pciexplore.open(a)).save(tmp_path / "a.json")
    cb = take(pciexplore.open(b)).save(tmp_path / "b.json")
    assert [str(d) for d in diff(str(ca), str(cb))] == [str(d) for d in result]


def test_dump_sources_say_why_the_table_was_not_compared(corpus):
    result = diff(str(corpus / Q35), str(corpus / Q35))
    assert len(result) == 0
    assert any("01:00.0: MSI-X table and PBA not compared" in n and "cannot read BAR 3" in n for n in result.notes)


def test_cli_exit_status_and_json(pair):
    a, b = pair

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "pciexplore", "diff", *args], capture_output=True, text=True,
                              cwd=REPO, timeout=60)

    same = cli(str(a), str(b))
    assert same.returncode == 0 and same.stdout.startswith("no differences")
    _edit(b, "0000:00:02.0", 0x3C, 0x0B)  # PCI_INTERRUPT_LINE
    changed = cli(str(a), str(b), "--json")
    assert changed.returncode == 1
    doc = json.loads(changed.stdout)
    assert [(d["function"], d["name"], d["old"], d["new"]) for d in doc["differences"]] == [
        ("00:02.0", "PCI_INTERRUPT_LINE", "0x00", "0x0b")]


@pytest.mark.qemu
def test_qemu_before_and_after_setting_function_mask(tmp_path):
    # QEMU's msix.c makes Enable and Function Mask (bits 15, 14 of Message Control) writable
    with pciexplore.open("qemu:e1000e") as src:
        fn = next(f for f in src if f.device_id == 0x10D3)
        before = take(src)
        msix = fn.cap("msix").offset
        ctl = fn.read(msix + 2, 2)
        src.write_config(fn.address, msix + 2, (ctl | 0xC000).to_bytes(2, "little"))
        after = take(src)
    bdf = fn.address.short
    lines = [str(d) for d in diff(before, after)]
    assert f"{bdf} PCI_MSIX_FLAGS_MASKALL (Masked): 0 → 1" in lines
    assert f"{bdf} PCI_MSIX_FLAGS_ENABLE (Enable): 0 → 1" in lines


def test_two_functions_of_two_captures(pair):
    a, b = pair
    result = diff(str(a), str(b), "01:00.0", "02:00.0")  # e1000e against nvme
    lines = [str(d) for d in result]
    assert "01:00.0/02:00.0 PCI_VENDOR_ID (Vendor): 0x8086 → 0x1b36" in lines
    assert "01:00.0/02:00.0 msi (capability): present → absent" in lines  # QEMU's nvme has no MSI capability
    # MSI-X sits at 0xa0 in one and 0x40 in the other: still compared register by register
    assert "01:00.0/02:00.0 msix (capability offset): 0xa0 → 0x40" in lines
    assert "01:00.0/02:00.0 PCI_MSIX_FLAGS_QSIZE (Count): 4 → 0x40" in lines  # 5 and 65 vectors

"""The live-host path on fake sysfs trees whose resourceN are regular files, so the real mmap code
(python-periphery MMIO) runs: reading the MSI-X table and PBA, writes only after the opt-in, each
shown before it is done, journaled (JSON lines) and undoable."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from conftest import tree_from_sim

import pciexplore
from pciexplore.errors import NotSupported, PciError, ReadOnlyError
from pciexplore.sources.live_writes import Journal
from pciexplore.sources.sysfs import SysfsSource


def resource(root: Path, bar: int) -> Path:
    return root / "0000:00:02.0" / f"resource{bar}"


def test_table_and_pba_read_through_mmap(tmp_path: Path) -> None:
    root, sim = tree_from_sim(tmp_path, "sim:nic,vectors=64,driver")
    dev = sim.devices[sim.functions()[0].address]
    dev._set_pending(5, True)  # a pending bit, written into the file below
    dev._set_pending(63, True)
    resource(root, 3).write_bytes(bytes(dev.bar_mem[3]))
    fn = SysfsSource(root).functions()[0]
    t = fn.msix.table
    raw = resource(root, 3).read_bytes()
    for v in range(64):  # the reference: the file's bytes unpacked per the spec's entry layout
        lo, hi, data, ctrl = struct.unpack_from("<4I", raw, 16 * v)
        assert (t.loc[v, "address"], t.loc[v, "data"], t.loc[v, "ctrl"]) == (lo | hi << 32, data, ctrl)
    assert list(t.index[t["pending"]]) == [5, 63]
    assert fn.msix.checks() == []  # table and PBA inside BAR 3 as sysfs `resource` sizes it


def test_read_only_by_default(tmp_path: Path) -> None:
    root, _ = tree_from_sim(tmp_path)
    fn = SysfsSource(root).functions()[0]
    before = resource(root, 3).read_bytes()
    with pytest.raises(ReadOnlyError, match="allow_writes=True") as e:
        fn.msix.mask(2)
    assert "\n" not in str(e.value)
    assert resource(root, 3).read_bytes() == before


def test_write_is_shown_journaled_and_undone(tmp_path: Path) -> None:
    root, _ = tree_from_sim(tmp_path)
    shown: list[str] = []
    journal = tmp_path / "j" / "writes.jsonl"
    src = pciexplore.open(str(root), allow_writes=True, journal=journal, announce=shown.append)
    fn = src.functions()[0]
    m = fn.msix
    m.mask(2)
    assert shown == ["write 0000:00:02.0 BAR 3 offset 0x2c (4 bytes): 0x00000000 → 0x00000001"]
    assert resource(root, 3).read_bytes()[0x2C:0x30] == b"\x01\x00\x00\x00"
    m.mask_all()  # config: Message Control at 0xb2, 0x8004 -> 0xc004
    assert shown[-1] == "write 0000:00:02.0 config offset 0xb2 (2 bytes): 0x8004 → 0xc004"
    assert (root / "0000:00:02.0" / "config").read_bytes()[0xB2:0xB4] == b"\x04\xc0"
    lines = [json.loads(x) for x in journal.read_text().splitlines()]
    assert [(e["seq"], e["space"], e["offset"], e["old"], e["new"]) for e in lines if "device" in e] == [
        (0, "bar", 0x2C, "00000000", "01000000"), (1, "config", 0xB2, "0480", "04c0")]
    # each write's outcome is recorded after it
    assert [(e["seq"], e["outcome"]) for e in lines if "device" not in e] == [(0, "done"), (1, "done")]
    assert {e.get("root") for e in lines if "device" in e} == {str(root.resolve())}
    assert sorted(p.name for p in journal.parent.iterdir()) == ["writes.jsonl", "writes.jsonl.lock"]
    src.undo(2)
    assert (root / "0000:00:02.0" / "config").read_bytes()[0xB2:0xB4] == b"\x04\x80"
    assert resource(root, 3).read_bytes()[0x2C:0x30] == bytes(4)
    assert [e.undoes for e in Journal(journal).entries()] == [None, None, 1, 0]
    assert shown[-1].startswith("undo #0: write 0000:00:02.0 BAR 3 offset 0x2c")
    with pytest.raises(PciError, match="nothing to undo"):
        src.undo()


def test_confirm_can_refuse_and_undo_refuses_changed_bytes(tmp_path: Path) -> None:
    root, _ = tree_from_sim(tmp_path)
    journal = tmp_path / "w.jsonl"
    no = pciexplore.open(str(root), allow_writes=True, journal=journal, announce=lambda s: None,
                         confirm=lambda w: False)
    with pytest.raises(ReadOnlyError, match="refused"):
        no.functions()[0].msix.unmask(0)
    assert not journal.exists()
    src = pciexplore.open(str(root), allow_writes=True, journal=journal, announce=lambda s: None)
    src.functions()[0].msix.mask(1)
    with open(resource(root, 3), "r+b") as f:  # someone else changes the same bytes
        f.seek(0x1C)
        f.write(b"\x03\x00\x00\x00")
    with pytest.raises(PciError, match="not undoing #0"):
        src.undo()
    src.undo(force=True)
    assert resource(root, 3).read_bytes()[0x1C:0x20] == bytes(4)


def test_bad_journal_is_a_one_line_error(tmp_path: Path) -> None:
    journal = tmp_path / "w.jsonl"
    journal.write_text('{"seq": 0}\nnot json\n')
    with pytest.raises(PciError, match="not a write record") as e:
        Journal(journal).entries()
    assert e.value.line == 1 and "\n" not in str(e.value)


@pytest.mark.skipif(not Path("/sys/bus/pci/devices").is_dir(), reason="no sysfs")
def test_live_host_says_why_bars_are_unreadable() -> None:
    src = SysfsSource()
    with_msix = [fn for fn in src.functions() if fn.msix is not None]
    if not with_msix:
        pytest.skip("no MSI-X function on this host")
    fn = with_msix[0]
    bir = fn.msix.regs().table_bir
    if (Path(src._dirs[fn.address]) / f"resource{bir}").exists():
        pytest.skip("this host has resourceN files")
    with pytest.raises(NotSupported, match=f"resource{bir} does not exist") as e:
        _ = fn.msix.table
    assert "\n" not in str(e.value)
    assert fn.msix.size >= 1  # the capability itself still reads from config space


def test_story_says_when_messages_cannot_be_seen(tmp_path: Path) -> None:
    root, _ = tree_from_sim(tmp_path)
    src = pciexplore.open(str(root), allow_writes=True, journal=tmp_path / "w.jsonl", announce=lambda s: None)
    m = src.functions()[0].msix
    m.mask(0)
    m.unmask(0)
    assert m.deliveries is None
    assert str(m.log).splitlines()[-1] == "unmask(0): nothing pending → (this source cannot observe messages)"

"""The journal of live writes cannot lie: two processes writing at once keep every record, a kill -9 at
any moment leaves a journal that undo can trust and no temporary files, a failed write is recorded as
failed, undo never crosses from one sysfs tree into another, and the file rotates."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import tree_from_sim

from pciexplore.errors import DeviceGone, PciError
from pciexplore.sources.live_writes import Journal, LiveWrite
from pciexplore.sources.sysfs import SysfsSource

REPO = Path(__file__).resolve().parents[1]
DEV = "0000:00:02.0"

# A child that writes config byte OFFSET again and again (value i & 0xff) through the journaled path.
WRITER = r"""
import sys
from pciexplore.address import Address
from pciexplore.sources.sysfs import SysfsSource
root, journal, offset, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
src = SysfsSource(root, allow_writes=True, journal=journal, announce=lambda s: None)
addr = Address.parse("0000:00:02.0")
print("ready", flush=True)
i = 0
while count < 0 or i < count:
    src.write_config(addr, offset, bytes([(i + 1) & 0xFF]))
    i += 1
"""


def writer(root: Path, journal: Path, offset: int, count: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(journal), str(offset), str(count)],
                            cwd=REPO, stdout=subprocess.PIPE, text=True, env=env)


def config(root: Path) -> bytes:
    return (root / DEV / "config").read_bytes()


def writes(journal: Path) -> list:
    return [e for e in Journal(journal).entries() if e.undoes is None]


def open_rw(root: Path, journal: Path) -> SysfsSource:
    return SysfsSource(root, allow_writes=True, journal=journal, announce=lambda s: None)


def test_two_processes_at_once_lose_nothing(tmp_path: Path) -> None:
    root, _ = tree_from_sim(tmp_path)
    journal = tmp_path / "j" / "w.jsonl"
    original = config(root)
    children = [writer(root, journal, 0x60 + k, 300) for k in range(2)]
    for child in children:
        assert child.wait(timeout=300) == 0
        child.stdout.close()
    entries = Journal(journal).entries()
    assert len(entries) == 600
    assert sorted(e.seq for e in entries) == list(range(600))
    assert {e.outcome for e in entries} == {"done"}
    for offset in (0x60, 0x61):  # each write's "old" is what the write before it at that byte left
        chain = [e for e in entries if e.offset == offset]
        assert len(chain) == 300
        assert [e.old for e in chain[1:]] == [e.new for e in chain[:-1]]
        assert chain[0].old == original[offset : offset + 1].hex()
    open_rw(root, journal).undo(600)
    assert config(root) == original


def test_kill_9_at_any_moment_leaves_a_journal_undo_can_trust(tmp_path: Path) -> None:
    root, _ = tree_from_sim(tmp_path)
    journal = tmp_path / "j" / "w.jsonl"
    original = config(root)
    rng = random.Random(20)
    for _ in range(8):
        child = writer(root, journal, 0x60, -1)
        try:
            assert child.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.05, 0.3))
            assert child.poll() is None
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
            child.stdout.close()
        # every record still parses and nothing but the journal and its lock is in the directory
        Journal(journal).entries()
        assert [p.name for p in journal.parent.iterdir() if p.name not in ("w.jsonl", "w.jsonl.lock")] == []
    done = writes(journal)
    assert len(done) > 8  # the children did write before they were killed
    open_rw(root, journal).undo(len(done))  # refuses if any record disagrees with the bytes
    assert config(root) == original


def test_a_failed_write_is_journaled_as_failed_and_never_undone(tmp_path: Path, monkeypatch) -> None:
    root, _ = tree_from_sim(tmp_path)
    journal = tmp_path / "w.jsonl"
    src = open_rw(root, journal)
    fn = src.functions()[0]
    before = config(root)

    def eio(fd: int, data: bytes, offset: int) -> int:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "pwrite", eio)
    with pytest.raises(DeviceGone, match="config write failed"):
        src.write_config(fn.address, 0x60, b"\x5a")
    monkeypatch.undo()
    [entry] = Journal(journal).entries()
    assert entry.outcome.startswith("failed: ") and "Input/output error" in entry.outcome
    assert config(root) == before
    with pytest.raises(PciError, match="nothing to undo"):
        src.undo()


def test_undo_never_crosses_into_another_tree(tmp_path: Path) -> None:
    a, _ = tree_from_sim(tmp_path / "a")
    b, _ = tree_from_sim(tmp_path / "b")
    journal = tmp_path / "shared.jsonl"  # one journal for both trees, as the default one is
    original = config(a)
    open_rw(a, journal).write_config(open_rw(a, journal).functions()[0].address, 0x60, b"\x01")
    src_b = open_rw(b, journal)
    src_b.write_config(src_b.functions()[0].address, 0x60, b"\x02")
    open_rw(a, journal).undo()  # the newest write in the journal is b's: a must revert its own
    assert config(a) == original
    assert config(b)[0x60] == 2
    with pytest.raises(PciError, match="nothing to undo"):
        open_rw(a, journal).undo()
    src_b.undo()
    assert config(b) == original


def test_undo_of_a_write_whose_process_died_before_writing_skips_it(tmp_path: Path) -> None:
    root, _ = tree_from_sim(tmp_path)
    journal = tmp_path / "w.jsonl"
    src = open_rw(root, journal)
    addr = src.functions()[0].address
    original = config(root)
    src.write_config(addr, 0x60, b"\x07")
    # what a kill -9 between the record and the write leaves: a record without outcome, bytes unchanged
    j = Journal(journal)
    j.append(LiveWrite(j.next_seq(), DEV, "config", None, 0x60, "07", "09", 0.0, None, str(root.resolve())))
    src.undo()  # skips the write that never happened, reverts the one before it
    assert config(root) == original


def test_journal_rotates_and_undo_reaches_rotated_files(tmp_path: Path) -> None:
    root, _ = tree_from_sim(tmp_path)
    path = tmp_path / "j" / "w.jsonl"
    journal = Journal(path, max_bytes=4096, keep=2)
    src = SysfsSource(root, allow_writes=True, journal=journal, announce=lambda s: None)
    addr = src.functions()[0].address
    original = config(root)
    for i in range(60):
        src.write_config(addr, 0x60, bytes([i + 1]))
    names = sorted(p.name for p in path.parent.iterdir())
    assert names == ["w.jsonl", "w.jsonl.1", "w.jsonl.2", "w.jsonl.lock"]
    assert all(p.stat().st_size <= 4096 for p in journal.files())
    entries = journal.entries()
    assert entries[-1].seq == 59 and [e.seq for e in entries] == list(range(entries[0].seq, 60))
    src.undo(len(entries))
    assert entries[0].seq > 0  # the oldest writes went with the rotation
    assert config(root)[0x60] == int(entries[0].old, 16) != original[0x60]


def test_a_torn_last_record_is_dropped_not_glued(tmp_path: Path) -> None:
    root, _ = tree_from_sim(tmp_path)
    journal = tmp_path / "w.jsonl"
    src = open_rw(root, journal)
    addr = src.functions()[0].address
    src.write_config(addr, 0x60, b"\x07")
    with open(journal, "ab") as f:  # a power cut in the middle of appending the next record
        f.write(b'{"bar": null, "device": "0000:00:02.0", "new": "08"')
    assert len(Journal(journal).entries()) == 1
    src.write_config(addr, 0x60, b"\x08")
    assert [e.new for e in Journal(journal).entries()] == ["07", "08"]


def test_no_journal_no_write(tmp_path: Path) -> None:
    root, _ = tree_from_sim(tmp_path)
    (tmp_path / "file").write_text("")
    src = open_rw(root, tmp_path / "file" / "w.jsonl")  # the journal cannot be made: under a plain file
    before = config(root)
    with pytest.raises(PciError, match="cannot open the journal's lock") as e:
        src.write_config(src.functions()[0].address, 0x60, b"\x01")
    assert "\n" not in str(e.value)
    assert config(root) == before

"""The journal of live writes: N config writes on a fake sysfs tree, each journaled (record, write,
outcome), against the previous design, which rewrote the whole journal through a temporary file for
every record (O(n) per write, O(n²) in all).  Both run here, in one run, at each doubling.

    python bench/journal.py [N ...]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pciexplore.address import Address  # noqa: E402
from pciexplore.sources.fake_sysfs import build_tree  # noqa: E402
from pciexplore.sources.live_writes import Journal, LiveWrite  # noqa: E402
from pciexplore.sources.sysfs import SysfsSource  # noqa: E402

ADDR = Address(0, 0, 2, 0)


class RewritingJournal(Journal):
    """The previous design, kept here only as the reference: read all, append, rewrite through a temp file."""

    def next_seq(self) -> int:
        entries = self.entries()
        return entries[-1].seq + 1 if entries else 0

    def _append(self, record: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        old = self.path.read_bytes() if self.path.exists() else b""
        fd, tmp = tempfile.mkstemp(prefix=".journal-", dir=self.path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(old + json.dumps(record, sort_keys=True).encode() + b"\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def append(self, entry: LiveWrite) -> None:
        record = asdict(entry)
        del record["outcome"]
        self._append(record)


def run(n: int, journal_class: type[Journal], tmp: Path) -> float:
    root = build_tree(tmp / f"{journal_class.__name__}-{n}", [(ADDR, bytes(4096))])
    journal = journal_class(tmp / f"{journal_class.__name__}-{n}.jsonl", max_bytes=1 << 40)
    src = SysfsSource(root, allow_writes=True, journal=journal, announce=lambda s: None)
    t0 = time.perf_counter()
    for i in range(n):
        src.write_config(ADDR, 0x40 + i % 64, bytes([i & 0xFF]))
    return time.perf_counter() - t0


def main(sizes: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'writes':>6}  {'appending (now)':>16}  {'per write':>9}  {'rewriting (before)':>18}  {'ratio':>6}")
        for n in sizes:
            now = run(n, Journal, Path(tmp))
            before = run(n, RewritingJournal, Path(tmp)) if n <= 2000 else None
            ratio = f"{before / now:6.1f}" if before else "     -"
            before_text = f"{before:17.2f}s" if before else f"{'(not run)':>18}"
            print(f"{n:6d}  {now:15.2f}s  {now / n * 1e3:7.2f}ms  {before_text}  {ratio}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [500, 1000, 2000, 4000, 8000])

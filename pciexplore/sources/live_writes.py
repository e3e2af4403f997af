"""Writes to a live host, only after an explicit opt-in: `pciexplore.open("sysfs", allow_writes=True)`.

Every write is shown before it is done (device, config or BAR, offset, old → new), may be refused by a
`confirm` callback, is journaled *before* it is done and its outcome ("done" or why it failed) after,
and can be undone: `source.undo()` writes the old bytes back, after checking nobody changed them since.

The journal is JSON lines, appended (one `write` per record, then fsync) under an exclusive lock on a
lock file beside it, so two processes cannot lose each other's records and each write costs the same
however long the journal is.  Each record names the sysfs root it was written under; undo only ever
considers the records of its own root.  The file rotates at `max_bytes` (`.1` … `.keep` kept and still
undoable).  A write and its two records happen under the lock, so the old value is read by the same
holder that writes it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..address import Address
from ..capture.atomic import fsync_dir
from ..errors import DeviceGone, NotSupported, PciError, ReadOnlyError
from ..words import plural
from .bar_access import write_window

if TYPE_CHECKING:
    from .sysfs import SysfsSource

DEFAULT_JOURNAL = Path.home() / ".local" / "state" / "pciexplore" / "live-writes.jsonl"
DONE = "done"


@dataclass(frozen=True, slots=True)
class LiveWrite:
    """One write as journaled: where, and the bytes before and after (hex); `outcome` is "done", "failed: …"
    or None when no outcome was recorded (the process died between the write and its record)."""

    seq: int
    device: str
    space: str  # "config" or "bar"
    bar: int | None
    offset: int
    old: str
    new: str
    time: float
    undoes: int | None = None  # seq of the write this one reverts
    root: str | None = None  # the sysfs root (resolved) the device belongs to; None in journals before roots
    outcome: str | None = None

    @property
    def failed(self) -> bool:
        return self.outcome is not None and self.outcome != DONE

    def __str__(self) -> str:
        where = "config" if self.space == "config" else f"BAR {self.bar}"
        width = len(self.old) // 2
        old = int.from_bytes(bytes.fromhex(self.old), "little")
        new = int.from_bytes(bytes.fromhex(self.new), "little")
        what = f"undo #{self.undoes}: " if self.undoes is not None else ""
        return (f"{what}write {self.device} {where} offset 0x{self.offset:x} ({plural(width, 'byte')}): "
                f"0x{old:0{2 * width}x} → 0x{new:0{2 * width}x}")


_FIELDS = {f.name for f in fields(LiveWrite)}


class Journal:
    """The JSON-lines journal at `path` (see the module docstring); `max_bytes` and `keep` bound its size."""

    def __init__(self, path: str | Path = DEFAULT_JOURNAL, max_bytes: int = 4 << 20, keep: int = 3) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.keep = keep
        self._lock_fd: int | None = None
        self._depth = 0

    # -- the lock: flock on `<journal>.lock`, which rotation never renames ----------------------------
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the journal's exclusive lock (re-entrant within this object)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        lock = self.path.with_name(self.path.name + ".lock")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            raise PciError(f"cannot open the journal's lock: {e.strerror}", file=str(lock)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._lock_fd, self._depth = fd, 1
            self._clean_stale()
            yield
        finally:
            self._lock_fd, self._depth = None, 0
            os.close(fd)  # closing drops the flock

    def _clean_stale(self) -> None:
        # temporary files of the former rewrite-the-whole-file journal that a kill -9 left behind
        for stale in self.path.parent.glob(".journal-*"):
            with contextlib.suppress(OSError):
                stale.unlink()

    # -- reading ------------------------------------------------------------------------------------
    def files(self) -> list[Path]:
        """The rotated files, oldest first, then the current one (those that exist)."""
        rotated = [self.path.with_name(f"{self.path.name}.{i}") for i in range(self.keep, 0, -1)]
        return [p for p in (*rotated, self.path) if p.exists()]

    def entries(self) -> list[LiveWrite]:
        """Every write record, oldest first, each with the outcome recorded after it."""
        writes: dict[int, LiveWrite] = {}
        outcomes: dict[int, str] = {}
        for path in self.files():
            try:
                data = path.read_bytes()
            except OSError as e:
                raise PciError(f"cannot read the journal: {e.strerror}", file=str(path)) from None
            lines = data.split(b"\n")
            complete = lines[:-1]  # a last line without its newline was cut by a crash mid-append: not a record
            for number, line in enumerate(complete, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    if "outcome" in record and "device" not in record:
                        outcomes[int(record["seq"])] = str(record["outcome"])
                    else:
                        entry = LiveWrite(**{k: v for k, v in record.items() if k != "outcome"})
                        writes[entry.seq] = entry
                except (ValueError, TypeError, KeyError) as e:
                    raise PciError(f"journal line is not a write record: {e}", file=str(path),
                                   line=number) from None
        return [replace(w, outcome=outcomes.get(seq)) for seq, w in writes.items()]

    def _last_seq(self) -> int | None:
        """The seq of the newest record, read from the tail of the newest non-empty file: O(1)."""
        for path in reversed(self.files()):
            try:
                with open(path, "rb") as f:
                    size = f.seek(0, os.SEEK_END)
                    f.seek(max(0, size - 65536))
                    tail = f.read()
            except OSError:
                continue
            for line in reversed(tail.split(b"\n")[:-1]):  # complete lines only
                try:
                    return int(json.loads(line)["seq"])
                except (ValueError, TypeError, KeyError):
                    continue
        return None

    def next_seq(self) -> int:
        with self.locked():
            last = self._last_seq()
            return 0 if last is None else last + 1

    # -- appending ----------------------------------------------------------------------------------
    def _append(self, record: dict) -> None:
        line = json.dumps(record, sort_keys=True).encode() + b"\n"
        with self.locked():
            try:
                size = self.path.stat().st_size
            except FileNotFoundError:
                size = 0
            if size and size + len(line) > self.max_bytes:
                self._rotate()
            created = not self.path.exists()
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            except OSError as e:
                raise PciError(f"cannot open the journal: {e.strerror}", file=str(self.path)) from None
            try:
                end = os.lseek(fd, 0, os.SEEK_END)
                if end and os.pread(fd, 1, end - 1) != b"\n":  # a record cut by a crash: its write never ran
                    os.ftruncate(fd, _after_last_newline(fd, end))
                if os.write(fd, line) != len(line):
                    raise OSError(28, "short write (disk full?)")
                os.fsync(fd)
            except OSError as e:
                raise PciError(f"cannot write the journal: {e.strerror}", file=str(self.path)) from None
            finally:
                os.close(fd)
            if created:
                fsync_dir(self.path.parent)

    def _rotate(self) -> None:
        names = [self.path, *(self.path.with_name(f"{self.path.name}.{i}") for i in range(1, self.keep + 1))]
        names[-1].unlink(missing_ok=True)
        for newer, older in zip(reversed(names[:-1]), reversed(names[1:]), strict=True):
            if newer.exists():
                os.replace(newer, older)
        fsync_dir(self.path.parent)

    def append(self, entry: LiveWrite) -> None:
        """Journal a write about to be done (its outcome comes later, with `record_outcome`)."""
        record = asdict(entry)
        del record["outcome"]
        self._append(record)

    def record_outcome(self, seq: int, outcome: str) -> None:
        self._append({"seq": seq, "outcome": outcome})


def _after_last_newline(fd: int, end: int) -> int:
    """Length of the file up to and including its last newline (0 when there is none)."""
    pos = end
    while pos > 0:
        start = max(0, pos - 4096)
        chunk = os.pread(fd, pos - start, start)
        at = chunk.rfind(b"\n")
        if at >= 0:
            return start + at + 1
        pos = start
    return 0


def _announce(text: str) -> None:
    print(f"pciexplore: {text}", file=sys.stderr)


class LiveWriter:
    """Performs, shows and journals the writes of one SysfsSource."""

    def __init__(self, source: SysfsSource, journal: str | Path | Journal | None = None,
                 announce: Callable[[str], None] | None = None,
                 confirm: Callable[[LiveWrite], bool] | None = None) -> None:
        self.source = source
        self.journal = journal if isinstance(journal, Journal) else Journal(journal or DEFAULT_JOURNAL)
        self.announce = announce or _announce
        self.confirm = confirm

    @property
    def root(self) -> str:
        """The resolved sysfs root: what the journal records, and all undo may touch."""
        return os.path.realpath(self.source.root)

    # -- the two kinds of write ----------------------------------------------------------------
    def _read_config(self, addr: Address, offset: int, size: int) -> bytes:
        cfg = self.source.read_config(addr)
        if offset < 0 or offset + size > len(cfg):
            raise ReadOnlyError(f"config write 0x{offset:x}+{size} beyond the {len(cfg)} bytes this user can read",
                                device=str(addr), offset=offset)
        return cfg[offset : offset + size]

    def write_config(self, addr: Address, offset: int, data: bytes) -> None:
        with self.journal.locked():  # the old value is read by the holder of the lock that writes it
            old = self._read_config(addr, offset, len(data))
            self._do(addr, "config", None, offset, old, bytes(data), None, self._put_config)

    def write_bar(self, addr: Address, bar: int, offset: int, data: bytes) -> None:
        with self.journal.locked():
            old = self.source.read_bar(addr, bar, offset, len(data))
            self._do(addr, "bar", bar, offset, old, bytes(data), None, self._put_bar)

    def _do(self, addr: Address, space: str, bar: int | None, offset: int, old: bytes, new: bytes,
            undoes: int | None, put: Callable[[Address, int | None, int, bytes], None]) -> LiveWrite:
        with self.journal.locked():
            entry = LiveWrite(self.journal.next_seq(), str(addr), space, bar, offset, old.hex(), new.hex(),
                              time.time(), undoes, self.root)
            self.announce(str(entry))
            if self.confirm is not None and not self.confirm(entry):
                raise ReadOnlyError("write refused by the confirm callback", device=str(addr), offset=offset)
            self.journal.append(entry)  # before the write: the old value survives a crash
            try:
                put(addr, bar, offset, new)
            except BaseException as e:
                self.journal.record_outcome(entry.seq, f"failed: {e}")
                raise
            self.journal.record_outcome(entry.seq, DONE)
            return replace(entry, outcome=DONE)

    def _put_config(self, addr: Address, bar: int | None, offset: int, data: bytes) -> None:
        path = self.source._dir(addr) / "config"
        try:
            fd = os.open(path, os.O_WRONLY)
        except OSError as e:
            raise ReadOnlyError(f"cannot open for writing: {e.strerror}", file=str(path), device=str(addr)) from None
        try:
            if os.pwrite(fd, data, offset) != len(data):
                raise DeviceGone("short config write", file=str(path), device=str(addr), offset=offset)
        except OSError as e:
            raise DeviceGone(f"config write failed: {e.strerror}", file=str(path), device=str(addr),
                             offset=offset) from None
        finally:
            os.close(fd)

    def _put_bar(self, addr: Address, bar: int | None, offset: int, data: bytes) -> None:
        from periphery import MMIO, MMIOError

        assert bar is not None
        path = self.source._resource_path(addr, bar)
        try:
            mmio = MMIO(offset, len(data), path=str(path))
        except MMIOError as e:
            raise NotSupported(f"cannot map {path} for writing: {e}", device=str(addr), offset=offset) from None
        try:
            write_window(mmio, offset, data)  # aligned DWORDs: what MSI-X tables accept
        finally:
            mmio.close()

    # -- undo ----------------------------------------------------------------------------------------
    def undo(self, steps: int = 1, force: bool = False) -> list[LiveWrite]:
        """Revert the last `steps` writes made under this source's root and not yet undone (newest first).
        A write that failed is skipped; one whose outcome was never recorded (a crash) counts as done when
        the bytes are what it wrote and as never done when they are still the old ones.  Refuses when the
        bytes are something else (someone else wrote there), unless `force`."""
        with self.journal.locked():
            entries = [e for e in self.journal.entries() if e.root == self.root and not e.failed]
            undone = {e.undoes for e in entries if e.undoes is not None}
            todo = [e for e in reversed(entries) if e.undoes is None and e.seq not in undone]
            done: list[LiveWrite] = []
            for e in todo:
                if len(done) == steps:
                    break
                addr = Address.parse(e.device)
                size = len(e.new) // 2
                if e.space == "config":
                    now, put = self._read_config(addr, e.offset, size), self._put_config
                else:
                    assert e.bar is not None
                    now, put = self.source.read_bar(addr, e.bar, e.offset, size), self._put_bar
                if e.outcome is None and now.hex() == e.old and e.old != e.new:
                    continue  # died before writing: nothing to revert
                if now.hex() != e.new and not force:
                    raise PciError(f"not undoing #{e.seq}: the bytes are now 0x{now.hex()} (hex, little-endian), "
                                   "not what was written; pass force=True to write the old value anyway",
                                   device=e.device, offset=e.offset)
                done.append(self._do(addr, e.space, e.bar, e.offset, now, bytes.fromhex(e.old), e.seq, put))
            if not done:
                raise PciError(f"nothing to undo in the journal for {self.root}", file=str(self.journal.path))
            return done

"""Writes to a live host, only after an explicit opt-in: `pciexplore.open("sysfs", allow_writes=True)`.

Every write is shown before it is done (device, config or BAR, offset, old → new), may be refused by a
`confirm` callback, is journaled *before* it is done (JSON lines, the file replaced atomically, so a
crash cannot lose the old value) and can be undone: `source.undo()` writes the old bytes back, after
checking nobody changed them since.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..address import Address
from ..errors import DeviceGone, NotSupported, PciError, ReadOnlyError
from .bar_access import write_window

if TYPE_CHECKING:
    from .sysfs import SysfsSource

DEFAULT_JOURNAL = Path.home() / ".local" / "state" / "pciexplore" / "live-writes.jsonl"


@dataclass(frozen=True, slots=True)
class LiveWrite:
    """One write as journaled: where, and the bytes before and after (hex)."""

    seq: int
    device: str
    space: str  # "config" or "bar"
    bar: int | None
    offset: int
    old: str
    new: str
    time: float
    undoes: int | None = None  # seq of the write this one reverts

    def __str__(self) -> str:
        where = "config" if self.space == "config" else f"BAR {self.bar}"
        width = len(self.old) // 2
        old = int.from_bytes(bytes.fromhex(self.old), "little")
        new = int.from_bytes(bytes.fromhex(self.new), "little")
        what = f"undo #{self.undoes}: " if self.undoes is not None else ""
        return (f"{what}write {self.device} {where} offset 0x{self.offset:x} ({width} bytes): "
                f"0x{old:0{2 * width}x} → 0x{new:0{2 * width}x}")


class Journal:
    """JSON-lines journal; each append rewrites the file through a temporary file and os.replace."""

    def __init__(self, path: str | Path = DEFAULT_JOURNAL) -> None:
        self.path = Path(path)

    def entries(self) -> list[LiveWrite]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        out = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                out.append(LiveWrite(**json.loads(line)))
            except (ValueError, TypeError) as e:
                raise PciError(f"journal line is not a write record: {e}", file=str(self.path), line=number) from None
        return out

    def append(self, entry: LiveWrite) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            old = self.path.read_bytes()
        except FileNotFoundError:
            old = b""
        fd, tmp = tempfile.mkstemp(prefix=".journal-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(old + json.dumps(asdict(entry), sort_keys=True).encode() + b"\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


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

    # -- the two kinds of write ----------------------------------------------------------------
    def _read_config(self, addr: Address, offset: int, size: int) -> bytes:
        cfg = self.source.read_config(addr)
        if offset < 0 or offset + size > len(cfg):
            raise ReadOnlyError(f"config write 0x{offset:x}+{size} beyond the {len(cfg)} bytes this user can read",
                                device=str(addr), offset=offset)
        return cfg[offset : offset + size]

    def write_config(self, addr: Address, offset: int, data: bytes) -> None:
        old = self._read_config(addr, offset, len(data))
        self._do(addr, "config", None, offset, old, bytes(data), None, self._put_config)

    def write_bar(self, addr: Address, bar: int, offset: int, data: bytes) -> None:
        old = self.source.read_bar(addr, bar, offset, len(data))
        self._do(addr, "bar", bar, offset, old, bytes(data), None, self._put_bar)

    def _do(self, addr: Address, space: str, bar: int | None, offset: int, old: bytes, new: bytes,
            undoes: int | None, put: Callable[[Address, int | None, int, bytes], None]) -> LiveWrite:
        entries = self.journal.entries()
        entry = LiveWrite(entries[-1].seq + 1 if entries else 0, str(addr), space, bar, offset, old.hex(), new.hex(),
                          time.time(), undoes)
        self.announce(str(entry))
        if self.confirm is not None and not self.confirm(entry):
            raise ReadOnlyError("write refused by the confirm callback", device=str(addr), offset=offset)
        self.journal.append(entry)  # before the write: the old value survives a crash
        put(addr, bar, offset, new)
        return entry

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
        """Revert the last `steps` writes not yet undone (newest first).  Refuses when the bytes changed
        since the write (someone else wrote there), unless `force`."""
        entries = self.journal.entries()
        undone = {e.undoes for e in entries if e.undoes is not None}
        todo = [e for e in reversed(entries) if e.undoes is None and e.seq not in undone][:steps]
        if not todo:
            raise PciError("nothing to undo in the journal", file=str(self.journal.path))
        done = []
        for e in todo:
            addr = Address.parse(e.device)
            size = len(e.new) // 2
            if e.space == "config":
                now, put = self._read_config(addr, e.offset, size), self._put_config
            else:
                assert e.bar is not None
                now, put = self.source.read_bar(addr, e.bar, e.offset, size), self._put_bar
            if now.hex() != e.new and not force:
                raise PciError(f"not undoing #{e.seq}: the bytes are now 0x{now.hex()} (hex, little-endian), not what "
                               "was written; pass force=True to write the old value anyway",
                               device=e.device, offset=e.offset)
            done.append(self._do(addr, e.space, e.bar, e.offset, now, bytes.fromhex(e.old), e.seq, put))
        return done

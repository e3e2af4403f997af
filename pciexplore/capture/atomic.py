"""Atomic file replacement: a reader (or a crash) only ever sees the old file or the new one, whole."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` so that a crash or SIGKILL at any moment leaves the old or the new content.

    The bytes go to a temporary file in the same directory (same filesystem, so rename is atomic),
    which is fsync'ed, renamed over `path`, and then the directory is fsync'ed so the rename itself
    survives a power cut.  The new file keeps the old one's permissions (default: 0666 & ~umask).
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    except OSError as e:
        raise InputError(f"cannot save: {e.strerror}", file=str(path)) from None
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise InputError(f"cannot save: {e.strerror}", file=str(path)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise InputError(f"cannot save: {e.strerror}", file=str(path)) from None
        raise
    _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    try:
        dfd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # some filesystems cannot open directories; the rename is still atomic
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


@contextlib.contextmanager
def directory_lock(directory: Path) -> Iterator[None]:
    """Serialise read-merge-write cycles of processes saving into the same directory (flock on it)."""
    try:
        fd = os.open(directory if str(directory) else ".", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        yield  # cannot lock (missing directory: the save reports it); saving stays atomic anyway
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)

"""Atomic file replacement: a reader (or a crash) only ever sees the old file or the new one, whole."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
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
    remove_stale_temps(path)
    try:
        # the pid in the name lets a later save tell a dead writer's leftover from a live writer's file
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
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
    fsync_dir(directory)


def remove_stale_temps(path: Path, older_than: float = 600.0) -> list[Path]:
    """Remove the temporary files that saves of `path` killed mid-write left behind: those whose writer
    (the pid in the name) is gone, and unnamed ones older than `older_than` seconds.  Returns them."""
    removed = []
    prefix = f".{path.name}."
    directory = path.parent if str(path.parent) else Path(".")
    try:
        names = [n for n in os.listdir(directory) if n.startswith(prefix) and n.endswith(".tmp")]
    except OSError:
        return removed
    for name in names:
        pid_text = name[len(prefix):].split(".", 1)[0]
        temp = directory / name
        try:
            if pid_text.isdigit():
                if _alive(int(pid_text)):
                    continue
            elif time.time() - temp.stat().st_mtime < older_than:
                continue  # a writer without a pid in its names (an older version) may still be at it
            temp.unlink()
            removed.append(temp)
        except OSError:
            continue
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def fsync_dir(directory: Path) -> None:
    """fsync a directory, so that a file created or renamed in it survives a power cut."""
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

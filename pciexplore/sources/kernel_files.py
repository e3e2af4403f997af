"""Reading the kernel's small text files (sysfs attributes, /proc) safely in any sysfs-like tree."""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False  # typing's constant without importing typing (nor pathlib: `ls` and `health` import this)
if TYPE_CHECKING:
    from pathlib import Path


def read_kernel_file(path: str | Path, limit: int = 1 << 16) -> str | None:
    """A sysfs or /proc file's text (at most `limit` bytes), or None when it cannot be read or is not a
    regular file: sysfs and /proc files are, and a FIFO or device node in a sysfs-like tree must neither
    block nor be read without end."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks, left = [], limit
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks).decode("utf-8", "surrogateescape")
    except OSError:
        return None
    finally:
        os.close(fd)

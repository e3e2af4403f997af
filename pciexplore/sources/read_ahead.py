"""Reading a big sysfs tree's files in a child process while this one decodes what has arrived.

`lspci -vvv` on a host with thousands of functions (SR-IOV virtual functions) spends half its time in the
kernel, opening and reading a dozen small files per function; so does `pciexplore show`, and then it
decodes and renders in Python. Forked for the length of one `show`, a child reads each function's config
and kernel attributes in the order they will be asked for and sends them down a pipe in batches
(marshal: bytes, ints, strings, lists and dicts only), so the system calls of one function run on one
core while the text of the one before is written on the other.

The child only reads, exactly as the direct reads do (the same functions in sysfs.py), and what it could
not read is read again directly when asked for, so errors are raised where they always were, naming the
file. A function asked for out of order, again, or after the child is gone, is read directly too.
"""

from __future__ import annotations

import marshal
import os
import sys

#: functions per message: small enough that the first ones arrive at once, big enough to batch the writes
BATCH = 16
#: pipe buffer asked for (Linux F_SETPIPE_SZ): lets the child run this far ahead of a slow reader
PIPE_BYTES = 1 << 20


def worth_it(count: int) -> bool:
    """A fork costs a millisecond or two: for a handful of functions reading directly is quicker. Forking a
    process with threads (a Jupyter kernel, a dashboard) is not safe, so only a single-threaded one does."""
    if count < 64 or not hasattr(os, "fork"):
        return False
    threading = sys.modules.get("threading")
    return threading is None or threading.active_count() == 1


class ReadAhead:
    """The parent's end: what the child sent, by function directory, each part handed out once."""

    _pipe = None

    def __init__(self, dirs: list[str], config_length: int, read_config, readers: dict) -> None:
        self._position = {d: i for i, d in enumerate(dirs)}
        self.config_length = config_length
        self._configs: dict[str, tuple[bytes, int]] = {}
        self._kernels: dict[str, dict] = {}
        self._received = 0
        self._owner = os.getpid()
        r, w = os.pipe()
        try:
            import fcntl

            fcntl.fcntl(w, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
        except OSError:  # a smaller limit (/proc/sys/fs/pipe-max-size): the default buffer still works
            pass
        self._pid = os.fork()
        if self._pid == 0:  # the child: never returns, never runs the parent's exit handlers or flushes its stdout
            os.close(r)
            _child(w, dirs, config_length, read_config, readers)
        os.close(w)
        self._pipe = os.fdopen(r, "rb", buffering=1 << 16)

    def config(self, d: str, length: int) -> tuple[bytes, int] | None:
        """(bytes, size) as sysfs._read_regular(d/config, length) gives them, or None: read it directly."""
        if length != self.config_length or not self._wait(d):
            return None
        return self._configs.pop(d, None)

    def kernel(self, d: str) -> dict | None:
        """The attributes read for `d` (name -> value, each as its reader gave it), or None."""
        return self._kernels.pop(d, None) if self._wait(d) else None

    def _wait(self, d: str) -> bool:
        """Receive until `d` has arrived; False when it never will (not asked for, or the child is gone)."""
        position = self._position.get(d)
        if position is None:
            return False
        while self._received <= position:
            if not self._receive():
                return False
        return True

    def _receive(self) -> bool:
        pipe = self._pipe
        if pipe is None:
            return False
        head = pipe.read(4)
        body = pipe.read(int.from_bytes(head, "little")) if len(head) == 4 else b""
        if not body:  # the child finished (or died): what is left is read directly
            self.close(finished=True)
            return False
        for d, cfg, kernel in marshal.loads(body):
            if cfg is not None:
                self._configs[d] = cfg
            if kernel is not None:
                self._kernels[d] = kernel
            self._received += 1
        return True

    def close(self, finished: bool = False) -> None:
        """Stop the child unless it `finished` (it holds nothing but its end of the pipe) and reap it."""
        if self._pipe is None or os.getpid() != self._owner:  # (a child never stops its parent's other children)
            return
        self._pipe.close()
        self._pipe = None
        try:
            if not finished:
                os.kill(self._pid, 9)
            os.waitpid(self._pid, 0)
        except OSError:  # reaped already (SIGCHLD ignored by whoever embeds us)
            pass

    def __del__(self) -> None:
        self.close()


def _child(w: int, dirs: list[str], config_length: int, read_config, readers: dict) -> None:
    try:
        batch = []
        for i, d in enumerate(dirs):
            try:
                cfg = read_config(f"{d}/config", config_length)
            except OSError:
                cfg = None  # the parent reads it and raises its own error, naming the file
            try:
                kernel = {name: read(d) for name, read in readers.items()}
            except Exception:
                kernel = None
            batch.append((d, cfg, kernel))
            if len(batch) == BATCH or i == len(dirs) - 1:
                data = marshal.dumps(batch)
                data = len(data).to_bytes(4, "little") + data
                while data:
                    data = data[os.write(w, data):]
                batch = []
    except BaseException:  # the parent went away (a closed pipe), Ctrl-C, anything: just stop
        pass
    finally:
        os._exit(0)

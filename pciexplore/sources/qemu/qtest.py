"""A client for QEMU's qtest protocol (docs/devel/qtest.rst): one text line per command, one line back.

QEMU connects to a Unix socket we listen on (`-qtest unix:PATH`), then answers commands such as
`readl ADDR`, `writel ADDR VALUE`, `outl PORT VALUE`, `read ADDR SIZE` with `OK [value]` or `FAIL ...`.
Lines starting with `IRQ` are asynchronous notices (GPIO interception) and are skipped.  Commands can
be pipelined: `batch()` sends many lines in one write and then reads the answers, which is what makes
a trigger-and-observe round trip cost about one socket round trip.

The QMP monitor (JSON lines) uses the same line channel.  Any failure inside a request (timeout, QEMU
gone, Ctrl-C half-way) leaves the stream in an unknown state, so the channel marks itself broken and
calls `on_broken` (the source then ends QEMU): no half-read answer is ever taken for the answer to a
later command.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Callable, Sequence

from ...errors import PciError


class QemuError(PciError):
    """QEMU failed to start, stopped answering, or answered a qtest command with FAIL."""


class LineChannel:
    """A socket QEMU talks to line by line; any failure mid-request breaks it for good (see above)."""

    def __init__(self, sock: socket.socket, timeout: float = 5.0, name: str = "qemu",
                 on_broken: Callable[[str], None] | None = None) -> None:
        self.sock = sock
        self.name = name
        self.on_broken = on_broken
        self.broken: str | None = None
        self._buf = b""
        self._lock = threading.Lock()  # one batch on the wire at a time, whichever thread sends it
        self.timeout = timeout
        #: requests sent so far: an answer taken at count n is the latest word from QEMU while it stays n
        self.exchanges = 0

    @property
    def timeout(self) -> float:
        """Seconds any one send or receive may take before QEMU counts as hung."""
        return self.sock.gettimeout() or 0.0

    @timeout.setter
    def timeout(self, seconds: float) -> None:
        self.sock.settimeout(seconds)

    def _skip(self, line: str) -> bool:
        """Asynchronous lines that answer no command."""
        return False

    def _readlines(self, n: int) -> list[str]:
        """The next `n` answer lines (asynchronous lines skipped); only our batch is ever outstanding."""
        out: list[str] = []
        while True:
            *complete, self._buf = self._buf.split(b"\n")
            if complete:
                lines = b"\n".join(complete).decode("utf-8", "replace").replace("\r", "").split("\n")
                out += [line for line in lines if not self._skip(line)]
            if len(out) >= n:
                return out
            try:
                chunk = self.sock.recv(1 << 16)
            except TimeoutError:
                raise QemuError(f"no answer from QEMU within {self.timeout:g} s", file=self.name) from None
            if not chunk:
                raise QemuError("QEMU closed the connection (it exited)", file=self.name)
            self._buf += chunk

    def exchange(self, payload: bytes, answers: int) -> list[str]:
        """Send `payload`, read `answers` lines; on any failure the channel (and QEMU) is done for."""
        with self._lock:
            if self.broken:
                raise QemuError(f"QEMU session is over: {self.broken}", file=self.name)
            self.exchanges += 1
            try:
                self.sock.sendall(payload)
                return self._readlines(answers)
            except BaseException as e:  # noqa: BLE001 - includes KeyboardInterrupt: the stream is now unusable
                self._break(str(e) or type(e).__name__)
                if isinstance(e, OSError):
                    raise QemuError(f"connection to QEMU failed: {e}", file=self.name) from None
                raise

    def _break(self, why: str) -> None:
        if self.broken is None:
            self.broken = why
            if self.on_broken is not None:
                self.on_broken(why)


class QtestClient(LineChannel):
    """Sends qtest commands over a connected socket and parses the answers."""

    def _skip(self, line: str) -> bool:
        return line.startswith("IRQ")

    def batch(self, commands: Sequence[str]) -> list[str]:
        """Send every command, then read one answer per command; returns the text after `OK`."""
        answers = self.exchange("".join(c + "\n" for c in commands).encode("ascii"), len(commands))
        out = []
        for cmd, ans in zip(commands, answers, strict=True):
            if ans == "OK":
                out.append("")
            elif ans.startswith("OK "):
                out.append(ans[3:])
            else:
                raise QemuError(f"qtest {cmd.split()[0]} failed: {ans}", file=self.name)
        return out

    def command(self, cmd: str) -> str:
        return self.batch([cmd])[0]

    # -- typed helpers ---------------------------------------------------------------------------
    def readl(self, addr: int) -> int:
        return int(self.command(f"readl {addr:#x}"), 16)

    def writel(self, addr: int, value: int) -> None:
        self.command(f"writel {addr:#x} {value:#x}")

    def read(self, addr: int, size: int) -> bytes:
        """`size` bytes of guest physical memory (RAM or MMIO) at `addr`."""
        if size == 0:
            return b""
        return decode_read(self.command(read_bytes_cmd(addr, size)))

    def write(self, addr: int, data: bytes) -> None:
        if data:
            self.command(f"write {addr:#x} {len(data):#x} 0x{data.hex()}")

    def memset(self, addr: int, size: int, value: int = 0) -> None:
        self.command(f"memset {addr:#x} {size:#x} {value:#x}")


class QmpClient(LineChannel):
    """The QEMU Machine Protocol (docs/interop/qmp-spec): JSON commands, events skipped."""

    def __init__(self, sock: socket.socket, timeout: float = 5.0, name: str = "qemu",
                 on_broken: Callable[[str], None] | None = None) -> None:
        super().__init__(sock, timeout, name, on_broken)
        self._greeted = False

    def _skip(self, line: str) -> bool:
        return is_qmp_event(line)

    def execute(self, command: str, **arguments: object) -> object:
        if not self._greeted:
            self.exchange(b"", 1)  # the {"QMP": ...} greeting
            self.exchange(b'{"execute": "qmp_capabilities"}\n', 1)
            self._greeted = True
        request = {"execute": command, **({"arguments": arguments} if arguments else {})}
        answer = json.loads(self.exchange(json.dumps(request).encode() + b"\n", 1)[0])
        if "error" in answer:
            raise QemuError(f"QMP {command} failed: {answer['error'].get('desc', answer['error'])}", file=self.name)
        return answer.get("return")


def is_qmp_event(line: str) -> bool:
    """An asynchronous QMP line that answers no command: QEMU 7.2 prints events as
    `{"timestamp": {...}, "event": "RESUME"}` (the timestamp first), older ones `{"event": ...}`."""
    return not line or line.startswith(('{"timestamp"', '{"event"'))


def read_bytes_cmd(addr: int, size: int) -> str:
    """Bytes of memory, base64 on the wire (QEMU formats it about 2.5x faster than `read`'s hex)."""
    return f"b64read {addr:#x} {size:#x}"


def decode_read(answer: str) -> bytes:
    return base64.b64decode(answer)


#: access width in bytes -> qtest command suffix
WIDTH_SUFFIX = {1: "b", 2: "w", 4: "l", 8: "q"}


def read_cmd(space: str, addr: int, width: int) -> str:
    """A qtest read command: space "mem" (readX) or "io" (inX)."""
    return f"{'read' if space == 'mem' else 'in'}{WIDTH_SUFFIX[width]} {addr:#x}"


def write_cmd(space: str, addr: int, width: int, value: int) -> str:
    return f"{'write' if space == 'mem' else 'out'}{WIDTH_SUFFIX[width]} {addr:#x} {value:#x}"


def split_aligned(offset: int, data: bytes) -> list[tuple[int, int, int]]:
    """(offset, width, value) pieces of naturally aligned 1/2/4-byte accesses covering `data`."""
    pieces = []
    pos = 0
    while pos < len(data):
        at = offset + pos
        left = len(data) - pos
        width = 4 if at % 4 == 0 and left >= 4 else 2 if at % 2 == 0 and left >= 2 else 1
        pieces.append((at, width, int.from_bytes(data[pos : pos + width], "little")))
        pos += width
    return pieces

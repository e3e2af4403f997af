"""lspci dump text (`lspci -x`, `-xxx`, `-xxxx`, with or without `-D` and `-v` text interleaved).

The grammar follows pciutils' dump reader so that whatever `lspci -F FILE` reads, we read the same
bytes: a line starting `bb:dd.f ` or `dddd:bb:dd.f ` opens a function, a line starting with a hex
offset and `: ` carries up to 16 bytes, an empty line closes the function, anything else (verbose
text, which lspci indents with tabs) is ignored.  We are more forgiving than lspci in one way people
need when pasting from mail: a common quote prefix (`> `) is stripped.
"""

from __future__ import annotations

import re

from ..address import Address
from ..errors import InputError, limit_reached
from .base import Source

TYPE_CHECKING = False  # typing's constant without importing typing: every command's start-up pays for it
if TYPE_CHECKING:
    from pathlib import Path

    from ..model import Function

_DEVICE = re.compile(r"^(?:([0-9a-fA-F]{4,5}):)?([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7]) ")
_HEXLINE = re.compile(r"^([0-9a-fA-F]{2,8}): ")
_BYTE = re.compile(r"[0-9a-fA-F]{2}")
_QUOTE = re.compile(r"^(?:> ?)+")
MAX_CONFIG = 4096
# the row offsets lspci -x/-xxx/-xxxx writes: 00..f0 (2 digits), then 100..ff0 (3 digits); a 3-digit
# row is checked by its first digit, then read like a 2-digit row (the low byte of its offset)
_ROW_OFFSETS = bytes(o & 0xFF for o in range(0, MAX_CONFIG, 16))
_HIGH_FIRST_DIGITS = "".join(f"{o:03x}"[0] for o in range(0x100, MAX_CONFIG, 16))
MAX_DUMP_BYTES = 256 << 20  # -xxxx text of 16384 functions is ~230 MB
# what is built from the text is bounded on its own: one short line ("ff0: 00") makes 4 KiB of config,
# so the input cap alone let a 100 MB dump grow to 6 GB; a whole PCI domain has 65536 functions
MAX_FUNCTIONS = 65536
MAX_CONFIG_TOTAL = 32768 * MAX_CONFIG  # 128 MiB: 32768 functions with all of their extended config space


class _Full(Exception):
    """Raised inside the parsers when a limit is reached; what was kept so far stays."""


def _clean_rows(rows: str) -> bytes | None:
    """Rows "00: xx xx ... xx" at offsets 0, 0x10, ... exactly as lspci prints them, else None.

    Checked and converted column-wise (every row at once) with slices, so the cost does not grow with
    Python-level work per row: the 3-digit rows lose their first digit (checked) to look like 2-digit
    rows, the fixed columns (":", blanks, newlines) are compared, the offsets are parsed as bytes along
    with the data and then compared and deleted."""
    lo, hi = rows[:832], rows[832:]  # 16 rows of 52 characters, then rows of 53
    k, m = len(lo) // 52, len(hi) // 53
    if len(lo) != 52 * k or len(hi) != 53 * m:
        return None
    if m:
        if hi[0::53] != _HIGH_FIRST_DIGITS[:m]:
            return None
        high = bytearray(hi.encode("ascii", errors="replace"))  # one byte per character, as the slices count
        del high[0::53]
        rows = lo + high.decode("ascii")
    n = k + m
    if rows[2::52] != ":" * n or rows[51::52] != "\n" * n or any(rows[c::52] != " " * n for c in range(3, 51, 3)):
        return None
    try:
        data = bytearray(bytes.fromhex(rows.replace(":", " ")))
    except ValueError:
        return None
    if data[::17] != _ROW_OFFSETS[:n]:
        return None
    del data[::17]
    return bytes(data)


class DumpSource(Source):
    kind = "dump"
    _total = 0  # config bytes built so far (bounded by MAX_CONFIG_TOTAL)

    def __init__(self, path: str | Path, text: str | None = None) -> None:
        super().__init__(str(path))
        if text is None:
            try:
                with open(path, "rb") as f:
                    raw = f.read(MAX_DUMP_BYTES + 1)
            except OSError as e:
                raise InputError(f"cannot read: {e.strerror}", file=str(path)) from None
            if len(raw) > MAX_DUMP_BYTES:
                raise InputError(f"larger than {MAX_DUMP_BYTES >> 20} MiB, more than any lspci dump we read "
                                 "(-xxxx text of 16384 functions is about 230 MB)", file=str(path))
            text = raw.decode("utf-8", errors="replace")
        #: (address, config bytes, title) in file order; an address may appear twice (lspci shows both)
        self._entries: list[tuple[Address, bytes, str]] = []
        try:
            if not self._parse_clean(text):
                self._entries, self._total = [], 0
                self._parse(text)
        except _Full as full:
            limit_reached(f"{full}: the {len(self._entries)} functions before it are kept, the rest left out",
                          file=self.name)

    def _add(self, addr: Address, data: bytes, title: str) -> None:
        if len(self._entries) >= MAX_FUNCTIONS:
            raise _Full(f"more than {MAX_FUNCTIONS} functions (a whole PCI domain)")
        self._total += len(data)
        if self._total > MAX_CONFIG_TOTAL:
            raise _Full(f"more than {MAX_CONFIG_TOTAL >> 20} MiB of config space")
        self._entries.append((addr, data, title))

    def _parse_clean(self, text: str) -> bool:
        """Fast path for text exactly as lspci writes it; False (nothing kept) for anything else."""
        blocks = text.split("\n\n")
        if blocks and blocks[-1] in ("", "\n"):
            blocks.pop()
        for block in blocks:
            head, nl, rows = block.partition("\n")
            m = _DEVICE.match(head)
            data = _clean_rows(rows + "\n") if nl and m else None
            if data is None or int(m.group(3), 16) > 31:
                return False
            dom, bus, dev, fn = m.groups()
            self._add(Address(int(dom or "0", 16), int(bus, 16), int(dev, 16), int(fn)), data, head[m.end():].strip())
        return bool(self._entries)

    def _parse(self, text: str) -> None:
        name = self.name
        current: Address | None = None
        data: bytearray | None = None
        length = 0

        title = ""

        def close() -> None:
            if current is not None and data is not None:
                self._add(current, bytes(data[:length]), title)

        for lineno, line in enumerate(text.splitlines(), 1):
            if line[:1] == ">":
                line = _QUOTE.sub("", line)
            line = line.rstrip()
            h = _HEXLINE.match(line)
            if h:
                if data is None:
                    continue
                offset = int(h.group(1), 16)
                body = line[h.end():]
                try:  # fast path: well-formed "xx xx ... xx"
                    chunk = bytes.fromhex(body)
                    ok = len(body) == 3 * len(chunk) - 1
                except ValueError:
                    ok = False
                if not ok:
                    chunk = self._slow_hex(body, lineno, current, offset)
                end = offset + len(chunk)
                if end > MAX_CONFIG:
                    raise InputError("config space longer than 4096 bytes", file=name, line=lineno,
                                     device=str(current), offset=max(offset, MAX_CONFIG))
                if end > len(data):
                    data.extend(b"\xff" * (MAX_CONFIG - len(data)))
                data[offset:end] = chunk
                length = max(length, end)
                continue
            if not line:
                close()
                current, data, length = None, None, 0
                continue
            m = _DEVICE.match(line + " ") if not line[0].isspace() else None
            if m:
                close()
                dom, bus, dev, fn = m.groups()
                devnum = int(dev, 16)
                if devnum > 31:
                    raise InputError(f"device number {dev} > 1f", file=name, line=lineno)
                current = Address(int(dom or "0", 16), int(bus, 16), devnum, int(fn))
                title = line[m.end():].strip()
                data = bytearray(b"\xff" * 256)
                length = 0
        close()
        if not self._entries:
            raise InputError("no lspci dump found (expected lines like '00:1f.0 ...' then '00: 86 80 ...')",
                             file=name)

    def _slow_hex(self, body: str, lineno: int, current: Address | None, offset: int) -> bytes:
        """Bytes separated by any blanks, or one clear error naming the first bad token."""
        out = bytearray()
        for col, tok in enumerate(body.split()):
            if not _BYTE.fullmatch(tok):
                raise InputError(f"bad hex byte {tok!r} in column {col}", file=self.name, line=lineno,
                                 device=str(current), offset=offset + col)
            out.append(int(tok, 16))
        return bytes(out)

    def addresses(self) -> list[Address]:
        return [a for a, _, _ in self._entries]

    def read_config(self, addr: Address) -> bytes:
        for a, data, _ in self._entries:
            if a == addr:
                return data
        raise InputError(f"no function {addr}", file=self.name)

    def _build_functions(self) -> list[Function]:
        from ..model import Function

        fns = []
        for addr, data, _ in sorted(self._entries, key=lambda e: e[0]):
            fn = Function(self, addr)
            fn.__dict__["config"] = data  # each entry keeps its own bytes, duplicates included
            fns.append(fn)
        return fns

    def dump_title(self, addr: Address) -> str:
        """The text after the address on the function's first line, as the dump had it."""
        return next((t for a, _, t in self._entries if a == addr), "")

"""lspci dump text (`lspci -x`, `-xxx`, `-xxxx`, with or without `-D` and `-v` text interleaved).

The grammar follows pciutils' dump reader so that whatever `lspci -F FILE` reads, we read the same
bytes: a line starting `bb:dd.f ` or `dddd:bb:dd.f ` opens a function, a line starting with a hex
offset and `: ` carries up to 16 bytes, an empty line closes the function, anything else (verbose
text, which lspci indents with tabs) is ignored.  We are more forgiving than lspci in one way people
need when pasting from mail: a common quote prefix (`> `) is stripped.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from ..address import Address
from ..errors import InputError
from .base import Source

if TYPE_CHECKING:
    from ..model import Function

_DEVICE = re.compile(r"^(?:([0-9a-fA-F]{4,5}):)?([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7]) ")
_HEXLINE = re.compile(r"^([0-9a-fA-F]{2,8}): ")
_BYTE = re.compile(r"[0-9a-fA-F]{2}")
_QUOTE = re.compile(r"^(?:> ?)+")
MAX_CONFIG = 4096


class DumpSource(Source):
    kind = "dump"

    def __init__(self, path: str | Path, text: str | None = None) -> None:
        super().__init__(str(path))
        if text is None:
            try:
                raw = Path(path).read_bytes()
            except OSError as e:
                raise InputError(f"cannot read: {e.strerror}", file=str(path)) from None
            text = raw.decode("utf-8", errors="replace")
        #: (address, config bytes, title) in file order; an address may appear twice (lspci shows both)
        self._entries: list[tuple[Address, bytes, str]] = []
        self._parse(text)

    def _parse(self, text: str) -> None:
        name = self.name
        current: Address | None = None
        data: bytearray | None = None
        length = 0

        title = ""

        def close() -> None:
            if current is not None and data is not None:
                self._entries.append((current, bytes(data[:length]), title))

        for lineno, line in enumerate(text.splitlines(), 1):
            line = _QUOTE.sub("", line.rstrip("\r\n")).rstrip()
            m = _DEVICE.match(line + " ") if line and not line[0].isspace() else None
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
                continue
            if not line:
                close()
                current, data, length = None, None, 0
                continue
            h = _HEXLINE.match(line)
            if not h or data is None:
                continue
            offset = int(h.group(1), 16)
            fields = line[h.end():].split()
            for col, tok in enumerate(fields):
                if not _BYTE.fullmatch(tok):
                    raise InputError(
                        f"bad hex byte {tok!r} in column {col}", file=name, line=lineno,
                        device=str(current), offset=offset + col,
                    )
                pos = offset + col
                if pos >= MAX_CONFIG:
                    raise InputError(
                        "config space longer than 4096 bytes", file=name, line=lineno,
                        device=str(current), offset=pos,
                    )
                if pos >= len(data):
                    data.extend(b"\xff" * (MAX_CONFIG - len(data)))
                data[pos] = int(tok, 16)
                length = max(length, pos + 1)
        close()
        if not self._entries:
            raise InputError("no lspci dump found (expected lines like '00:1f.0 ...' then '00: 86 80 ...')",
                             file=name)

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

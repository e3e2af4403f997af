"""Text from files and users made harmless where it is echoed: on a terminal (no escape sequences, no
carriage return forging a line) and in files written (every string encodable).

Captures, dumps and sysfs labels are untrusted: an annotation may hold ESC ] 0 ; (window title),
ESC [ 2 J (clear screen), OSC 52 (write the clipboard) or "\\r" to overwrite what a line said, and a
label read with surrogateescape or a title from a non-UTF-8 argv holds lone surrogates that a strict
UTF-8 encoder refuses.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from functools import cache

TYPE_CHECKING = False  # typing's constant without importing typing: every command imports this module
if TYPE_CHECKING:
    import re
    from typing import TypeVar

    T = TypeVar("T")


@cache
def _unsafe(keep_lines: bool) -> re.Pattern[str]:
    """C0 and C1 controls, DEL, the bidirectional overrides and isolates (they reorder what a reader sees) and
    lone surrogates (not encodable); with `keep_lines`, not newline and tab.  Compiled when first needed:
    compiling these Unicode ranges cost every command's start-up (4M instructions each, `show` needs neither),
    and so would importing re (~25M with the enum module it imports)."""
    import re

    if keep_lines:
        return re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
    return re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(m: re.Match[str]) -> str:
    c = m.group()
    o = ord(c)
    if c in _NAMED:
        return _NAMED[c]
    if 0xDC80 <= o <= 0xDCFF:  # a byte surrogateescape kept: show the byte
        return f"\\x{o - 0xDC00:02x}"
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}"


def printable(text: object, lines: bool = False) -> str:
    """`text` with every control character, bidi override and lone surrogate written as a visible
    escape (\\x1b, \\r, \\u202e, \\xff for a byte surrogateescape kept); with `lines`, newlines and tabs
    stay (for text made of lines the kit itself laid out)."""
    return _unsafe(lines).sub(_escape, str(text))


def _bytes_or_escape(err: UnicodeError) -> tuple[bytes, int]:
    """Encoding error handler: a byte surrogateescape kept is written back as that byte (as lspci
    prints a label's raw bytes), any other lone surrogate as a visible \\uXXXX."""
    if not isinstance(err, UnicodeEncodeError):
        raise err
    out = bytearray()
    for c in err.object[err.start:err.end]:
        o = ord(c)
        out += bytes([o - 0xDC00]) if 0xDC80 <= o <= 0xDCFF else f"\\u{o:04x}".encode()
    return bytes(out), err.end


#: errors= name for writers of lspci-compatible text: raw bytes back where they came from, never a crash
RAW_BYTES = "pciexplore.raw_bytes"
codecs.register_error(RAW_BYTES, _bytes_or_escape)


def encode_text(text: str) -> bytes:
    """UTF-8 for a text file the kit writes (lspci text, HTML): never UnicodeEncodeError."""
    return text.encode("utf-8", RAW_BYTES)


#: a tooltip shows this many notes of a byte, each cut to this many characters: the notes are listed in
#: full elsewhere, and a tooltip per byte must not repeat them (1000 long notes over a 1 MB capture made
#: a 247 MB HTML page)
TIP_NOTES = 3
TIP_CHARS = 200


def tooltip(texts: list[str], count: int | None = None, sep: str = " | ") -> str:
    """The first TIP_NOTES of `texts`, each at most TIP_CHARS long, and how many more there are
    (`count`: how many notes there are in all, when `texts` holds only the first ones)."""
    count = len(texts) if count is None else count
    shown = [t if len(t) <= TIP_CHARS else t[:TIP_CHARS - 1] + "…" for t in texts[:TIP_NOTES]]
    if count > len(shown):
        shown.append(f"(+{count - len(shown)} more notes)")
    return sep.join(shown)


def notes_per_byte(notes: Iterable[tuple[int, int, T]], lo: int, hi: int) -> tuple[dict[int, list[T]], dict[int, int]]:
    """For (offset, length, note) triples: the first TIP_NOTES notes on each byte of [lo, hi) and how many
    notes each byte has; every range is clipped to [lo, hi), whatever length a note claims."""
    first: dict[int, list[T]] = {}
    count: dict[int, int] = {}
    for offset, length, note in notes:
        for b in range(max(offset, lo), min(offset + length, hi)):
            count[b] = count.get(b, 0) + 1
            if count[b] <= TIP_NOTES:
                first.setdefault(b, []).append(note)
    return first, count

"""A raw binary config-space image (a copy of sysfs `config`, 64 to 4096 bytes) as one function."""

from __future__ import annotations

from ..address import Address
from ..errors import InputError
from .base import Source

TYPE_CHECKING = False  # typing's constant without importing typing (nor pathlib: a dump's `show` imports this)
if TYPE_CHECKING:
    from pathlib import Path

#: the bytes of text: printable ASCII, tab, newline, carriage return
_TEXT = bytes(range(32, 127)) + b"\t\n\r"


class RawSource(Source):
    kind = "raw"

    def __init__(self, path: str | Path, address: Address | None = None) -> None:
        super().__init__(str(path))
        try:
            with open(path, "rb") as f:
                data = f.read(4097)  # bounded: a device node or a huge file must not hang us
        except OSError as e:
            raise InputError(f"cannot read: {e.strerror}", file=str(path)) from None
        if not 64 <= len(data) <= 4096:
            size = "more than 4096" if len(data) > 4096 else str(len(data))
            raise InputError(f"raw config space must be 64 to 4096 bytes long, this file has {size}",
                             file=str(path))
        self._address = address or Address(0, 0, 0, 0)
        self._data = data

    def addresses(self) -> list[Address]:
        return [self._address]

    def read_config(self, addr: Address) -> bytes:
        if addr != self._address:
            raise InputError(f"no function {addr}", file=self.name)
        return self._data


def looks_raw(head: bytes) -> bool:
    """A file is raw config space when it is not text (lspci dumps are ASCII): `head` is its first 4096 bytes."""
    if not head:
        return False
    printable = len(head) - len(head.translate(None, _TEXT))
    return printable < len(head) * 0.95

"""Errors the kit raises: each names where the problem is (file, line, device, offset)."""

from __future__ import annotations


class PciError(Exception):
    """Base of every error the kit raises on purpose; `str()` is a one-line message for people."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        device: str | None = None,
        offset: int | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.device = device
        self.offset = offset
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.file is not None:
            where.append(f"{self.file}:{self.line}" if self.line is not None else self.file)
        if self.device is not None:
            where.append(self.device)
        if self.offset is not None:
            where.append(f"offset 0x{self.offset:x}")
        return f"{': '.join(where)}: {self.message}" if where else self.message


class InputError(PciError):
    """Input (a dump, a capture, a spec string) is malformed."""


class NotSupported(PciError):
    """The source cannot do this (a capture cannot be written, sysfs has no resourceN, ...)."""


class ReadOnlyError(NotSupported):
    """A write was attempted on a source that is read-only, or live and not opted in."""


class DeviceGone(PciError):
    """The device vanished or a read failed while it was being read (hot-unplug)."""


class SourceClosed(NotSupported):
    """The source was closed (its QEMU ended, its file was let go): nothing more can be read or written."""


class LimitReached(UserWarning):
    """A bound the kit sets on what it builds from one input (far above what a real machine gives) was
    reached: what was decoded before it is kept, the rest is left out.  Warned, not raised."""


def limit_reached(message: str, **where: object) -> None:
    """Say in one line (a `LimitReached` warning naming file, device, offset) that a limit was hit."""
    import warnings

    warnings.warn(LimitReached(str(PciError(message, **where))), stacklevel=3)  # type: ignore[arg-type]

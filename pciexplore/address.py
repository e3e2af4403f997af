"""PCI function addresses: [[domain:]bus:]device.function."""

from __future__ import annotations

from functools import total_ordering

from .errors import InputError

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _hex(text: str, most: int) -> bool:
    """1 to `most` hex digits (ASCII only, unlike int(text, 16), which takes "_", "0x" and blanks)."""
    return 0 < len(text) <= most and _HEX_DIGITS.issuperset(text)


@total_ordering  # from __eq__ and __lt__; sorting uses __lt__ itself
class Address:
    """domain, bus, device, function; immutable, hashable, ordered by those four numbers.  Written out
    rather than a dataclass: every command parses addresses, and dataclasses' import (inspect, ast, dis)
    cost each command's start-up more than the rest of it."""

    __slots__ = ("domain", "bus", "device", "function")
    domain: int
    bus: int
    device: int
    function: int

    def __init__(self, domain: int, bus: int, device: int, function: int) -> None:
        set_ = object.__setattr__
        set_(self, "domain", domain)
        set_(self, "bus", bus)
        set_(self, "device", device)
        set_(self, "function", function)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: an Address is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: an Address is immutable")

    def _key(self) -> tuple[int, int, int, int]:
        return (self.domain, self.bus, self.device, self.function)

    def __hash__(self) -> int:
        return hash((self.domain, self.bus, self.device, self.function))

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Address:
            return NotImplemented
        return self._key() == other._key()  # type: ignore[attr-defined]

    def __lt__(self, other: Address) -> bool:
        if other.__class__ is not Address:
            return NotImplemented
        return self._key() < other._key()

    def __repr__(self) -> str:
        return f"Address(domain={self.domain}, bus={self.bus}, device={self.device}, function={self.function})"

    def __reduce__(self) -> tuple:
        return (Address, self._key())

    @classmethod
    def parse(cls, text: str) -> Address:
        # split by hand rather than with a regex: compiling one costs every command's start-up
        head, dot, fn = text.strip().rpartition(".")
        parts = head.split(":")
        if not (dot and len(fn) == 1 and fn in "01234567" and 2 <= len(parts) <= 3
                and all(_hex(part, most) for part, most in zip(parts[::-1], (2, 2, 8), strict=False))):
            raise InputError(f"not a PCI address [[domain:]bus:]dev.fn: {text!r}")
        dom, bus, dev = int(parts[0], 16) if len(parts) == 3 else 0, int(parts[-2], 16), int(parts[-1], 16)
        if dev > 31:
            raise InputError(f"device number 0x{dev:x} > 0x1f in {text!r}")
        return cls(dom, bus, dev, int(fn))

    @property
    def short(self) -> str:
        """bus:dev.fn, as lspci prints it when every function is in domain 0."""
        return f"{self.bus:02x}:{self.device:02x}.{self.function}"

    def __str__(self) -> str:
        return f"{self.domain:04x}:{self.short}"


class Selector:
    """lspci's -s filter: [[domain]:][bus]:[slot][.[func]] where any part may be empty or '*'."""

    def __init__(self, text: str) -> None:
        self.text = text
        parts = text.split(":")
        if len(parts) > 3:
            raise InputError(f"bad -s selector {text!r}")
        slot_fn = parts[-1]
        bus = parts[-2] if len(parts) >= 2 else ""
        dom = parts[-3] if len(parts) == 3 else ""
        slot, _, fn = slot_fn.partition(".")
        self.domain = self._num(dom, 0x7FFFFFFF)  # libpci accepts any non-negative int
        self.bus = self._num(bus, 0xFF)
        self.device = self._num(slot, 0x1F)
        self.function = self._num(fn, 7)

    def _num(self, s: str, limit: int) -> int | None:
        if s in ("", "*"):
            return None
        try:
            v = int(s, 16)
        except ValueError:
            raise InputError(f"bad -s selector {self.text!r}: {s!r} is not hex") from None
        if v > limit:
            raise InputError(f"bad -s selector {self.text!r}: {s!r} out of range")
        return v

    def matches(self, a: Address) -> bool:
        return all(
            want is None or want == got
            for want, got in (
                (self.domain, a.domain),
                (self.bus, a.bus),
                (self.device, a.device),
                (self.function, a.function),
            )
        )


class IdFilter:
    """lspci's -d filter: [vendor]:[device][:class[:prog-if]], hex, empty or '*' for any; an 'x' digit
    in the class matches any digit there (libpci's filter)."""

    def __init__(self, text: str) -> None:
        self.text = text
        parts = text.split(":")
        if len(parts) > 4:
            raise InputError(f"bad -d filter {text!r}: too many fields")
        if len(parts) < 2:
            raise InputError(f"bad -d filter {text!r}: at least vendor:device must be given")
        parts += [""] * (4 - len(parts))
        self.vendor, _ = self._num(parts[0], 0xFFFF, "vendor ID")
        self.device, _ = self._num(parts[1], 0xFFFF, "device ID")
        self.cls, self.cls_mask = self._num(parts[2], 0xFFFF, "class code", wildcards=True)
        self.prog_if, _ = self._num(parts[3], 0xFF, "programming interface code")

    def _num(self, s: str, limit: int, what: str, wildcards: bool = False) -> tuple[int | None, int]:
        if s in ("", "*"):
            return None, 0
        value = bound = 0
        mask = 0xFFFFFFFF
        for c in s:
            if c in "xX" and wildcards:
                value, bound, mask = value << 4, bound << 4 | 1, (mask << 4) & 0xFFFFFFFF
            elif c in "0123456789abcdefABCDEF":
                d = int(c, 16)
                value, bound, mask = value << 4 | d, bound << 4 | d, ((mask << 4) | 0xF) & 0xFFFFFFFF
            else:
                raise InputError(f"bad -d filter {self.text!r}: invalid {what}")
            if bound > limit:
                raise InputError(f"bad -d filter {self.text!r}: invalid {what}")
        return value, mask

    def matches(self, vendor: int, device: int, cls: int, prog_if: int) -> bool:
        return ((self.vendor is None or self.vendor == vendor) and (self.device is None or self.device == device)
                and (self.cls is None or not (self.cls ^ cls) & self.cls_mask)
                and (self.prog_if is None or self.prog_if == prog_if))

"""Address.parse, written without a regex for start-up's sake, takes exactly the strings of the syntax
lspci's -s prints and sysfs names: [[domain:]bus:]device.function, hex (ASCII only), function 0-7."""

from __future__ import annotations

import itertools
import re

import pytest

from pciexplore import Address, InputError

# the syntax written as a regex (what Address.parse matched with before)
SYNTAX = re.compile(r"(?:([0-9a-fA-F]{1,8}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])")

PIECES = ["", "0", "00", "1f", "20", "ff", "FF", "100", "0000", "ffffffff", "123456789", ":", ".", "7", "8", " ",
          "0x1", "1_0", "\u0661", "g", "-1", "+1", "\n"]


def expected(text: str) -> Address | None:
    m = SYNTAX.fullmatch(text.strip())
    if not m or int(m[3], 16) > 31:
        return None
    return Address(int(m[1] or "0", 16), int(m[2], 16), int(m[3], 16), int(m[4]))


def cases() -> list[str]:
    made = {"0000:00:1f.7", "00:03.0", " 0001:02:03.4\n", "0:0.0", "0000:00:1f.8", "0000:00:20.0", "00:3.0.0",
            "0000:00:00.00", "a:b:c:d.0", "00:1f.7 ", "00:1F.7", "FFFFFFFF:FF:1F.7"}
    for a, b, c in itertools.product(PIECES, repeat=3):
        made.update({f"{a}:{b}.{c}", f"{a}:{b}:{c}.0", f"{a}{b}:{c}.1", f"0:{a}:{b}.{c}"})
    return sorted(made)


def test_parse_takes_exactly_the_syntax() -> None:
    for text in cases():
        want = expected(text)
        if want is None:
            with pytest.raises(InputError):
                Address.parse(text)
        else:
            assert Address.parse(text) == want, text

"""The dump reader's fast path (rows exactly as lspci prints them, checked column-wise) reads the same
bytes as `lspci -F`: a row broken by a stray newline or blank must not be taken as clean.  Damaged text
either reads as lspci reads it or is refused with our one-line error (a token that is not a hex byte).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from lspcicmp import LSPCI, lspci_text, our_text

from pciexplore import PciError

pytestmark = pytest.mark.skipif(not Path(LSPCI).exists(), reason="lspci not installed")


def rows(config: bytes) -> list[str]:
    return [f"{o:02x}: " + config[o:o + 16].hex(" ") for o in range(0, len(config), 16)]


def same_as_lspci(path: Path) -> bool:
    """Our -xxxx text equals lspci's, or we refuse the file with a one-line error."""
    try:
        ours = our_text(str(path), ["-xxxx"])
    except PciError as e:
        return "\n" not in str(e)
    return ours == lspci_text(str(path), ["-xxxx"])


def write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "d.lspci"
    path.write_text("00:00.0 Device\n" + "\n".join(lines) + "\n\n")
    return path


@pytest.mark.parametrize("column", [5, 44, 45, 46, 51])
@pytest.mark.parametrize("row", [0x03, 0xD1])  # a 2-digit and a 3-digit offset
@pytest.mark.parametrize("char", ["\n", " "])
def test_row_broken_inside(tmp_path: Path, row: int, column: int, char: str) -> None:
    lines = rows(bytes(range(256)) * 16)
    text = lines[row]
    lines[row] = text[:column] + char + text[column + 1:]
    assert same_as_lspci(write(tmp_path, lines))


def test_random_damage_reads_as_lspci_reads(tmp_path: Path) -> None:
    rnd = random.Random(8)
    clean = rows(bytes(rnd.randrange(256) for _ in range(4096)))
    for _ in range(12):
        text = "\n".join(clean)
        for _ in range(rnd.choice([1, 2])):
            at = rnd.randrange(len(text))
            text = text[:at] + rnd.choice("0f \n:") + text[at + rnd.choice([0, 1]):]
        assert same_as_lspci(write(tmp_path, text.split("\n"))), text

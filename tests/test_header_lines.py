"""The header lines (render/lspci_header.py: DeviceFacts' registers read at once, flag lines made once per
value, identity text made once per model) against lspci 3.9 on headers of random bytes: every header type
(normal, bridge, CardBus, an unknown one), cut at lengths where a register lies partly or wholly past the
end (libpci reads those as all ones).  The capability list bit is cleared (random capability bytes are
the capability renderers' tests, tests/test_fuzz.py)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from lspcicmp import LSPCI, lspci_text, our_text

pytestmark = [pytest.mark.lspci, pytest.mark.skipif(not Path(LSPCI).exists(), reason="lspci not installed")]

LENGTHS = (20, 48, 62, 64, 100, 128, 200, 256)


def _dump(path: Path, header_type: int, seed: int) -> Path:
    rng = random.Random(seed)
    lines = []
    for i in range(40):
        cfg = bytearray(rng.randrange(256) for _ in range(256))
        cfg[0x0E] = header_type | (0x80 if i & 1 else 0)  # PCI_HEADER_TYPE, multi-function bit on half
        if i % 3:
            cfg[0x0A:0x0C] = bytes([0x00 if header_type == 0 else 0x04 if header_type == 1 else 0x07, 0x06])
        cfg[0x06] &= ~0x10  # PCI_STATUS_CAP_LIST
        data = bytes(cfg[:LENGTHS[i % len(LENGTHS)]])
        lines.append(f"{i >> 3:02x}:{i & 7:02x}.0 Device")
        lines += [f"{o:02x}: {data[o:o + 16].hex(' ')}" for o in range(0, len(data), 16)]
        lines.append("")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("flags", [["-vvv"], ["-vv", "-nn"], ["-v"], [], ["-vmm"]], ids=" ".join)
@pytest.mark.parametrize("header_type", [0, 1, 2, 5])
def test_random_headers_read_as_lspci_reads_them(tmp_path: Path, header_type: int, flags: list[str]) -> None:
    dump = _dump(tmp_path / "h.lspci", header_type, seed=header_type)
    assert our_text(str(dump), flags) == lspci_text(str(dump), flags)

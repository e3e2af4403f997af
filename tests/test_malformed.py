"""Malformed input: `pciexplore show` either decodes what is sound (and, where lspci reads the same
input, prints what lspci prints -- broken pointers included) or exits non-zero with ONE line naming the
file, line/device and offset.  Never a traceback, never a hang.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from lspcicmp import LSPCI, lspci_text

REPO = Path(__file__).resolve().parents[1]
HEADER = "00: 86 80 34 12 07 00 10 00 01 00 00 02 00 00 00 00"
TIMEOUT = 30  # seconds: far above the ~0.3 s a run takes; reaching it means a hang


def show(path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "pciexplore", "show", *flags, str(path)], capture_output=True,
                          text=True, errors="surrogateescape", timeout=TIMEOUT, env=env, cwd=REPO)


def assert_one_line_error(run: subprocess.CompletedProcess[str], path: Path, *needles: str) -> str:
    assert run.returncode != 0, f"accepted bad input; printed:\n{run.stdout[:500]}"
    lines = run.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{run.stderr}"
    assert "Traceback" not in run.stderr
    assert str(path) in lines[0] or path.name in lines[0], lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def dump(tmp_path: Path, text: str | bytes, name: str = "d.lspci") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def config_lines(cfg: bytes) -> str:
    return "".join(f"{o:02x}: {cfg[o:o + 16].hex(' ')}\n" for o in range(0, len(cfg), 16))


# -- rejected with one line ---------------------------------------------------------------------------
@pytest.mark.parametrize("bad, needles", [
    (f"00:00.0 x\n{HEADER}\n10: 00 zz 00\n", (":3:", "offset 0x11", "'zz'")),
    (f"00:00.0 x\n{HEADER}\n10: 0\n", (":3:", "offset 0x10")),
    (f"00:00.0 x\n{HEADER}\n10: 123 00\n", (":3:", "'123'")),
    (f"00:00.0 x\n{HEADER}\nff0: " + " ".join(["00"] * 17) + "\n", (":3:", "4096", "offset 0x1000")),
    (f"00:00.0 x\n{HEADER}\n2000: 00\n", (":3:", "4096")),
    ("00:00.0 x\n00: 86 80 3\n", (":2:", "'3'")),  # cut mid-line
])
def test_bad_hex_is_one_line_with_place(tmp_path: Path, bad: str, needles: tuple[str, ...]) -> None:
    path = dump(tmp_path, bad)
    assert_one_line_error(show(path, "-vvv"), path, "0000:00:00.0", *needles)


@pytest.mark.parametrize("content", [b"", b"\n\n\n", b"hello world\nno dump here\n", b"\t00: 86 80\n"],
                         ids=["empty", "blank", "prose", "indented"])
def test_no_dump_found(tmp_path: Path, content: bytes) -> None:
    path = dump(tmp_path, content)
    assert_one_line_error(show(path), path, "no lspci dump")


@pytest.mark.parametrize("size", [1, 63, 4097, 100_000])
def test_binary_garbage_of_impossible_size(tmp_path: Path, size: int) -> None:
    path = dump(tmp_path, bytes((i * 37 + 0x80) & 0xFF | 0x80 for i in range(size)), "garbage.bin")
    assert_one_line_error(show(path), path, "64 to 4096 bytes")


def test_binary_garbage_of_config_size_decodes(tmp_path: Path) -> None:
    """4096 random-looking bytes are a legal raw config image: decoded, never a traceback."""
    path = dump(tmp_path, bytes((i * 131 + 7) & 0xFF | 0x80 for i in range(4096)), "garbage.bin")
    run = show(path, "-vvv")
    assert run.returncode == 0 and "Traceback" not in run.stderr
    assert run.stdout.startswith("00:00.0 ")


def test_huge_dump_is_refused_quickly(tmp_path: Path) -> None:
    from pciexplore.sources.dump import MAX_DUMP_BYTES

    path = tmp_path / "huge.lspci"
    with open(path, "wb") as f:
        f.write((("00:00.0 x\n" + HEADER + "\n") * 200).encode())  # looks like a dump from the start
        f.truncate(MAX_DUMP_BYTES + 4096)  # the rest sparse: costs no disk
    assert_one_line_error(show(path), path, "MiB")


def test_device_node_does_not_hang(tmp_path: Path) -> None:
    """/dev/zero never ends; reading it must stop (raw config is at most 4096 bytes)."""
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    run = show(Path("/dev/zero"))
    assert run.returncode != 0 and len(run.stderr.splitlines()) == 1, run.stderr


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.lspci"
    assert_one_line_error(show(path), path, "no such file")


# -- decoded, matching lspci (which reads these too) ----------------------------------------------------
def _cfg(length: int, first: int, chain: list[tuple[int, int, int]], status_caps: bool = True) -> bytes:
    cfg = bytearray(bytes.fromhex(HEADER.replace("00: ", "").replace(" ", ""))) + bytearray(length - 16)
    cfg[6] = 0x10 if status_caps else 0
    if length > 0x34:
        cfg[0x34] = first
    for at, cap_id, nxt in chain:
        if at + 1 < length:
            cfg[at], cfg[at + 1] = cap_id, nxt
    return bytes(cfg)


CHAINS = {
    "self-loop": _cfg(256, 0x40, [(0x40, 0x01, 0x40)]),
    "loop-back": _cfg(256, 0x40, [(0x40, 0x05, 0x50), (0x50, 0x01, 0x40)]),
    "into-header": _cfg(256, 0x40, [(0x40, 0x01, 0x04)]),
    "odd-offsets": _cfg(256, 0x43, [(0x40, 0x01, 0x4B), (0x48, 0x01, 0x00)]),
    "past-64-bytes": _cfg(64, 0x80, []),
    "past-the-end-of-256": _cfg(256, 0xFC, [(0xFC, 0x01, 0xFF)]),
    "broken-id-ff": _cfg(256, 0x40, [(0x40, 0xFF, 0x00)]),
    "truncated-32-bytes": _cfg(32, 0, []),
    "no-bytes": b"",
    "cap-bit-off": _cfg(256, 0x40, [(0x40, 0x01, 0x40)], status_caps=False),
}


@pytest.mark.lspci
@pytest.mark.parametrize("flags", [["-vvv"], ["-v"], ["-x"], ["-xxx"]], ids=lambda f: "".join(f))
@pytest.mark.parametrize("name", sorted(CHAINS))
def test_broken_chains_and_truncation_match_lspci(tmp_path: Path, name: str, flags: list[str]) -> None:
    path = dump(tmp_path, "00:00.0 Device\n" + config_lines(CHAINS[name]) + "\n")
    run = show(path, *flags)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert run.stdout == lspci_text(str(path), flags)


@pytest.mark.lspci
def test_extended_chain_loops_and_wild_pointers_match_lspci(tmp_path: Path) -> None:
    cfg = bytearray(CHAINS["self-loop"]) + bytearray(4096 - 256)
    cfg[0x40:0x44] = bytes([0x10, 0x00, 0x02, 0x00])  # an Express capability enables the extended walk
    cfg[0x100:0x104] = (0x0001 | 1 << 16 | 0x100 << 20).to_bytes(4, "little")  # AER pointing at itself
    text = "00:00.0 Device\n" + config_lines(bytes(cfg))
    cfg2 = bytearray(cfg)
    cfg2[0x100:0x104] = (0x0003 | 1 << 16 | 0x042 << 20).to_bytes(4, "little")  # DSN pointing below 0x100
    text += "\n00:01.0 Device\n" + config_lines(bytes(cfg2))
    path = dump(tmp_path, text + "\n")
    run = show(path, "-vvv")
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    want = lspci_text(str(path), ["-vvv"])
    assert "<chain looped>" in want
    ours, theirs = run.stdout.splitlines(), want.splitlines()
    # the walk's own lines: where each extended entry starts, and how the chain ends
    assert [ln for ln in ours if ln.startswith("\tCapabilities: [")] == \
        [ln for ln in theirs if ln.startswith("\tCapabilities: [")] or run.stdout == want


@pytest.mark.lspci
@pytest.mark.parametrize("variant", ["crlf", "quoted", "tabs-and-verbose", "domain", "uppercase"])
def test_pasted_dumps(tmp_path: Path, variant: str) -> None:
    """What people paste: we read the bytes lspci reads from the clean form."""
    corpus = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "qemu" / "q35-e1000e-nvme-virtio.lspci"
    if not corpus.exists():
        pytest.skip("shared corpus absent")
    clean = corpus.read_text()
    if variant == "crlf":
        text = clean.replace("\n", "\r\n")
    elif variant == "quoted":
        text = "".join("> " + ln + "\n" for ln in clean.splitlines())
    elif variant == "tabs-and-verbose":
        text = "".join(ln + "\n" + ("\tControl: I/O+ Mem+\n\t\tsome: text\n" if ln[:1].isdigit() and ln[2] == ":" and
                                    ln[5] == "." else "") for ln in clean.splitlines())
    elif variant == "domain":
        text = "".join(("0000:" + ln if ln[2:3] == ":" and ln[5:6] == "." else ln) + "\n" for ln in clean.splitlines())
    else:
        text = clean.upper().replace("HOST BRIDGE", "x")
    path = dump(tmp_path, text)
    run = show(path, "-vvv", "-nn")
    assert run.returncode == 0, run.stderr
    assert run.stdout == show(corpus, "-vvv", "-nn").stdout
    if variant in ("crlf", "tabs-and-verbose", "domain"):  # forms lspci itself reads
        assert lspci_text(str(path), ["-x"]) == lspci_text(str(corpus), ["-x"]) or variant == "domain"


def test_lspci_binary_is_the_reference() -> None:
    assert Path(LSPCI).name == "lspci"

"""Differential tests: `pciexplore show` must print exactly what the installed lspci (3.9) prints for the
same input and flags (-v..-vvv, -n/-nn, -x..-xxxx, -m/-mm, -k, -D, -P/-PP, -s, -d) -- every corpus dump, this machine's live devices, fake sysfs trees (root and
unprivileged views), and dumps generated here (header bytes, BARs of every type, bridge and CardBus
windows, broken capability chains).

A difference outside capability blocks always fails.  A difference inside them is an expected failure
only while a capability that lspci decodes has no renderer module yet (other engineers are writing
them); then the test names the missing renderers.
"""

from __future__ import annotations

import difflib
import os
import random
from pathlib import Path

import pytest
from conftest import corpus_dumps, corpus_file
from fuzzing import dump_text, mutate_config
from lspcicmp import lspci_text, options, our_text, unrendered_capabilities, without_capabilities

from pciexplore import open_source
from pciexplore.address import Address
from pciexplore.render.lspci import render_source
from pciexplore.sources.fake_sysfs import build_tree

pytestmark = pytest.mark.lspci

DUMP_FLAGS = [["-vvv", "-n"], ["-vvv", "-nn"], ["-vv"], ["-v"], [], ["-x"], ["-nn", "-xxxx"], ["-mm"],
              ["-vmm", "-nn"], ["-m"], ["-P"], ["-vPP", "-mm"], ["-d", "8086:"], ["-n", "-d", ":*:06xx"]]
LIVE_FLAGS = [["-vvv"], ["-vvv", "-nn"], ["-vvv", "-n"], ["-v"], [], ["-k"], ["-x"], ["-xxx"], ["-xxxx"], ["-D"],
              ["-vmmk"], ["-m"]]


def assert_same(want: str, got: str, what: str, missing: list[str] | None = None) -> None:
    """Full equality; an xfail (naming the renderers) only for capability lines of unrendered caps."""
    if want == got:
        return
    w, g = want.splitlines(), got.splitlines()
    wh, gh = without_capabilities(w), without_capabilities(g)
    if wh != gh:
        diff = "\n".join(list(difflib.unified_diff(wh, gh, "lspci", "pciexplore", lineterm="", n=1))[:60])
        pytest.fail(f"{what}: header lines differ from lspci:\n{diff}")
    if missing:
        pytest.xfail(f"{what}: capability renderers not written yet for {', '.join(missing)}")
    diff = "\n".join(list(difflib.unified_diff(w, g, "lspci", "pciexplore", lineterm="", n=1))[:60])
    pytest.fail(f"{what}: capability lines differ from lspci:\n{diff}")


# -- the shared corpus ----------------------------------------------------------------------------
@pytest.mark.parametrize("flags", DUMP_FLAGS, ids=lambda f: "".join(f) or "plain")
@pytest.mark.parametrize("path", corpus_dumps(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_corpus_dump(path: Path, flags: list[str]) -> None:
    want = lspci_text(str(path), flags)
    got = our_text(str(path), flags)
    assert want.strip() or "-d" in flags, "lspci printed nothing: the dump is not one it reads"
    assert_same(want, got, f"{path.name} {' '.join(flags)}",
                unrendered_capabilities(str(path)) if want != got else None)


def test_corpus_present(corpus: Path) -> None:
    """The corpus the suite relies on is where we expect it (skips cleanly when absent)."""
    assert len(corpus_dumps()) >= 40


# -- this machine ----------------------------------------------------------------------------------
def _live() -> bool:
    return Path("/sys/bus/pci/devices").is_dir() and any(Path("/sys/bus/pci/devices").iterdir())


@pytest.mark.skipif(not _live(), reason="no PCI devices in /sys/bus/pci/devices")
@pytest.mark.parametrize("flags", LIVE_FLAGS, ids=lambda f: "".join(f) or "plain")
def test_live_host(flags: list[str]) -> None:
    want = lspci_text(None, flags)
    with open_source(None) as src:
        got = render_source(src, options(flags))
    assert_same(want, got, f"live host {' '.join(flags)}", unrendered_capabilities(None) if want != got else None)


def _live_configs() -> list[tuple[Address, bytes]]:
    base = Path("/sys/bus/pci/devices")
    return [(Address.parse(d.name), (d / "config").read_bytes()) for d in sorted(base.iterdir())]


@pytest.mark.skipif(not _live(), reason="no PCI devices in /sys/bus/pci/devices")
@pytest.mark.parametrize("readable", [None, 64], ids=["root", "unprivileged"])
@pytest.mark.parametrize("flags", [["-vvv"], ["-vv", "-nn"], ["-v"], ["-xxx"], [], ["-x"]],
                         ids=lambda f: "".join(f) or "plain")
def test_fake_sysfs_tree(tmp_path: Path, readable: int | None, flags: list[str]) -> None:
    """The sysfs source over a tree lspci also reads (-A linux-sysfs): same kernel view, same text."""
    devices = build_tree(tmp_path, _live_configs(), readable_config=readable)
    want = lspci_text(None, [*flags, "-A", "linux-sysfs", "-O", f"sysfs.path={tmp_path}"])
    with open_source(str(devices)) as src:
        got = render_source(src, options(flags))
        if readable == 64 and "-vvv" in flags:
            assert "\tCapabilities: <access denied>" in want.splitlines()
    assert_same(want, got, f"fake sysfs {readable} {' '.join(flags)}",
                unrendered_capabilities(str(devices)) if want != got else None)


def test_terse_output_reads_the_header_only_as_lspci_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """lspci's scan_device reads 64 config bytes (128 for a CardBus bridge) and the terse line and -x need no
    more; on a live host every further dword is a config cycle.  -v reads the whole config space."""
    from pciexplore.sources.sysfs import SysfsSource

    def config(ids: str, cls: bytes, htype: int) -> bytes:
        cfg = bytearray(256)
        cfg[0:4], cfg[0x0A:0x0C], cfg[0x0E], cfg[6], cfg[0x34] = bytes.fromhex(ids), cls, htype, 0x10, 0x40
        cfg[0x40:0x44] = b"\x01\x00\x03\x00"  # Power Management: past the 64 bytes of the header
        return bytes(cfg)

    fns = [(Address(0, 0, 2, 0), config("86801e15", b"\x00\x02", 0)),
           (Address(0, 0, 0x1C, 0), config("8680109d", b"\x04\x06", 1)),
           (Address(0, 0, 0x1F, 0), config("8680c0ac", b"\x07\x06", 2))]  # CardBus: 128 bytes
    devices = build_tree(tmp_path, fns)
    asked: list[int] = []
    real = SysfsSource._read_config
    monkeypatch.setattr(SysfsSource, "_read_config", lambda self, addr, length, note_limit:
                        asked.append(length) or real(self, addr, length, note_limit))
    for flags in ([], ["-x"]):
        asked.clear()
        with open_source(str(devices)) as src:
            got = render_source(src, options(flags))
        assert got == lspci_text(None, [*flags, "-A", "linux-sysfs", "-O", f"sysfs.path={tmp_path}"])
        assert sorted(asked) == [64] * len(fns) + [128], flags
    asked.clear()
    with open_source(str(devices)) as src:
        render_source(src, options(["-v"]))
    assert asked == [4096] * len(fns)


def test_a_short_config_file_is_shown_like_lspci_without_the_root_note(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A 64-byte config file (a copied or fake tree) reads like the unprivileged view: lspci's <access
    denied>; but it is not a permission limit, so `show` adds no note about root."""
    from pciexplore.cli import main

    cfg = bytearray(256)
    cfg[0:4] = bytes.fromhex("f41a4110")
    cfg[6] = 0x10  # Status: capability list
    cfg[0x34] = 0x40
    cfg[0x40:0x42] = b"\x11\x00"
    devices = build_tree(tmp_path, [(Address(0, 0, 3, 0), bytes(cfg))], readable_config=64)
    assert main(["show", "-vvv", str(devices)]) == 0
    out, err = capsys.readouterr()
    assert "\tCapabilities: <access denied>\n" in out
    assert err == ""


SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.mark.lspci
@pytest.mark.skipif(os.geteuid() != 0 or not Path(SYSTEM_PYTHON).exists() or not Path("/usr/sbin/runuser").exists(),
                    reason="needs root (to become nobody), runuser and a system python3 that nobody may run")
def test_unprivileged_live_host_matches_lspci_and_says_why_once() -> None:
    """As user nobody the kernel gives 64 bytes of each config file: our text equals lspci's, run as nobody
    too, and one note on stderr says why capabilities are missing."""
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    devices = [d for d in Path("/sys/bus/pci/devices").iterdir() if (d / "config").stat().st_size > 64]
    if not devices:
        pytest.skip("no function with more than 64 bytes of config space")

    def as_nobody(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(["/usr/sbin/runuser", "-u", "nobody", "--", *argv], capture_output=True, text=True,
                              cwd="/", env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(repo)}, timeout=60)

    ours = as_nobody(SYSTEM_PYTHON, "-m", "pciexplore", "show", "-vvv")
    theirs = as_nobody("lspci", "-vvv")
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout
    assert "<access denied>" in ours.stdout
    note = [line for line in ours.stderr.splitlines() if line]
    assert len(note) == 1 and "64 bytes" in note[0] and "run as root" in note[0], ours.stderr
    assert str(len(devices)) in note[0].split("for ")[1]  # "... readable for N function(s) ..."


# -- generated dumps -------------------------------------------------------------------------------
def _bar(rng: random.Random) -> list[int]:
    """One BAR of a random kind: 1 dword, or 2 for 64-bit memory."""
    kind = rng.randrange(9)
    addr = rng.choice([0, rng.getrandbits(32), rng.getrandbits(12) << 20, 0xFFFFFFF0])
    if kind == 0:
        return [0]
    if kind == 1:  # I/O
        return [(rng.choice([0, rng.getrandbits(16), rng.getrandbits(32)]) & ~3) | 1]
    if kind == 2:
        return [(addr & ~0xF) | rng.choice([0, 8])]  # 32-bit memory
    if kind == 3:
        return [(addr & ~0xF) | 2]  # below 1M (legacy type)
    if kind == 4:
        return [(addr & ~0xF) | 6 | rng.choice([0, 8])]  # reserved type 3
    if kind == 5:
        return [0xFFFFFFFF]
    return [(addr & ~0xF) | 4 | rng.choice([0, 8]), rng.choice([0, 1, rng.getrandbits(32), 0xFFFFFFFF])]


def _randomise_header(cfg: bytearray, rng: random.Random, htype: int) -> None:
    put = cfg.__setitem__
    put(slice(4, 8), rng.getrandbits(32).to_bytes(4, "little"))  # Command, Status (Cap bit included)
    if rng.random() < 0.7:
        cfg[6] = (cfg[6] & ~0x10) | (0x10 if rng.random() < 0.8 else 0)
    cfg[8] = rng.choice([0, rng.randrange(256)])
    if rng.random() < 0.4:  # a class that names or does not name, bridges on non-bridge headers
        cls = rng.choice([0x060400, 0x060700, 0x010180, 0x01018A, 0x0101FF, 0x0C0330, 0xFF0000, 0x123456,
                          rng.getrandbits(24)])
        cfg[9:12] = cls.to_bytes(3, "little")
    cfg[0x0C] = rng.choice([0, 8, 16, rng.randrange(256)])
    cfg[0x0D] = rng.randrange(256)
    cfg[0x0E] = htype | (0x80 if rng.random() < 0.3 else 0)
    cfg[0x0F] = rng.choice([0, 0x80, 0xC0, 0x85, rng.randrange(256)])
    if htype == 0:
        bars: list[int] = []
        while len(bars) < 6:
            bars += _bar(rng)
        for i, value in enumerate(bars[:6]):
            cfg[0x10 + 4 * i:0x14 + 4 * i] = value.to_bytes(4, "little")
        cfg[0x2C:0x30] = rng.choice([bytes(4), b"\xff\xff\xff\xff", rng.randbytes(4), cfg[0:4]])
        cfg[0x30:0x34] = rng.choice([0, 1, rng.getrandbits(32), 0xFFFFF801, 0xFFFFFFFF]).to_bytes(4, "little")
        cfg[0x3C:0x40] = bytes([rng.randrange(256), rng.choice([0, 1, 2, 3, 4, 5, rng.randrange(256)]),
                                rng.choice([0, rng.randrange(256)]), rng.choice([0, rng.randrange(256)])])
    elif htype == 1:
        bars = _bar(rng) + _bar(rng)
        for i, value in enumerate(bars[:2]):
            cfg[0x10 + 4 * i:0x14 + 4 * i] = value.to_bytes(4, "little")
        cfg[0x18:0x1C] = bytes([rng.randrange(4), rng.randrange(256), rng.randrange(256), rng.randrange(256)])
        io_type = rng.choice([0, 1, 2, 0xF])
        cfg[0x1C] = rng.randrange(16) << 4 | io_type
        cfg[0x1D] = rng.randrange(16) << 4 | rng.choice([io_type, io_type, 0, 1])
        cfg[0x1E:0x20] = rng.getrandbits(16).to_bytes(2, "little")
        for reg in (0x20, 0x24):
            typ = rng.choice([0, 0, 1, 2]) if reg == 0x24 else rng.choice([0, 0, 0, 1])
            base, limit = rng.getrandbits(12) << 4, rng.getrandbits(12) << 4
            if rng.random() < 0.5:
                limit = base
            cfg[reg:reg + 2] = (base | typ).to_bytes(2, "little")
            cfg[reg + 2:reg + 4] = (limit | rng.choice([typ, typ, typ ^ 1])).to_bytes(2, "little")
        cfg[0x28:0x34] = rng.choice([bytes(12), rng.randbytes(12)])
        cfg[0x38:0x3C] = rng.choice([0, 1, rng.getrandbits(32)]).to_bytes(4, "little")
        cfg[0x3C:0x40] = bytes([rng.randrange(256), rng.randrange(6)]) + rng.getrandbits(16).to_bytes(2, "little")
    else:  # CardBus: windows, legacy base, subsystem at 0x40
        cfg[0x10:0x14] = (_bar(rng)[0]).to_bytes(4, "little")
        cfg[0x16:0x18] = rng.getrandbits(16).to_bytes(2, "little")
        cfg[0x18:0x1C] = rng.randbytes(4)
        for reg in (0x1C, 0x24):
            base = rng.getrandbits(20) << 12
            cfg[reg:reg + 4] = base.to_bytes(4, "little")
            cfg[reg + 4:reg + 8] = rng.choice([base, base + 0x1000, base - 0x2000 & 0xFFFFF000]).to_bytes(4, "little")
        for reg in (0x2C, 0x34):
            cfg[reg:reg + 4] = rng.choice([rng.getrandbits(32), rng.getrandbits(16) | rng.choice([0, 1])]).to_bytes(4, "little")
            cfg[reg + 4:reg + 8] = rng.getrandbits(32).to_bytes(4, "little")
        cfg[0x3C:0x40] = bytes([rng.randrange(256), rng.randrange(6)]) + rng.getrandbits(16).to_bytes(2, "little")
        if len(cfg) >= 0x48:
            cfg[0x40:0x48] = rng.randbytes(8)


def _chain_cases() -> list[bytes]:
    """Capability chains lspci prints in particular ways: loops, header pointers, 0xff, the end."""
    def device(length: int, chain: list[tuple[int, int, int]], first: int) -> bytes:
        cfg = bytearray(b"\x86\x80\x34\x12\x07\x00\x10\x00\x01\x00\x00\x02\x00\x00\x00\x00") + bytearray(length - 16)
        cfg[0x34] = first
        for at, cap_id, nxt in chain:
            if at + 1 < length:
                cfg[at] = cap_id
                cfg[at + 1] = nxt
        return bytes(cfg)

    return [
        device(256, [(0x40, 0x01, 0x40)], 0x40),                       # self-loop
        device(256, [(0x40, 0x05, 0x50), (0x50, 0x09, 0x40)], 0x40),   # loop back to the first
        device(256, [(0x40, 0x01, 0x08)], 0x40),                       # into the header
        device(256, [(0x40, 0x01, 0x57)], 0x41),                       # odd offsets (low bits ignored)
        device(256, [(0x40, 0xFF, 0x00)], 0x40),                       # id 0xff: broken
        device(64, [], 0x40),                                          # lspci -x dump: access denied
        device(64, [], 0x3D),                                          # ... pointer inside the 64 bytes
        device(256, [(0xFC, 0x01, 0x00)], 0xFF),                       # last dword
        device(256, [(0x40, 0x00, 0x44), (0x44, 0x00, 0x00)], 0x40),   # Null capabilities
    ]


def _long_name_cases() -> list[bytes]:
    """Ids whose names overflow lspci's 128/256-byte buffers (cut to "...")."""
    out = []
    for ids, sub in (("b3151710", "b3156800"), ("b3151710", "b3152501"), ("1d118f80", "1d118f80")):
        cfg = bytearray(64)
        cfg[0:4], cfg[4:8], cfg[8:12], cfg[0x2C:0x30] = bytes.fromhex(ids), b"\x06\x04\x10\x00", b"\0\0\0\x02", \
            bytes.fromhex(sub)
        out.append(bytes(cfg))
    return out


def generated_functions(seed: int) -> list[bytes]:
    rng = random.Random(seed)
    configs = [fn.config for p in corpus_dumps() for fn in open_source(p).functions()] or [bytes(256)]
    out = _chain_cases() + _long_name_cases()
    for _ in range(160):
        cfg = bytearray(rng.choice(configs))
        htype = rng.choice([0, 0, 0, 1, 1, 2, 3, 0x7F])
        if htype == 2 and rng.random() < 0.5:
            cfg = cfg[:rng.choice([64, 128, 256])]
        if len(cfg) < 64:
            cfg += bytes(64 - len(cfg))
        if htype in (0, 1, 2):
            _randomise_header(cfg, rng, htype)
        else:
            cfg[0x0E] = htype
            cfg[0x10:0x40] = rng.randbytes(0x30)
        if rng.random() < 0.2:
            cfg = bytearray(mutate_config(bytes(cfg), rng)[0])
        if rng.random() < 0.15:
            cfg = cfg[:64]
        out.append(bytes(cfg))
    return out


@pytest.fixture(scope="module")
def generated_dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    seed = int(os.environ.get("PCIEXPLORE_DIFF_SEED", "20261125"))
    fns = [(f"{i // 32:02x}:{i % 32:02x}.0", cfg) for i, cfg in enumerate(generated_functions(seed))]
    path = tmp_path_factory.mktemp("generated") / f"generated-{seed}.lspci"
    path.write_text(dump_text(fns))
    return path


# lspci -P recurses without end (SIGSEGV) on bridges placed behind each other, which the generator makes
@pytest.mark.parametrize("flags", [f for f in DUMP_FLAGS if not any("P" in x for x in f)] + [["-vvv", "-xxx"], ["-D", "-v"]],
                         ids=lambda f: "".join(f) or "plain")
def test_generated_dumps(generated_dump: Path, flags: list[str]) -> None:
    want = lspci_text(str(generated_dump), flags)
    got = our_text(str(generated_dump), flags)
    assert_same(want, got, f"generated {' '.join(flags)}",
                unrendered_capabilities(str(generated_dump)) if want != got else None)


def test_generated_cases_are_varied() -> None:
    """The generator reaches every header layout and every BAR kind (a generator that did not would
    make the comparison above prove little)."""
    fns = generated_functions(1)
    htypes = {cfg[0x0E] & 0x7F for cfg in fns}
    assert {0, 1, 2} <= htypes and htypes - {0, 1, 2}
    bar_kinds = {int.from_bytes(cfg[0x10:0x14], "little") & 7 for cfg in fns if cfg[0x0E] & 0x7F == 0}
    assert {0, 1, 2, 4, 6} <= bar_kinds | {b & 6 for b in bar_kinds}
    assert any(len(cfg) == 64 for cfg in fns)


# -- pciexplore tree (lspci -t) and ls ---------------------------------------------------------------
TREE_FLAGS = [[], ["-v"], ["-v", "-nn"], ["-s", "01:"], ["-s", "00:1c.0"], ["-s", "2:"], ["-d", "1957:"],
              ["-v", "-d", ":*:0c03"]]


def _tree(path: str | None, flags: list[str]) -> str:
    from pciexplore.render.lspci_header import function_filter
    from pciexplore.render.tree import tree_text

    selector = flags[flags.index("-s") + 1] if "-s" in flags else None
    opts = options([f for f in flags if f != "-s" and f != selector])
    with open_source(path) as src:
        return tree_text(src, function_filter(selector, opts.ids), bool(opts.verbose), opts.numeric)


@pytest.mark.parametrize("flags", TREE_FLAGS, ids=lambda f: "".join(f) or "plain")
def test_tree_matches_lspci_t(generated_dump: Path, flags: list[str]) -> None:
    paths = [str(p) for p in corpus_dumps()] + [str(generated_dump)] + ([None] if _live() else [])
    for path in paths:
        assert _tree(path, flags) == lspci_text(path, ["-t", *flags]), f"{path} -t {' '.join(flags)}"


def test_tree_draws_nested_bridges() -> None:
    """A bridge behind a bridge nests in the drawing (so the comparison above sees real trees)."""
    if not any(p.name == "tree-fsl-p2020.lspci" for p in corpus_dumps()):
        pytest.skip("shared corpus absent")
    text = _tree(str(corpus_file("pciutils-tests/tree-fsl-p2020.lspci")), [])
    assert "-[05]----00.0" in text and text.count("\n") == 4


def test_ls_columns_agree_with_lspci_n() -> None:
    """`ls` ids and class are lspci -n's for every corpus function (and the live host)."""
    from pciexplore.commands.ls import ls_text

    for path in [str(p) for p in corpus_dumps()] + ([None] if _live() else []):
        with open_source(path) as src:
            ours = [line.split()[1:3] for line in ls_text(src).splitlines()]
        theirs = [[line.split()[2], line.split()[1].rstrip(":")] for line in lspci_text(path, ["-n"]).splitlines()]
        assert ours == theirs, path


def test_bridge_path_survives_bridges_behind_each_other(generated_dump: Path) -> None:
    """Where lspci -P crashes (bridge A behind B behind A), we print a finite path for every function."""
    text = our_text(str(generated_dump), ["-P"])
    assert len(text.splitlines()) == len(open_source(generated_dump).functions())

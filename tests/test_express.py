"""The PCI Express capability block must be exactly what the installed lspci (3.9) prints, at -v, -vv
and -vvv: for every corpus dump, and for generated config spaces with an Express capability of every
Device/Port Type, versions 0-15, edge and random register values and BAR shapes (has_mem_bar), at
device 00.0 and elsewhere (lspci hides LnkCap2/LnkCtl2 of endpoints that are not 00.0).

The block is the "\tCapabilities: [xx] Express" line and its continuation lines (those starting with
two tabs), i.e. up to the next "\tCapabilities:" line or the end of the device.

    python tests/test_express.py [N [SEED]]   # compare N generated images (default 5000) and the corpus
"""

from __future__ import annotations

import random
import re
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import corpus_dumps
from lspcicmp import lspci_text, our_text

from pciexplore.regs.caps.express import PCI_CAP_ID_EXP, PORT_TYPES

VERBOSITY = ("-v", "-vv", "-vvv")
_SLOT = re.compile(r"^(?:[0-9a-f]{4,5}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-7] ")
_EXPRESS = re.compile(r"^\tCapabilities: \[([0-9a-f]{2})\] Express ")


def express_blocks(text: str) -> dict[tuple[str, str], list[str]]:
    """{(device address, capability offset): the Express block's lines} from lspci-style text."""
    blocks: dict[tuple[str, str], list[str]] = {}
    device = ""
    current: list[str] | None = None
    for line in text.splitlines():
        if _SLOT.match(line):
            device, current = line.split(" ", 1)[0], None
            continue
        if current is not None and line.startswith("\t\t"):
            current.append(line)
            continue
        current = None
        m = _EXPRESS.match(line)
        if m:
            current = blocks.setdefault((device, m[1]), [])
            current.append(line)
    return blocks


def compare_blocks(path: str, flags: list[str]) -> tuple[int, int, list[str]]:
    """(lspci's Express blocks we reproduce exactly, lspci's Express blocks, first differences)."""
    want = express_blocks(lspci_text(path, flags))
    got = express_blocks(our_text(path, flags))
    problems = []
    same = 0
    for key, lines in want.items():
        if got.get(key) == lines:
            same += 1
        elif len(problems) < 5:
            ours = got.get(key, [])
            diff = next((i for i, (a, b) in enumerate(zip(lines, ours, strict=False)) if a != b),
                        min(len(lines), len(ours)))
            problems.append(f"{path} {' '.join(flags)} {key}: line {diff}: lspci "
                            f"{lines[diff] if diff < len(lines) else '<end>'!r} vs ours "
                            f"{ours[diff] if diff < len(ours) else '<end>'!r}")
    for key in got.keys() - want.keys():
        if len(problems) < 5:
            problems.append(f"{path} {' '.join(flags)} {key}: we print an Express block lspci does not")
    return same, len(want) + len(got.keys() - want.keys()), problems


# -- generated config spaces -----------------------------------------------------------------------
_TYPES = sorted(PORT_TYPES)


def _value(rng: random.Random, width: int) -> int:
    """A register value: all zeros, all ones, one bit, or random (the edges lspci's decoders branch on)."""
    top = (1 << (8 * width)) - 1
    pick = rng.random()
    if pick < 0.1:
        return 0
    if pick < 0.2:
        return top
    if pick < 0.3:
        return 1 << rng.randrange(8 * width)
    return rng.getrandbits(8 * width)


def _bars(rng: random.Random, count: int) -> list[int]:
    """BAR dwords: empty, all ones, I/O, 32-bit or 64-bit memory (with its high half)."""
    out: list[int] = []
    while len(out) < count:
        kind = rng.choice(("empty", "empty", "ones", "io", "mem32", "mem64"))
        if kind == "empty":
            out.append(0)
        elif kind == "ones":
            out.append(0xFFFFFFFF)
        elif kind == "io":
            out.append(rng.getrandbits(16) & ~3 | 1)
        elif kind == "mem32":
            out.append(rng.getrandbits(32) & ~0xF | rng.choice((0, 8)))
        else:
            out.append(rng.getrandbits(32) & ~0xF | 4 | rng.choice((0, 8)))
            out.append(rng.getrandbits(32) if rng.random() < 0.5 else 0)
    return out[:count]


def express_image(rng: random.Random) -> bytes:
    """256 bytes of config space whose capability list holds one Express capability (maybe after a PM one)."""
    cfg = bytearray(256)
    htype = rng.choice((0, 0, 0, 1, 1, 2))
    cfg[0:4] = (0x1234 | rng.getrandbits(16) << 16).to_bytes(4, "little")
    cfg[0x06] = 0x10  # PCI_STATUS_CAP_LIST
    cfg[0x09:0x0C] = bytes((0, rng.getrandbits(8), rng.choice((0x01, 0x02, 0x06, 0x0C, 0xFF))))
    cfg[0x0E] = htype
    count = {0: 6, 1: 2, 2: 1}[htype]
    for i, dword in enumerate(_bars(rng, count)):
        cfg[0x10 + 4 * i:0x14 + 4 * i] = dword.to_bytes(4, "little")
    # the Express capability anywhere in the list area; near the end its -vv registers are cut off
    where = rng.randrange(0x48, 0x100, 4) if rng.random() < 0.85 else rng.randrange(0xC8, 0x100, 4)
    if htype == 2:
        where = max(where, 0x88)  # keep the CardBus header (0x40-0x7f) apart
    ptr_at = 0x14 if htype == 2 else 0x34
    if rng.random() < 0.3:  # a PM capability first
        cfg[ptr_at] = 0x40 if htype != 2 else where - 8
        pm = cfg[ptr_at]
        cfg[pm:pm + 2] = bytes((0x01, where))
        cfg[pm + 2:pm + 4] = (0x0003).to_bytes(2, "little")
    else:
        cfg[ptr_at] = where
    version = rng.choice((1, 2, 2, 2, rng.randrange(16)))
    ptype = rng.choice(_TYPES) if rng.random() < 0.93 else rng.choice((2, 3, 11, 12, 15))
    flags = version | ptype << 4 | rng.getrandbits(1) << 8 | rng.getrandbits(5) << 9 | rng.getrandbits(2) << 14
    body = bytearray((PCI_CAP_ID_EXP, 0)) + flags.to_bytes(2, "little")
    for offset, width in ((0x04, 4), (0x08, 2), (0x0A, 2), (0x0C, 4), (0x10, 2), (0x12, 2), (0x14, 4),
                          (0x18, 2), (0x1A, 2), (0x1C, 2), (0x1E, 2), (0x20, 4), (0x24, 4), (0x28, 2),
                          (0x2A, 2), (0x2C, 4), (0x30, 2), (0x32, 2), (0x34, 4), (0x38, 2), (0x3A, 2)):
        assert len(body) == offset
        body += _value(rng, width).to_bytes(width, "little")
    cfg[where:where + len(body)] = body[:256 - where]
    if rng.random() < 0.1:  # a shorter dump: the registers past its end are not available to -vv
        return bytes(cfg[:rng.randrange(where + 16, 0x110, 16) & ~15])
    return bytes(cfg)


def _address(i: int, rng: random.Random) -> str:
    """Unique bus per image; device/function 00.0 for a quarter of them, anything otherwise."""
    if i % 4 == 0:
        return f"{i:02x}:00.0"
    return f"{i:02x}:{rng.randrange(32):02x}.{rng.randrange(8)}"


def write_dump(path: Path, images: list[bytes], rng: random.Random) -> None:
    """Images as lspci -xxx text (at most 256 of them: one bus each)."""
    lines = []
    for i, cfg in enumerate(images):
        lines.append(f"{_address(i, rng)} Class {cfg[0x0B]:02x}{cfg[0x0A]:02x}: Device {cfg[0]:02x}{cfg[1]:02x}")
        lines += [f"{row:02x}: {cfg[row:row + 16].hex(' ')}" for row in range(0, len(cfg), 16)]
        lines.append("")
    path.write_text("\n".join(lines) + "\n")


def generated_run(count: int, seed: int, workdir: Path) -> tuple[int, int, list[str]]:
    """Generate `count` images, compare their Express blocks with lspci at -v/-vv/-vvv: (same, total, diffs)."""
    rng = random.Random(seed)
    same = total = 0
    problems: list[str] = []
    for chunk, start in enumerate(range(0, count, 256)):
        images = [express_image(rng) for _ in range(min(256, count - start))]
        path = workdir / f"express-{seed}-{chunk}.lspci"
        write_dump(path, images, rng)
        for flag in VERBOSITY:
            s, t, p = compare_blocks(str(path), [flag])
            same, total, problems = same + s, total + t, problems + p
    return same, total, problems


# -- tests -----------------------------------------------------------------------------------------
@pytest.mark.lspci
@pytest.mark.parametrize("dump", corpus_dumps(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_corpus_express_blocks_match_lspci(dump: Path) -> None:
    for flag in VERBOSITY:
        same, total, problems = compare_blocks(str(dump), [flag, "-nn"])
        assert same == total, "\n".join(problems)


@pytest.mark.lspci
@pytest.mark.parametrize("seed", [1, 2])
def test_generated_express_blocks_match_lspci(seed: int, tmp_path: Path) -> None:
    same, total, problems = generated_run(300, seed, tmp_path)
    assert total >= 3 * 300  # every image has its block
    assert same == total, f"{total - same} of {total} blocks differ:\n" + "\n".join(problems)


#: registers lspci never prints (no fields it decodes), and the two it may leave out (see below)
_UNPRINTED = {"PCI_EXP_FLAGS", "PCI_EXP_DEVSTA2", "PCI_EXP_SLTCAP2", "PCI_EXP_SLTCTL2", "PCI_EXP_SLTSTA2"}
_LABEL_LINE = re.compile(r"^\t\t(\w+):")


@pytest.mark.lspci
def test_declared_registers_are_the_ones_lspci_prints(tmp_path: Path) -> None:
    """The declaration's `when` (port type, slot, version) must select the registers lspci shows at -vv."""
    from pciexplore import open_source

    rng = random.Random(11)
    images = [express_image(rng) for _ in range(256)]
    path = tmp_path / "when.lspci"
    write_dump(path, images, rng)
    printed = {dev: {m[1] for line in lines if (m := _LABEL_LINE.match(line))}
               for (dev, _), lines in express_blocks(lspci_text(str(path), ["-vv"])).items()}
    checked = 0
    with open_source(str(path)) as src:
        for fn in src.functions():
            cap = fn.cap("exp")
            if cap is None or len(fn.config) < cap.offset + 0x3C:
                continue  # lspci prints only the first line when the registers are cut off
            declared = {rv.decl.label for rv in cap.registers() if rv.name not in _UNPRINTED}
            seen = printed[fn.address.short]
            # lspci omits LnkCap2 when it reads 0, and LnkCap2/LnkCtl2 of endpoints other than 00.0
            assert seen <= declared and declared - seen <= {"LnkCap2", "LnkCtl2"}, (fn.address, declared, seen)
            checked += 1
    assert checked > 150


@pytest.mark.lspci
def test_port_type_reaches_extended_capabilities(tmp_path: Path) -> None:
    """ctx.state["exp_type"] is what lspci passes to show_ext_caps: AER shows its root registers
    (RootCmd) exactly when the last Express capability says Root Port or Event Collector."""
    from pciexplore.render.lspci import ecap_renderers

    if 0x0001 not in ecap_renderers():
        pytest.skip("no AER renderer yet")
    rng = random.Random(12)
    images = []
    for _ in range(128):
        cfg = bytearray(express_image(rng).ljust(256, b"\0")) + bytearray(4096 - 256)
        where = cfg[0x14] if cfg[0x0E] == 2 else cfg[0x34]
        if rng.random() < 0.3 and cfg[where + 1] == 0 and where + 0x40 < 0xFC:  # a second Express cap
            second = rng.randrange(where + 0x40, 0xFC, 4)
            cfg[where + 1] = second
            flags = rng.choice(_TYPES) << 4 | 2
            cfg[second:second + 4] = bytes((PCI_CAP_ID_EXP, 0)) + flags.to_bytes(2, "little")
        cfg[0x100:0x104] = (0x00010001).to_bytes(4, "little")  # AER, version 1, last
        cfg[0x104:0x138] = rng.randbytes(0x34)
        images.append(bytes(cfg))
    path = tmp_path / "aer.lspci"
    write_dump(path, images, rng)

    def root_lines(text: str) -> dict[str, bool]:
        out: dict[str, bool] = {}
        device = ""
        for line in text.splitlines():
            if _SLOT.match(line):
                device = line.split(" ", 1)[0]
                out[device] = False
            elif line.startswith("\t\tRootCmd:"):
                out[device] = True
        return out

    want = root_lines(lspci_text(str(path), ["-vv"]))
    assert 10 < sum(want.values()) < len(want)  # both outcomes occur
    assert root_lines(our_text(str(path), ["-vv"])) == want
    # here the registers of a capability near 0xff run on into extended space, which lspci reads too
    same, total, problems = compare_blocks(str(path), ["-vv"])
    assert same == total > len(images), "\n".join(problems)  # some images have two Express caps


@pytest.mark.lspci
def test_express_blocks_match_lspci_through_sysfs(tmp_path: Path) -> None:
    """Through sysfs lspci takes BAR placement from `resource`, not config space (AtomicOpsCap)."""
    import subprocess

    from lspcicmp import LSPCI

    from pciexplore import Address
    from pciexplore.render.lspci import LspciOptions, render_source
    from pciexplore.sources.fake_sysfs import build_tree
    from pciexplore.sources.sysfs import SysfsSource

    rng = random.Random(13)
    functions, sizes = [], {}
    for n in range(200):
        addr = Address(0, n >> 3, n & 7, 0) if n % 3 else Address(0, n, 0, 0)
        functions.append((addr, express_image(rng).ljust(256, b"\0")))
        sizes[addr] = {i: 1 << rng.randrange(4, 20) for i in range(6) if rng.random() < 0.3}
    devices = build_tree(tmp_path, functions, sizes)
    cmd = [LSPCI, "-vv", "-A", "linux-sysfs", "-O", f"sysfs.path={devices.parent}"]
    want = express_blocks(subprocess.run(cmd, capture_output=True, check=True).stdout.decode("latin-1"))
    got = express_blocks(render_source(SysfsSource(devices), LspciOptions(verbose=2)))
    assert len(want) == 200 and sum(any("AtomicOpsCap" in line for line in b) for b in want.values()) > 10
    bad = [key for key in want if want[key] != got.get(key)]
    assert not bad, f"{len(bad)} of 200 differ, first {bad[0]}:\n" + "\n".join(want[bad[0]] + got.get(bad[0], []))


def _simple_image(ptype: int, registers: dict[int, tuple[int, int]]) -> bytes:
    """A type-0 function with one version-2 Express capability at 0x40; `registers` {offset: (value, width)}."""
    cfg = bytearray(256)
    cfg[0:4] = b"\x34\x12\x78\x56"
    cfg[0x06], cfg[0x34] = 0x10, 0x40
    cfg[0x40:0x44] = bytes((PCI_CAP_ID_EXP, 0)) + (2 | ptype << 4 | 1 << 8).to_bytes(2, "little")
    for offset, (value, width) in registers.items():
        cfg[0x40 + offset:0x40 + offset + width] = value.to_bytes(width, "little")
    return bytes(cfg)


@pytest.mark.lspci
def test_every_power_limit_encoding_matches_lspci(tmp_path: Path) -> None:
    """All 1024 value/scale pairs of the slot power limit, in DevCap (upstream port) and SltCap (root port)."""
    pairs = [(value, scale) for scale in range(4) for value in range(256)]
    images = [_simple_image(5, {0x04: (v << 18 | s << 26, 4)}) for v, s in pairs]
    images += [_simple_image(4, {0x14: (v << 7 | s << 15, 4)}) for v, s in pairs]
    rng = random.Random(0)
    same = total = 0
    problems: list[str] = []
    for chunk in range(0, len(images), 256):
        path = tmp_path / f"power-{chunk}.lspci"
        write_dump(path, images[chunk:chunk + 256], rng)
        s, t, p = compare_blocks(str(path), ["-vv"])
        same, total, problems = same + s, total + t, problems + p
    assert total == len(images) and same == total, "\n".join(problems)


def test_declaration_is_well_formed() -> None:
    """Fields inside their register, never overlapping; registers inside the 0x3c-byte v2 structure."""
    from pciexplore.regs.caps.express import EXPRESS

    assert EXPRESS.key == "exp" and EXPRESS.cap_id == PCI_CAP_ID_EXP and EXPRESS.length == 0x3C
    ends = 0
    for r in EXPRESS.registers:
        assert r.name.startswith("PCI_EXP_") and r.offset >= ends and r.label, r.name
        ends = r.offset + r.width
        used = 0
        for f in r.fields:
            assert f.name.startswith(r.name + "_") and 0 <= f.lo <= f.hi < 8 * r.width, f.name
            assert not used & f.mask, f"{f.name} overlaps another field"
            assert all(0 <= v < 1 << f.width for v in (f.values or {})), f.name
            used |= f.mask


LINUX_PCI_REGS = Path("/usr/include/linux/pci_regs.h")


def test_names_masks_and_offsets_agree_with_linux_pci_regs_h() -> None:
    """Every register and field whose name Linux defines has Linux's offset / mask."""
    from pciexplore.regs.caps.express import EXPRESS

    if not LINUX_PCI_REGS.exists():
        pytest.skip(f"{LINUX_PCI_REGS} (Debian package linux-libc-dev) not installed")
    linux = {m[1]: int(m[2], 0) for m in re.finditer(r"^#define\s+(PCI_EXP_\w+)\s+(0x[0-9a-fA-F]+|\d+)\b",
                                                     LINUX_PCI_REGS.read_text(), re.M)}
    known = {r.name: r.offset for r in EXPRESS.registers if r.name in linux}
    known |= {f.name: f.mask for r in EXPRESS.registers for f in r.fields if f.name in linux}
    assert {name: linux[name] for name in known} == known
    assert len(known) > 140  # Linux 6.1's header names 148 of ours


def test_generator_covers_every_port_type_and_both_layouts() -> None:
    """The generator must reach the shapes the renderer branches on, or the comparison proves little."""
    rng = random.Random(3)
    seen_types, seen_versions, cut = set(), set(), 0
    for _ in range(400):
        cfg = express_image(rng)
        where = cfg[0x34] if cfg[0x0E] != 2 else cfg[0x14]
        if cfg[where] != PCI_CAP_ID_EXP:
            where = cfg[where + 1]
        flags = int.from_bytes(cfg[where + 2:where + 4], "little")
        seen_types.add(flags >> 4 & 0xF)
        seen_versions.add(flags & 0xF)
        cut += where + 0x24 > 256
    assert set(PORT_TYPES) <= seen_types and {1, 2} <= seen_versions and cut > 0


def test_block_extraction_stops_at_the_next_capability() -> None:
    text = ("00:01.0 PCI bridge: x\n\tCapabilities: [40] Express (v2) Root Port (Slot+), MSI 00\n"
            "\t\tDevCap:\tMaxPayload 128 bytes\n\tCapabilities: [80] MSI: Enable-\n\t\tAddress: 0\n\n"
            "00:02.0 Foo: y\n\tCapabilities: [40] Express (v1) Endpoint, MSI 00\n")
    blocks = express_blocks(text)
    assert blocks[("00:01.0", "40")] == ["\tCapabilities: [40] Express (v2) Root Port (Slot+), MSI 00",
                                         "\t\tDevCap:\tMaxPayload 128 bytes"]
    assert blocks[("00:02.0", "40")] == ["\tCapabilities: [40] Express (v1) Endpoint, MSI 00"]


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else 5000
    seed = int(argv[1]) if len(argv) > 1 else 20261125
    with tempfile.TemporaryDirectory() as tmp:
        same, total, problems = generated_run(count, seed, Path(tmp))
    print(f"generated: {count} images, {same}/{total} Express blocks identical to lspci "
          f"({100 * same / max(total, 1):.2f}%)")
    for p in problems[:20]:
        print("   ", p)
    c_same = c_total = 0
    for dump in corpus_dumps():
        for flag in VERBOSITY:
            s, t, p = compare_blocks(str(dump), [flag, "-nn"])
            c_same, c_total = c_same + s, c_total + t
            for line in p:
                print("   ", line)
    print(f"corpus: {c_same}/{c_total} Express blocks identical to lspci ({100 * c_same / max(c_total, 1):.2f}%)")
    return 0 if same == total and c_same == c_total else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

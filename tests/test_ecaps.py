"""Extended capabilities: every block we print must equal the installed lspci's (pciutils 3.9).

A block runs from "\tCapabilities: [xxx" (a 3-digit offset: extended) to the next "\tCapabilities:"
line or the end of the device.  Inputs: every dump of the shared corpus, and generated 4096-byte
config spaces -- a minimal Express capability (every port type) plus a chain of extended capabilities
with random and edge values -- written as lspci dump text and read by `lspci -F`.

    python tests/test_ecaps.py [N]   # N generated images (default 300) + the corpus; prints match rates
"""

from __future__ import annotations

import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import corpus_dumps  # noqa: E402

from pciexplore import open_source  # noqa: E402
from pciexplore.render.lspci import LspciOptions, render_function  # noqa: E402

LSPCI = shutil.which("lspci") or "/usr/bin/lspci"
PCI_CAP_ID_PCIX = 0x07  # with Express, the capabilities after which lspci shows extended ones
PCI_CAP_ID_EXP = 0x10
_EXT_BLOCK = re.compile(r"^\tCapabilities: \[[0-9a-f]{3}[\] ]")

Blocks = list[tuple[str, list[str]]]  # (device line, extended capability blocks)


# -- block extraction ---------------------------------------------------------------------------
def ext_blocks(text: str) -> Blocks:
    """Per device: its first line and each extended capability block, as lspci would print them."""
    out: Blocks = []
    current: list[str] | None = None
    block: list[str] | None = None
    for line in text.splitlines():
        if line and not line.startswith("\t"):
            current = []
            out.append((line.split(" ", 1)[0], current))
            block = None
        elif current is not None and _EXT_BLOCK.match(line):
            block = [line]
            current.append("")
        elif block is not None and line.startswith("\t\t"):
            block.append(line)
        else:
            block = None
        if block is not None and current:
            current[-1] = "\n".join(block)
    return out


def lspci_blocks(path: Path, verbose: int) -> Blocks:
    res = subprocess.run([LSPCI, "-" + "v" * verbose, "-F", str(path)], capture_output=True, text=True,
                         timeout=60)
    return ext_blocks(res.stdout)


def our_blocks(path: Path, verbose: int) -> Blocks:
    opts = LspciOptions(verbose=verbose)
    out: Blocks = []
    with open_source(str(path)) as src:
        for fn in src.functions():
            out += ext_blocks(render_function(fn, opts))
    return out


def compare(path: Path, verbose: int) -> tuple[int, int, list[tuple[str, str]]]:
    """(matching blocks, lspci's blocks, [(lspci block, our block)] for each mismatch)."""
    want, got = lspci_blocks(path, verbose), our_blocks(path, verbose)
    assert len(want) == len(got), f"{path}: lspci shows {len(want)} functions, we show {len(got)}"
    match = total = 0
    bad: list[tuple[str, str]] = []
    for (_, blocks), (_, mine) in zip(want, got, strict=True):  # both in address order
        for i, w in enumerate(blocks):
            total += 1
            g = mine[i] if i < len(mine) else "<missing>"
            if g == w:
                match += 1
            else:
                bad.append((w, g))
        bad += [("<missing>", g) for g in mine[len(blocks):]]
    return match, total, bad


# -- generated config spaces --------------------------------------------------------------------
#: PCI_EXP_TYPE_* (endpoint ... root complex event collector, 3 and 15 reserved); None: PCI-X, no Express
EXP_TYPES = (0, 1, 4, 5, 6, 7, 8, 9, 10, 3, 15, None)


def _dump_text(images: list[bytes]) -> str:
    """lspci -xxxx style text: one function per image, bus 0x10 onwards."""
    lines = []
    for n, cfg in enumerate(images):
        lines.append(f"{0x10 + n // 256:02x}:{(n // 8) % 32:02x}.{n % 8} Class 0200: Device 1234:5678")
        lines += [f"{off:03x}: " + " ".join(f"{b:02x}" for b in cfg[off:off + 16]) for off in range(0, len(cfg), 16)]
        lines.append("")
    return "\n".join(lines)


class Image:
    """A 4096-byte config space being built: header, one Express capability, an extended chain."""

    def __init__(self, rng: random.Random, exp_type: int | None) -> None:
        self.rng = rng
        self.cfg = bytearray(4096 + 0x100)  # room for a capability that runs past the end (cut off later)
        bridge = exp_type in (4, 5, 6, 7, 8, None)
        struct.pack_into("<HHHH", self.cfg, 0, 0x1234, 0x5678, 0x0000, 0x0010)  # status: capability list
        self.cfg[0x0B] = 0x06 if bridge else 0x02
        self.cfg[0x0E] = 0x01 if bridge else 0x00
        self.cfg[0x34] = 0x40
        if exp_type is None:  # a PCI-X bridge: lspci shows extended caps with port type -1
            struct.pack_into("<BBH", self.cfg, 0x40, PCI_CAP_ID_PCIX, 0, 0)
        else:  # Express capability v2, no slot, with the port type under test
            struct.pack_into("<BBH", self.cfg, 0x40, PCI_CAP_ID_EXP, 0, (exp_type << 4) | 2)
        self.exp_type = exp_type
        self.last_header: int | None = None
        self.at = 0x100

    def word(self, bits: int) -> int:
        """A random value, biased towards edges: all zero, all ones, one bit, or random."""
        r = self.rng.random()
        if r < 0.15:
            return 0
        if r < 0.3:
            return (1 << bits) - 1
        if r < 0.4:
            return 1 << self.rng.randrange(bits)
        return self.rng.getrandbits(bits)

    def fill(self, off: int, length: int) -> None:
        for i in range(0, length, 4):
            struct.pack_into("<I", self.cfg, off + i, self.word(32))

    def add(self, cap_id: int, length: int, version: int | None = None, body: Callable | None = None,
            at: int | None = None) -> int | None:
        """Append a capability of `length` bytes (header included); returns its offset or None if full.
        `at` places it there even if it does not fit in 4096 bytes (its tail is then cut off)."""
        length = (length + 3) & ~3
        if at is None and self.at + length > 4096:
            return None
        where = self.at if at is None else at
        self.fill(where + 4, length - 4)
        if body is not None:
            body(self, where)
        ver = self.rng.randrange(16) if version is None else version
        struct.pack_into("<I", self.cfg, where, cap_id | ver << 16)
        if self.last_header is not None:
            h = struct.unpack_from("<I", self.cfg, self.last_header)[0]
            struct.pack_into("<I", self.cfg, self.last_header, h | where << 20)
        self.last_header = where
        self.at = where + length
        return where


def _put(img: Image, off: int, fmt: str, *vals: int) -> None:
    struct.pack_into(fmt, img.cfg, off, *vals)


def _vc(img: Image, where: int) -> None:
    evc = img.rng.randrange(8)
    h = img.word(32) & ~7 | evc
    _put(img, where + 4, "<I", h)
    img.fill(where + 0x10, 12 * (evc + 1))


def _rclink(img: Image, where: int) -> None:
    esd = struct.unpack_from("<I", img.cfg, where + 4)[0] & ~0xFF00 | img.rng.randrange(4) << 8
    _put(img, where + 4, "<I", esd)


def _rebar(img: Image, where: int) -> None:
    nbars = img.rng.choice((0, 1, 2, 3, 6, 7))
    ctrl = struct.unpack_from("<I", img.cfg, where + 8)[0] & ~0xE0 & ~0x3F00
    _put(img, where + 8, "<I", ctrl | nbars << 5 | img.rng.randrange(48) << 8)
    for i in range(1, 6):
        c = struct.unpack_from("<I", img.cfg, where + 8 + 8 * i)[0] & ~0x3F00
        _put(img, where + 8 + 8 * i, "<I", c | img.rng.randrange(48) << 8)


def _rcec(img: Image, where: int) -> None:
    if img.rng.random() < 0.3:  # "no associated buses": next bus ff, last bus 00
        _put(img, where + 8, "<I", 0x0000FF00)


def _cxl(dvsec_id: int, length: int, rev: int | None = None) -> Callable:
    def body(img: Image, where: int) -> None:
        r = img.rng.randrange(4) if rev is None else rev
        _put(img, where + 4, "<I", 0x1E98 | r << 16 | length << 20)
        _put(img, where + 8, "<H", dvsec_id)
        if dvsec_id == 9:
            _put(img, where + 0x0A, "<H", img.rng.randrange(20))
        if dvsec_id == 0:  # keep range type/class/interleave inside the tables lspci indexes
            for lo in (0x1C, 0x2C):
                v = struct.unpack_from("<I", img.cfg, where + lo)[0] & ~0x1FFC
                _put(img, where + lo, "<I", v | img.rng.randrange(3) << 2 | img.rng.randrange(3) << 5
                     | img.rng.randrange(8) << 8)
    return body


def _dvsec_other(img: Image, where: int) -> None:
    vendor = img.rng.choice((0x8086, 0x1E98, 0x1234))
    length = img.rng.choice((8, 12, 15, 0x40))
    _put(img, where + 4, "<I", vendor | img.rng.randrange(16) << 16 | length << 20)
    _put(img, where + 8, "<H", img.rng.choice((1, 6, 10, 0x20)))


#: (extended capability id, length, body builder or None): what generated chains are made of
CATALOGUE: list[tuple[int, int, Callable | None]] = [
    (0x00, 4, None), (0x01, 0x38, None), (0x02, 0x10, _vc), (0x09, 0x10, _vc), (0x03, 12, None),
    (0x04, 0x10, None), (0x05, 0x10, _rclink), (0x06, 0x0C, None), (0x07, 0x0C, _rcec), (0x08, 0x10, None),
    (0x0A, 0x10, None), (0x0B, 0x10, None), (0x0D, 0x08, None), (0x0E, 0x08, None), (0x0F, 0x08, None),
    (0x10, 0x40, None), (0x11, 0x10, None), (0x12, 0x30, None), (0x13, 0x10, None), (0x15, 0x34, _rebar),
    (0x16, 0x10, None), (0x17, 0x0C, None), (0x18, 0x08, None), (0x19, 0x10, None), (0x1A, 0x10, None),
    (0x1B, 0x08, None), (0x1C, 0x08, None), (0x1D, 0x10, None), (0x1E, 0x10, None), (0x1F, 0x0C, None),
    (0x20, 0x10, None), (0x21, 0x10, None), (0x22, 0x0C, None), (0x23, 0x40, _dvsec_other),
    (0x23, 0x38, _cxl(0, 0x38)), (0x23, 0x2C, _cxl(2, 0x2C)), (0x23, 0x28, _cxl(3, 0x28)),
    (0x23, 0x10, _cxl(4, 0x10)), (0x23, 0x10, _cxl(5, 0x10)), (0x23, 0x20, _cxl(7, 0x20)),
    (0x23, 0x24, _cxl(8, 0x24)), (0x23, 0x10, _cxl(9, 0x10)), (0x23, 0x10, _cxl(6, 0x10)),
    (0x24, 0x34, _rebar), (0x25, 0x0C, None), (0x26, 0x24, None), (0x27, 0x10, None), (0x28, 0x20, None),
    (0x29, 0x10, None), (0x2A, 0x24, None), (0x2B, 0x18, None), (0x2C, 0x14, None), (0x2E, 0x18, None),
    (0x30, 0x10, None), (0x45, 0x08, None),
]


def _chaos(img: Image) -> None:
    """Random bytes everywhere after 0x100 and a chain of any ids whose pointers go anywhere: below
    0x100, unaligned, back, past the end."""
    rng = img.rng
    for off in range(0x100, 0x1000, 4):
        struct.pack_into("<I", img.cfg, off, img.word(32))
    ids = [c[0] for c in CATALOGUE] + [0x2F, 0x31, 0xFFFF]
    where = 0x100
    for _ in range(rng.randrange(1, 20)):
        nxt = rng.choice((0, rng.randrange(0x100, 0x1000, 4), rng.randrange(0, 0x1000, 4), rng.randrange(0x100, 0x1000)))
        struct.pack_into("<I", img.cfg, where, rng.choice(ids) | rng.randrange(16) << 16 | nxt << 20)
        where = nxt & ~3
        if where < 4:
            break
    img.at = 4096


def generate(seed: int) -> bytes:
    """One config space: random chain; some chains loop back, some images stop early (a short dump),
    some are chaos (random bytes, pointers anywhere)."""
    rng = random.Random(seed)
    img = Image(rng, rng.choice(EXP_TYPES))
    if rng.random() < 0.1:
        _chaos(img)
        return bytes(img.cfg[:4096 if rng.random() < 0.8 else rng.randrange(0x110, 4097, 16)])
    for _ in range(rng.randrange(1, 12)):
        cap_id, length, body = rng.choice(CATALOGUE)
        if img.add(cap_id, length, body=body) is None:
            break
    if rng.random() < 0.1:  # the last capability starts in the final bytes and runs past 4096
        cap_id, length, body = rng.choice(CATALOGUE)
        img.add(cap_id, length, body=body, at=rng.randrange(max(img.at, 0xF80), 0xFFD, 4))
    if img.last_header is not None and rng.random() < 0.05:
        h = struct.unpack_from("<I", img.cfg, img.last_header)[0]
        struct.pack_into("<I", img.cfg, img.last_header, h | rng.choice((0x100, img.last_header)) << 20)
    if rng.random() < 0.2:  # truncated: the dump ends inside (or just after) the chain
        return bytes(img.cfg[:rng.randrange(0x110, min(img.at + 0x20, 4096) + 1, 16)])
    return bytes(img.cfg[:4096])


def generated_dumps(count: int, directory: Path, per_file: int = 50) -> list[Path]:
    """`count` generated images (seeds 0..count-1) written as dump files, `per_file` functions each."""
    paths = []
    for start in range(0, count, per_file):
        path = directory / f"gen{start}.lspci"
        path.write_text(_dump_text([generate(s) for s in range(start, min(count, start + per_file))]))
        paths.append(path)
    return paths


# -- tests --------------------------------------------------------------------------------------
def _assert_same(path: Path, verbose: int) -> int:
    match, total, bad = compare(path, verbose)
    assert not bad, "\n\n".join(f"lspci:\n{w}\nours:\n{g}" for w, g in bad[:3])
    return total


@pytest.mark.lspci
@pytest.mark.parametrize("dump", [p for p in corpus_dumps()], ids=lambda p: p.name)
def test_corpus_ext_blocks_match_lspci(dump: Path) -> None:
    for verbose in (1, 2, 3):
        _assert_same(dump, verbose)


@pytest.mark.lspci
@pytest.mark.parametrize("verbose", [1, 2, 3])
def test_generated_ext_blocks_match_lspci(verbose: int, tmp_path: Path) -> None:
    total = sum(_assert_same(p, verbose) for p in generated_dumps(400, tmp_path))
    assert total > 2000  # the generator really produced extended capabilities


#: registers a declaration says exist only sometimes (`when`), and the word lspci prints for them
CONDITIONAL = {"aer": ("PCI_ERR_ROOT_COMMAND", "RootCmd:"), "rcec": ("PCI_RCEC_BUSN", "AssociatedBusNumbers:")}


@pytest.mark.lspci
def test_conditional_registers_exist_exactly_when_lspci_shows_them(tmp_path: Path) -> None:
    """The declarations' `when` (AER root registers, RCEC bus numbers from version 2) against lspci."""
    checked = 0
    for path in corpus_dumps() + generated_dumps(400, tmp_path):
        want = lspci_blocks(path, 2)
        with open_source(str(path)) as src:
            functions = src.functions()
        for fn, (_, blocks) in zip(functions, want, strict=True):
            by_offset = {int(b[16:19], 16): b for b in blocks}
            for cap in fn.capabilities:
                if cap.key not in CONDITIONAL or cap.offset not in by_offset:
                    continue
                name, word = CONDITIONAL[cap.key]
                present = any(r.name == name and r.value is not None for r in cap.registers())
                assert present == (word in by_offset[cap.offset]), f"{path.name} {fn.address} {cap!r}"
                checked += 1
    assert checked > 50


LANE_REGISTERS = {"secpci": "PCI_SECPCI_LE_CTRL", "pl16": "PCI_PL_16GT_LE_CTRL", "pl32": "PCI_PL_32GT_LE_CTRL",
                  "lmr": "PCI_LMR_LANE_CTRL"}


@pytest.mark.lspci
def test_per_lane_registers_follow_the_link_width_lspci_reports(corpus: Path) -> None:
    checked = 0
    for path in corpus_dumps():
        text = subprocess.run([LSPCI, "-vv", "-F", str(path)], capture_output=True, text=True, timeout=60).stdout
        widths = [int(m[1]) if m else 0 for m in (re.search(r"\tLnkCap:.*Width x(\d+)", dev) for dev in text.split("\n\n") if dev.strip())]
        with open_source(str(path)) as src:
            functions = src.functions()
        for fn, width in zip(functions, widths, strict=True):
            for cap in fn.capabilities:
                if cap.key in LANE_REGISTERS:
                    lanes = [r for r in cap.registers() if r.name.startswith(LANE_REGISTERS[cap.key])]
                    assert len(lanes) == max(width, 1), f"{path.name} {fn.address} {cap.key}"
                    checked += 1
    assert checked >= 4


def test_vc_arbitration_table_covers_exactly_the_implemented_bytes(corpus: Path) -> None:
    """cap-vc-pat (a PLX 8532 switch port): VC arbitration with WRR32 supported, table at 0x1b8; the
    device implements 16 bytes there (zeros) and reads all-ones after them: 32 phases of 4 bits."""
    from pciexplore.regs.ecaps.vc import arbitration_tables

    with open_source(str(corpus / "pciutils-tests" / "cap-vc-pat.lspci")) as src:
        fn = src.functions()[0]
    (table,) = arbitration_tables(fn.cap("vc"))
    assert (table.offset, table.layout.length) == (0x1B8, 16)
    assert all(rv.value == 0 for rv in table.registers())
    assert fn.read(table.offset + table.layout.length, 4) == 0xFFFFFFFF


def test_port_arbitration_table_packs_phases_from_bit_0(tmp_path: Path) -> None:
    """PCIe 6.0 §7.9.1.10: phase 0 in the lowest bits of the first DWORD; WRR64 with 2-bit entries
    is 64 phases in 4 DWORDs.  Bytes e4 1b: phases 0-3 = 0, 1, 2, 3 and 4-7 = 3, 2, 1, 0."""
    from pciexplore.regs.ecaps.vc import arbitration_tables

    img = Image(random.Random(0), 4)
    img.cfg[0x100:0x200] = bytes(0x100)
    struct.pack_into("<IIIHH", img.cfg, 0x100, 0x00010002, 1 << 10, 0, 0, 0)  # VC v1; 2-bit PAT entries
    struct.pack_into("<I", img.cfg, 0x110, 4 << 24 | 1 << 2)  # VC0: WRR64 supported, PAT at +0x40
    img.cfg[0x140:0x142] = b"\xe4\x1b"
    path = tmp_path / "pat.lspci"
    path.write_text(_dump_text([bytes(img.cfg[:4096])]))
    with open_source(str(path)) as src:
        fn = src.functions()[0]
    (table,) = arbitration_tables(fn.cap("vc"))
    assert (table.offset, table.layout.length, table.layout.key) == (0x140, 16, "port_arb_table")
    first = table["PCI_VC_PORT_ARB_TABLE_0"]
    assert [first[f"PCI_VC_PORT_ARB_TABLE_PHASE{n}"] for n in range(8)] == [0, 1, 2, 3, 3, 2, 1, 0]


QEMU_SPEC = ("qemu:e1000e@root-port+virtio-net-pci,ats=on,aer=on@switch+nvme,serial=x@root-port"
             "+virtio-rng-pci,ats=on+pcie-pci-bridge+virtio-balloon-pci,ats=on,aer=on@root-port")


@pytest.mark.qemu
@pytest.mark.lspci
def test_qemu_device_models_ext_blocks_match_lspci(tmp_path: Path) -> None:
    """QEMU's own root ports, switch ports and endpoints (AER, ACS, ATS, DSN), read over qtest."""
    with open_source(QEMU_SPEC) as src:
        images = [fn.config for fn in src.functions()]
    path = tmp_path / "qemu.lspci"
    path.write_text(_dump_text(images))
    assert sum(_assert_same(path, v) for v in (2, 3)) >= 30


def test_block_extraction_stops_at_next_capability() -> None:
    text = ("00:01.0 x\n\tCapabilities: [40] Express\n\t\tDevCap: x\n\tCapabilities: [100 v1] DSN\n"
            "\t\tfoo\n\tCapabilities: [148 v1] Null\n\tKernel driver in use: y\n\n01:00.0 z\n")
    assert ext_blocks(text) == [("00:01.0", ["\tCapabilities: [100 v1] DSN\n\t\tfoo",
                                             "\tCapabilities: [148 v1] Null"]), ("01:00.0", [])]


# -- declarations against Linux's pci_regs.h ---------------------------------------------------
PCI_REGS_H = Path("/usr/include/linux/pci_regs.h")
#: masks PCIe 5.0/6.0 widened after the kernel header in Debian 12 was cut: ours must contain theirs
WIDENED = {"PCI_REBAR_CAP_SIZES", "PCI_REBAR_CTRL_BAR_SIZE"}
#: sub-structures declared on their own, and where the first one sits in the capability
SUB_LAYOUTS = (("vc", "VC_RESOURCE", 0x10), ("rc", "RCLD_LINK", 0x10), ("rebar", "REBAR_ENTRY", 0x04))


def _linux_defines() -> dict[str, int]:
    if not PCI_REGS_H.exists():
        pytest.skip(f"{PCI_REGS_H} (Debian package linux-libc-dev) not installed")
    text = PCI_REGS_H.read_text()
    return {m[1]: int(m[2], 0) for m in re.finditer(r"^#define\s+(PCI_\w+)\s+(0x[0-9a-fA-F]+|\d+)\b(?!\s*\()", text, re.M)}


def _declared() -> list[tuple[object, int]]:
    import importlib

    from pciexplore import regs

    subs = [(getattr(importlib.import_module(f"pciexplore.regs.ecaps.{m}"), name), base) for m, name, base in SUB_LAYOUTS]
    return [(lay, 0) for lay in regs.ecap_layouts().values()] + subs


def test_ecap_ids_offsets_and_masks_agree_with_linux() -> None:
    """Every id, register offset and field mask whose name Linux defines has Linux's value."""
    linux = _linux_defines()
    checked = 0
    wrong = []
    for lay, base in _declared():
        for r in lay.registers:
            if r.name in linux:
                checked += 1
                if linux[r.name] != r.offset + base:
                    wrong.append(f"{r.name}: offset {r.offset + base:#x}, Linux {linux[r.name]:#x}")
            for f in r.fields:
                if f.name not in linux:
                    continue
                checked += 1
                theirs = linux[f.name]
                if f.mask != theirs and not (f.name in WIDENED and f.mask & theirs == theirs):
                    wrong.append(f"{r.name}.{f.name}: mask {f.mask:#x}, Linux {theirs:#x}")
    assert not wrong, "\n".join(wrong)
    assert checked > 250
    # every extended capability Linux knows is declared (but the obsolete 0x0c and AMD's reserved 0x14)
    linux_ids = {v: k for k, v in linux.items() if k.startswith("PCI_EXT_CAP_ID_") and k != "PCI_EXT_CAP_ID_MAX"}
    ours = {lay.cap_id for lay in _declared_top()}
    assert set(linux_ids) - ours <= {0x0C, 0x14}, sorted(linux_ids[i] for i in set(linux_ids) - ours)


def test_ecap_declarations_are_well_formed() -> None:
    keys = set()
    for lay, _ in _declared():
        assert lay.key not in keys and lay.key == lay.key.lower()
        keys.add(lay.key)
        if lay.cap_id is not None and lay in _declared_top():
            assert lay.extended
        seen = set()
        for r in lay.registers:
            assert r.name.startswith("PCI_") and r.width in (1, 2, 4, 8), r.name
            assert r.name not in seen, f"{lay.key}: {r.name} declared twice"
            seen.add(r.name)
            used = 0
            for f in r.fields:
                assert f.name.startswith("PCI_") and 0 <= f.lo <= f.hi < 8 * r.width, f"{r.name}.{f.name}"
                assert not used & f.mask, f"{r.name}.{f.name} overlaps another field"
                used |= f.mask


def _declared_top() -> list[object]:
    from pciexplore import regs

    return list(regs.ecap_layouts().values())


def _kind(block: str) -> str:
    """What a block is, without its values: "Advanced Error Reporting", "Extended Capability ID 0x2a"."""
    title = block.split("\n", 1)[0].split("] ", 1)[-1]
    return re.split(r":| <| [0-9a-f]{2}-", title, maxsplit=1)[0].strip() or "(nothing printed)"


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else 300
    tmp = tempfile.TemporaryDirectory()
    for label, paths in (("corpus", corpus_dumps()), ("generated", generated_dumps(count, Path(tmp.name)))):
        kinds: dict[str, int] = {}
        for verbose in (1, 2, 3):
            m = t = 0
            shown = 0
            for p in paths:
                pm, pt, bad = compare(p, verbose)
                m, t = m + pm, t + pt
                for w, g in bad:
                    if shown < 12:
                        print(f"--- {p.name} -{'v' * verbose}\nlspci:\n{w}\nours:\n{g}")
                    shown += 1
                if verbose == 2:
                    for _, blocks in lspci_blocks(p, 2):
                        for b in blocks:
                            kinds[_kind(b)] = kinds.get(_kind(b), 0) + 1
            print(f"{label} -{'v' * verbose}: {m}/{t} blocks match" + (f" = {100 * m / t:.2f}%" if t else ""))
        print(f"{label} blocks by kind (-vv): " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

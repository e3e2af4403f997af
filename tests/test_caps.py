"""Standard capabilities (all but PCI Express) against the installed lspci 3.9, block by block.

A capability block is its "\tCapabilities: [xx] ..." line and the "\t\t..." lines under it.  For
every corpus dump and for config spaces GENERATED here (seeded random capability contents with
edge values: truncated dumps, 32/64-bit MSI, every HyperTransport type and revision, virtio and
non-virtio vendor capabilities, EA entries of every size, ...), each block we render must equal
lspci's block for the same dump, byte for byte.  Also: damaged images (unbiased random bytes), VPD
through a fake sysfs tree (lspci reads VPD only from sysfs), this host's devices, and the declared
offsets/masks against Linux's pci_regs.h and virtio_pci.h.

    python tests/test_caps.py [N_DEVICES]   # prints how many images/blocks were compared, the match
                                            # rate and the first differences
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from pciexplore import open_source
from pciexplore.regs import cap_layouts
from pciexplore.render.lspci import LspciOptions, render_source

sys.path.insert(0, str(Path(__file__).parent))
from conftest import corpus_dumps  # noqa: E402
from lspcicmp import LSPCI, lspci_text  # noqa: E402

PCI_CAP_ID_EXP = 0x10  # rendered by render/caps/express.py, tested elsewhere
_DEVICE_LINE = re.compile(r"^(?:[0-9a-f]{4,5}:)?([0-9a-f]{2}:[0-9a-f]{2}\.[0-7]) ")
_STD_CAP_LINE = re.compile(r"^\tCapabilities: \[([0-9a-f]{2})\] ")

Blocks = dict[tuple[str, int], list[str]]


def cap_blocks(text: str) -> Blocks:
    """{(device "bb:dd.f", capability offset): lines} for every standard capability block of lspci text."""
    blocks: Blocks = {}
    device = ""
    current: list[str] | None = None
    for line in text.splitlines():
        m = _DEVICE_LINE.match(line)
        if m:
            device, current = m.group(1), None
            continue
        m = _STD_CAP_LINE.match(line)
        if m:
            current = blocks.setdefault((device, int(m.group(1), 16)), [])
            current.append(line)
        elif current is not None and line.startswith("\t\t"):
            current.append(line)
        else:
            current = None
    return blocks


def _spec(path: Path | None) -> str | None:
    return None if path is None else str(path)


def our_ids(path: Path | None) -> dict[tuple[str, int], int]:
    """{(device, offset): capability id} from our own walk, to pick the blocks this file is about."""
    with open_source(_spec(path)) as src:
        return {(fn.address.short, c.offset): c.id for fn in src.functions() for c in fn.capabilities
                if not c.extended}


def compare(path: Path | None, flags: list[str]) -> tuple[dict[tuple[str, int], int], list[tuple]]:
    """({block compared: capability id}, [(block, lspci lines, our lines) that differ]) for our
    capabilities in one dump (path None: this host, through sysfs)."""
    verbose = sum(f.count("v") for f in flags)
    numeric = sum(f.count("n") for f in flags)
    want = cap_blocks(lspci_text(_spec(path), flags))
    with open_source(_spec(path)) as src:
        got = cap_blocks(render_source(src, LspciOptions(verbose=verbose, numeric=numeric)))
    ids = our_ids(path)
    keys = [k for k in want if ids.get(k, -1) != PCI_CAP_ID_EXP]
    keys += [k for k in got if k not in want and ids.get(k, -1) != PCI_CAP_ID_EXP]
    bad = [(k, want.get(k, []), got.get(k, [])) for k in keys if want.get(k) != got.get(k)]
    return {k: ids.get(k, -1) for k in keys}, bad


# -- generated config spaces ---------------------------------------------------------------------------

_CAP_SIZES = {0x00: 4, 0x01: 8, 0x02: 12, 0x03: 8, 0x04: 4, 0x05: 24, 0x06: 4, 0x07: 16, 0x08: 28, 0x09: 20,
              0x0A: 4, 0x0B: 4, 0x0C: 8, 0x0D: 8, 0x0E: 4, 0x0F: 4, 0x11: 12, 0x12: 8, 0x13: 6, 0x14: 40}
_HT_TYPES = [0x00, 0x20, 0x40, 0x80, 0x88, 0x90, 0x98, 0xA0, 0xA8, 0xB0, 0xB8, 0xC0, 0xC8, 0xD0, 0xF8]
_HT_REVISIONS = [0x00, 0x11, 0x12, 0x21, 0x22, 0x25, 0x60, 0xFF]


def _edge(rng: random.Random, nbytes: int) -> bytes:
    """Random bytes, or an edge pattern (all clear, all set, one bit)."""
    kind = rng.random()
    if kind < 0.1:
        return bytes(nbytes)
    if kind < 0.2:
        return b"\xff" * nbytes
    if kind < 0.3:
        v = 1 << rng.randrange(nbytes * 8)
        return v.to_bytes(nbytes, "little")
    return rng.randbytes(nbytes)


def _shape(rng: random.Random, cfg: bytearray, at: int, cap_id: int, htype: int) -> int:
    """Bias a capability's random body towards the branches lspci takes; returns its size in bytes."""
    size = _CAP_SIZES.get(cap_id, 4)
    if cap_id == 0x08:  # HyperTransport: pick a type and a revision around the 1.02 boundary
        cfg[at + 3] = rng.choice(_HT_TYPES) | (rng.randrange(8) if rng.random() < 0.3 else 0)
        cfg[at + (12 if cfg[at + 3] < 0x20 else 8)] = rng.choice(_HT_REVISIONS)
    elif cap_id == 0x09:  # vendor: lengths around virtio's 16/20 bytes, virtio structure types
        cfg[at + 2] = rng.choice([0, 4, 15, 16, 16, 17, 19, 20, 20, 24, rng.randrange(256)])
        cfg[at + 3] = rng.choice([0, 1, 2, 2, 2, 3, 4, 5, 8, 9, rng.randrange(256)])
        size = max(4, min(cfg[at + 2], 24))
    elif cap_id == 0x14:  # EA: a few entries of every size
        n = rng.choice([0, 1, 2, 3, rng.randrange(64)])
        cfg[at + 2] = n | (rng.randrange(4) << 6)
        entry = at + (8 if htype == 1 else 4)
        for _ in range(n):
            if entry + 4 > len(cfg):
                break
            # lspci 3.9 dies ("Internal bug") reading Base/MaxOffset past a too-small entry: keep ES >= 2,
            # and room for the upper DWORDs the IS_64 bits announce
            es = rng.randrange(2, 8)
            cfg[entry] = es | (rng.randrange(16) << 4)
            cfg[entry + 1] = rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 8, 0xFD, 0xFE, 0xFF, rng.randrange(256)])
            cfg[entry + 2] = rng.choice([0, 3, 7, 0xFF, rng.randrange(256)])
            wide = [rng.random() < 0.4 for _ in range(2)]
            while 2 + sum(wide) > es:
                wide[wide.index(True)] = False
            for n, is64 in enumerate(wide):
                if entry + 8 + 4 * n <= len(cfg):
                    cfg[entry + 4 + 4 * n] = cfg[entry + 4 + 4 * n] & ~2 | (2 if is64 else 0)
            entry += 4 + 4 * es
        size = max(8, entry - at)
    elif cap_id == 0x05 and rng.random() < 0.5:  # MSI: every address/masking combination
        cfg[at + 3] = rng.randrange(4)
    return size


def generated_device(rng: random.Random) -> tuple[bytes, int]:
    """A config space with a chain of standard capabilities (random content), and how many bytes of it
    the dump shows."""
    cfg = bytearray(256)
    htype = rng.choice([0, 0, 0, 1, 1, 2])
    if rng.random() < 0.3:
        vendor, device = 0x1AF4, rng.choice([0x1000, 0x1041, 0x107F, 0x1080, 0x1110])
    else:
        vendor, device = rng.choice([0x8086, 0x1022, 0x10EE, 0x1234]), rng.randrange(0x10000)
    cfg[0:4] = vendor.to_bytes(2, "little") + device.to_bytes(2, "little")
    cfg[0x06] = 0x10  # PCI_STATUS_CAP_LIST
    cfg[0x0A:0x0C] = {0: b"\x00\x02", 1: b"\x04\x06", 2: b"\x07\x06"}[htype]
    cfg[0x0E] = htype
    # the capabilities with many branches come up more often
    ids = [*_CAP_SIZES, 0x15, 0x42, 0xFE] + [0x08] * 6 + [0x09] * 3 + [0x14, 0x05, 0x07, 0x02] * 2
    chain = [rng.choice(ids) for _ in range(rng.randrange(1, 5))]
    at = 0x80 if htype == 2 else 0x40
    prev = 0x14 if htype == 2 else 0x34
    for cap_id in chain:
        at += 4 * rng.randrange(3)
        if at > 0xFC:
            break
        cfg[at + 2 : min(at + 64, 256)] = _edge(rng, min(62, 254 - at))
        cfg[at] = cap_id
        size = _shape(rng, cfg, at, cap_id, htype)
        cfg[prev] = at | (rng.randrange(4) if prev != 0x14 and rng.random() < 0.1 else 0)
        prev = at + 1
        cfg[prev] = 0
        at = (at + size + 3) & ~3
    length = 256 if rng.random() < 0.8 else rng.choice([0x40, 0x50, 0x60, 0x80, 0xA0, 0xC0, 0xE0, 0xF0])
    return bytes(cfg), length


def havoc_device(rng: random.Random) -> tuple[bytes, int]:
    """A generated device, then unbiased damage: random bytes anywhere past the header, sometimes a
    random header type byte."""
    cfg, length = generated_device(rng)
    damaged = bytearray(cfg)
    for _ in range(rng.randrange(12)):
        damaged[rng.randrange(0x40, 256)] = rng.randrange(256)
    if rng.random() < 0.2:
        damaged[0x0E] = rng.randrange(256)
    return bytes(damaged), length


def _lspci_survives(path: Path, devices: list[tuple[bytes, int]]) -> bool:
    path.write_text(dump_text(devices))
    return subprocess.run([LSPCI, "-vvv", "-F", str(path)], capture_output=True).returncode == 0


def without_lspci_crashes(path: Path, devices: list[tuple[bytes, int]]) -> list[tuple[bytes, int]]:
    """The devices lspci 3.9 can show: it dies ("Internal bug: Accessing non-read configuration byte")
    on EA entries too short for their Base/MaxOffset, and then there is nothing to compare with."""
    if _lspci_survives(path, devices):
        return devices
    if len(devices) == 1:
        return []
    mid = len(devices) // 2
    return without_lspci_crashes(path, devices[:mid]) + without_lspci_crashes(path, devices[mid:])


def dump_text(devices: Iterable[tuple[bytes, int]]) -> str:
    out = []
    for n, (cfg, length) in enumerate(devices):
        vendor, device = int.from_bytes(cfg[0:2], "little"), int.from_bytes(cfg[2:4], "little")
        out.append(f"{n // 256:02x}:{n % 256 >> 3:02x}.{n & 7} Class 0000: {vendor:04x}:{device:04x}\n")
        out += [f"{row:02x}: {' '.join(f'{b:02x}' for b in cfg[row : row + 16])}\n" for row in range(0, length, 16)]
        out.append("\n")
    return "".join(out)


def generated_dump(tmp: Path, seed: int, count: int) -> Path:
    rng = random.Random(seed)
    path = tmp / f"generated-caps-{seed}.lspci"
    path.write_text(dump_text(generated_device(rng) for _ in range(count)))
    return path


# -- VPD: lspci reads it only through sysfs, so these go through a fake sysfs tree ----------------------

def _resource(tag: int, body: bytes) -> bytes:
    """A large resource (tag, 16-bit length, body)."""
    return bytes([tag]) + len(body).to_bytes(2, "little") + body


def _field(key: bytes, value: bytes) -> bytes:
    return key + bytes([len(value)]) + value


def vpd_image(rng: random.Random) -> bytes:
    """A VPD image: well formed (name, VPD-R with checksum, VPD-W, end) or damaged in one of many ways."""
    text = [b"PN", b"EC", b"MN", b"SN", b"V1", b"VA", b"YA", b"Y1", b"CC", b"FC", b"FN", b"NA", b"RM", b"Z0",
            b"CP", b"XX", b"Q\x00"]
    name = rng.choice([b"Example Adapter", b"back\\slash\x01\x7f", b"trailing nul\x00", b"", b"x" * 300])
    out = _resource(0x82, name)
    ro = b"".join(_field(rng.choice(text), rng.randbytes(rng.randrange(6)) if rng.random() < 0.2
                         else b"AB-12" * rng.randrange(3)) for _ in range(rng.randrange(5)))
    ro_head = out + bytes([0x90]) + (len(ro) + 3 + 1 + rng.choice([0, 0, 2])).to_bytes(2, "little") + ro + b"RV"
    csum = (-sum(ro_head) - rng.choice([0, 0, 0, 1])) & 0xFF
    out = ro_head + bytes([1 + rng.choice([0, 0, 2])]) + bytes([csum]) + bytes(rng.choice([0, 0, 2]))
    if rng.random() < 0.6:
        out += _resource(0x91, _field(b"V2", b"rw") + _field(b"RW", bytes(rng.randrange(12))))
    out += rng.choice([b"\x78", b"\x78", b"\x79", b"", b"\x10\x00", b"\xa5\x01\x00\x00"])
    cut = rng.random()
    if cut < 0.15:
        out = out[: rng.randrange(len(out) + 1)]
    elif cut < 0.25:
        out = rng.randbytes(rng.randrange(1, 64))
    return out


def vpd_tree(root: Path, count: int, seed: int) -> Path:
    """A fake sysfs tree of functions with a VPD capability and a `vpd` file each; returns `devices`."""
    from pciexplore import Address
    from pciexplore.sources.fake_sysfs import build_tree

    rng = random.Random(seed)
    cfg = bytearray(256)
    cfg[0:4] = b"\x86\x80\x34\x12"
    cfg[0x06], cfg[0x0A:0x0C], cfg[0x34] = 0x10, b"\x00\x02", 0x40
    cfg[0x40:0x48] = b"\x03\x00\x00\x00\x00\x00\x00\x00"
    addrs = [Address(0, n >> 3, n & 7, 0) for n in range(count)]
    devices = build_tree(root, [(a, bytes(cfg)) for a in addrs])
    for a in addrs:
        if rng.random() < 0.95:
            (devices / str(a) / "vpd").write_bytes(vpd_image(rng))
    return devices


@pytest.mark.lspci
def test_vpd_blocks_match_lspci_through_sysfs(tmp_path: Path) -> None:
    from pciexplore.sources.sysfs import SysfsSource

    devices = vpd_tree(tmp_path, 200, seed=7)
    cmd = [LSPCI, "-vvv", "-A", "linux-sysfs", "-O", f"sysfs.path={devices.parent}"]
    want = cap_blocks(subprocess.run(cmd, capture_output=True, check=True).stdout.decode("latin-1"))
    got = cap_blocks(render_source(SysfsSource(devices), LspciOptions(verbose=3)))
    assert len(want) == 200
    bad = [(k, want[k], got.get(k, [])) for k in want if want[k] != got.get(k)]
    assert not bad, f"{len(bad)}/200 VPD blocks differ from lspci:\n{_report(bad)}"


def _report(bad: list, limit: int = 3) -> str:
    lines = []
    for key, want, got in bad[:limit]:
        lines.append(f"{key[0]} [{key[1]:02x}]:")
        lines += ["  lspci: " + repr(w) for w in want] + ["  ours:  " + repr(g) for g in got]
    return "\n".join(lines)


# -- tests --------------------------------------------------------------------------------------------

def test_every_standard_capability_is_declared_with_pci_regs_names() -> None:
    """Declarations exist for every id lspci 3.9 decodes (but Express), named as pci_regs.h does."""
    layouts = cap_layouts()
    for cap_id in [*range(0x00, 0x10), *range(0x11, 0x15)]:
        assert cap_id in layouts, f"capability 0x{cap_id:02x} not declared"
        for r in layouts[cap_id].registers:
            assert re.fullmatch(r"(PCI|VIRTIO)_[A-Z0-9_]+", r.name), r.name
            for f in r.fields:
                assert re.fullmatch(r"(PCI|VIRTIO)_[A-Z0-9_a-z]+", f.name), f.name
                assert 0 <= f.lo <= f.hi < 8 * r.width, f"{f.name} outside {r.name}"


def test_declarations_have_unique_names() -> None:
    for lay in cap_layouts().values():
        names = [r.name for r in lay.registers]
        assert len(names) == len(set(names)), f"{lay.key}: register declared twice"
        for r in lay.registers:
            fields = [f.name for f in r.fields]
            assert len(fields) == len(set(fields)), f"{r.name}: field declared twice"


LINUX_HEADERS = (Path("/usr/include/linux/pci_regs.h"), Path("/usr/include/linux/virtio_pci.h"))


def test_names_offsets_and_masks_agree_with_linux_headers() -> None:
    """Every register and field whose name Linux defines has Linux's offset (registers) or mask (fields)."""
    from pciexplore.regs.caps.ea import EA_ENTRY
    from pciexplore.regs.caps.msix import MSIX_ENTRY

    if not all(h.exists() for h in LINUX_HEADERS):
        pytest.skip("Linux uapi headers (Debian package linux-libc-dev) not installed")
    linux = {m[1]: int(m[2], 0) for h in LINUX_HEADERS for m in re.finditer(
        r"^#define\s+((?:PCI|VIRTIO)_\w+)\s+(0x[0-9a-fA-F]+|\d+)\b", h.read_text(), re.M)}
    layouts = [lay for cap_id, lay in cap_layouts().items() if cap_id != PCI_CAP_ID_EXP] + [EA_ENTRY, MSIX_ENTRY]
    registers = [r for lay in layouts for r in lay.registers]
    known = {r.name: r.offset for r in registers if r.name in linux}
    # a field named like its register (a one-field register) is the register's name, not a mask
    known |= {f.name: f.mask for r in registers for f in r.fields if f.name in linux and f.name != r.name}
    assert {name: linux[name] for name in known} == known
    assert len(known) > 120


_MSI_ADDRESS = re.compile(r"\t\tAddress: ([0-9a-f]+)  Data: ([0-9a-f]{4})$")
_MSI_MASKING = re.compile(r"\t\tMasking: ([0-9a-f]{8})  Pending: ([0-9a-f]{8})$")
_MSIX_WHERE = re.compile(r"\t\t(?:Vector table|PBA): BAR=(\d) offset=([0-9a-f]{8})$")


@pytest.mark.lspci
def test_msi_and_msix_declarations_agree_with_lspci(tmp_path: Path) -> None:
    """Which MSI registers exist (Register.when) and what MSI/MSI-X registers hold, as lspci reads them."""
    path = generated_dump(tmp_path, 11, 600)
    want = cap_blocks(lspci_text(str(path), ["-vvv"]))
    checked = 0
    with open_source(str(path)) as src:
        for fn in src.functions():
            for cap in fn.capabilities:
                block = want.get((fn.address.short, cap.offset), [])
                if cap.key == "msi" and len(block) > 1 and (m := _MSI_ADDRESS.match(block[1])):
                    present = {rv.name: rv.value for rv in cap.registers()}
                    wide = "PCI_MSI_ADDRESS_HI" in present
                    assert len(m.group(1)) == (16 if wide else 8)
                    addr = present["PCI_MSI_ADDRESS_LO"] | (present["PCI_MSI_ADDRESS_HI"] << 32 if wide else 0)
                    assert int(m.group(1), 16) == addr
                    assert int(m.group(2), 16) == present["PCI_MSI_DATA_64" if wide else "PCI_MSI_DATA_32"]
                    masks = [v for k, v in present.items() if k.startswith(("PCI_MSI_MASK", "PCI_MSI_PENDING"))]
                    m2 = _MSI_MASKING.match(block[2]) if len(block) > 2 else None
                    assert (m2 is not None) == bool(masks)
                    if m2:
                        assert [int(g, 16) for g in m2.groups()] == masks
                    checked += 1
                elif cap.key == "msix" and len(block) == 3:
                    for line, name in zip(block[1:], ("PCI_MSIX_TABLE", "PCI_MSIX_PBA"), strict=True):
                        m = _MSIX_WHERE.match(line)
                        assert m, line
                        rv = cap[name]
                        assert int(m.group(1)) == rv[f"{name}_BIR"]
                        assert int(m.group(2), 16) == rv[f"{name}_OFFSET"]  # the byte offset lspci prints
                    checked += 1
    assert checked > 50


@pytest.mark.lspci
@pytest.mark.parametrize("path", corpus_dumps(), ids=lambda p: f"{p.parent.name}/{p.name}")
@pytest.mark.parametrize("flags", [["-vvv", "-nn"], ["-vv", "-n"], ["-v"]], ids=" ".join)
def test_corpus_capability_blocks_match_lspci(path: Path, flags: list[str]) -> None:
    _, bad = compare(path, flags)
    assert not bad, f"{len(bad)} blocks differ from lspci:\n{_report(bad)}"


@pytest.mark.lspci
@pytest.mark.skipif(not Path("/sys/bus/pci/devices").is_dir(), reason="no /sys/bus/pci on this host")
def test_live_capability_blocks_match_lspci() -> None:
    _, bad = compare(None, ["-vvv", "-nn"])
    assert not bad, f"{len(bad)} blocks differ from lspci:\n{_report(bad)}"


@pytest.mark.lspci
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("flags", [["-vvv", "-nn"], ["-vv", "-n"], ["-v"]], ids=" ".join)
def test_generated_capability_blocks_match_lspci(tmp_path: Path, seed: int, flags: list[str]) -> None:
    path = generated_dump(tmp_path, seed, 300)
    compared, bad = compare(path, flags)
    assert len(compared) > 300
    assert not bad, f"{len(bad)}/{len(compared)} blocks differ from lspci:\n{_report(bad)}"


@pytest.mark.lspci
def test_damaged_capability_blocks_match_lspci(tmp_path: Path) -> None:
    rng = random.Random(99)
    devices = [havoc_device(rng) for _ in range(400)]
    kept = without_lspci_crashes(tmp_path / "probe.lspci", devices)
    assert len(kept) > 0.9 * len(devices)
    path = tmp_path / "damaged.lspci"
    path.write_text(dump_text(kept))
    for flags in (["-vvv", "-nn"], ["-v"]):
        compared, bad = compare(path, flags)
        assert len(compared) > 500
        assert not bad, f"{len(bad)}/{len(compared)} blocks differ from lspci:\n{_report(bad)}"


def main(argv: list[str]) -> int:
    import tempfile
    from collections import Counter

    count = int(argv[0]) if argv else 2000
    seeds = (101, 102)
    per_id: Counter[int] = Counter()
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        generated = [generated_dump(Path(tmp), seed, count) for seed in seeds]
        for flags in (["-vvv", "-nn"], ["-vv", "-n"], ["-v"]):
            for path in [*generated, *corpus_dumps()]:
                compared, bad = compare(path, flags)
                per_id.update(compared.values())
                failed += len(bad)
                if bad:
                    print(f"{' '.join(flags)} {path.name}: {len(bad)}/{len(compared)} differ\n{_report(bad, 2)}")
    total = sum(per_id.values())
    print(f"generated images: {len(seeds) * count}, each rendered with 3 flag sets, plus "
          f"{len(corpus_dumps())} corpus dumps")
    print("blocks compared per capability id: " + ", ".join(f"{i:#04x}:{n}" for i, n in sorted(per_id.items())))
    print(f"blocks compared: {total}; matching lspci: {total - failed} ({100 * (total - failed) / max(total, 1):.2f}%)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

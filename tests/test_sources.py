"""Sources read the bytes lspci reads: dump text (both parsing paths), raw binaries, and sysfs trees
with the kernel's resource lines (BAR sizes, flags, bridge windows) -- checked against lspci itself.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from conftest import corpus_dumps
from fuzzing import dump_text
from lspcicmp import lspci_text, options

from pciexplore import open_source
from pciexplore.address import Address
from pciexplore.errors import InputError
from pciexplore.render.lspci import render_source
from pciexplore.sources.dump import DumpSource
from pciexplore.sources.fake_sysfs import build_tree
from pciexplore.sources.raw import RawSource
from pciexplore.sources.sysfs import SysfsSource


def _entries(text: str, fast: bool) -> list:
    src = DumpSource.__new__(DumpSource)
    src.name, src._entries = "t", []
    if fast:
        assert src._parse_clean(text)
    else:
        src._parse(text)
    return src._entries


def _configs() -> list[bytes]:
    return [fn.config for p in corpus_dumps() for fn in open_source(p).functions()] or [bytes(range(256))]


def test_clean_dump_fast_path_equals_line_parser() -> None:
    """Text exactly as lspci writes it (64, 128, 256, 4096 bytes, domains) takes the fast path and
    gives the same entries as the line-by-line reader."""
    rng = random.Random(7)
    configs = _configs()
    fns = []
    for i in range(120):
        cfg = rng.choice(configs)
        cfg = cfg[:rng.choice([64, 128, 256, len(cfg)])]
        addr = f"{rng.choice(['', '0001:', '10000:'])}{i >> 3:02x}:{i & 7:02x}.{rng.randrange(8)}"
        fns.append((addr, cfg))
    text = dump_text(fns)
    assert _entries(text, fast=True) == _entries(text, fast=False)


@pytest.mark.parametrize("text", [
    "00:00.0 x\n00: 86 80 34 12 07 00 10 00 01 00 00 02 00 00 00 00\n",                 # one row of 16
    "00:00.0 x\n00: 86 80\n",                                                            # short row
    "00:00.0 x\n00: 86  80 34 12 07 00 10 00 01 00 00 02 00 00 00 00\n",                # double blank
    "00:00.0 x\n10: 86 80 34 12 07 00 10 00 01 00 00 02 00 00 00 00\n",                 # not from 00
    "00:00.0 x\r\n00: 86 80 34 12 07 00 10 00 01 00 00 02 00 00 00 00\r\n",             # CRLF
    "\t00:00.0 x\n",                                                                    # indented
])
def test_unusual_text_leaves_the_fast_path(text: str) -> None:
    src = DumpSource.__new__(DumpSource)
    src.name, src._entries = "t", []
    assert not src._parse_clean(text) or _entries(text, fast=False) == src._entries


@pytest.mark.lspci
@pytest.mark.parametrize("path", corpus_dumps()[:12], ids=lambda p: p.name)
def test_dump_bytes_are_what_lspci_reads(path: Path) -> None:
    """Our config bytes, written back as -xxxx text, are what lspci -xxxx prints from the original."""
    ours = "".join(render_source(open_source(path), options(["-xxxx"])))
    assert ours == lspci_text(str(path), ["-xxxx"])


@pytest.mark.lspci
def test_raw_binary_is_one_function_like_its_dump(tmp_path: Path) -> None:
    cfg = max(_configs(), key=len)
    raw = tmp_path / "config.bin"
    raw.write_bytes(cfg)
    dump = tmp_path / "config.lspci"
    dump.write_text(dump_text([("00:00.0", cfg)]))
    src = open_source(raw)
    assert isinstance(src, RawSource) and src.function("00:00.0").config == cfg
    for flags in (["-vvv"], ["-xxxx"], ["-v", "-nn"]):
        assert render_source(src, options(flags)) == lspci_text(str(dump), flags)


def test_raw_sizes(tmp_path: Path) -> None:
    for size, ok in ((63, False), (64, True), (4096, True), (4097, False)):
        p = tmp_path / f"{size}.bin"
        p.write_bytes(bytes([0x80]) * size)
        if ok:
            assert len(RawSource(p).function("00:00.0").config) == size
        else:
            with pytest.raises(InputError, match="64 to 4096"):
                RawSource(p)


# -- sysfs: the kernel's view, as lspci -A linux-sysfs reads it -----------------------------------------
def _bridge_cfg() -> bytes:
    cfg = bytearray(256)
    cfg[0:4] = bytes.fromhex("86801d9d")  # Intel 9d1d
    cfg[4:8] = bytes.fromhex("07001000")
    cfg[8:12] = bytes.fromhex("f1000406")  # PCI bridge
    cfg[0x0E] = 0x81
    cfg[0x18:0x1C] = bytes([0, 2, 3, 0])
    cfg[0x1C:0x1E] = bytes([0xF1, 0x01])  # I/O window types differ: config alone says "unknown"
    cfg[0x20:0x24] = bytes.fromhex("2000f0df")
    cfg[0x24:0x28] = bytes.fromhex("f1ff0100")
    return bytes(cfg)


def _device_cfg() -> bytes:
    cfg = bytearray(256)
    cfg[0:4] = bytes.fromhex("8680f315")  # Intel I225
    cfg[4:8] = bytes.fromhex("06041000")  # Mem+ BusMaster+, I/O off
    cfg[8:12] = bytes.fromhex("03000002")
    cfg[0x10:0x14] = bytes.fromhex("0c00d0df")  # 64-bit prefetchable at dfd00000
    cfg[0x18:0x1C] = bytes.fromhex("01300000")  # I/O at 3000 (disabled by Command)
    cfg[0x1C:0x20] = bytes.fromhex("00000000")  # kernel placed this one: "[virtual]"
    cfg[0x2C:0x30] = bytes.fromhex("86800000")
    cfg[0x30:0x34] = bytes.fromhex("0000e0df")  # ROM address, disabled
    cfg[0x3D] = 1
    return bytes(cfg)


def _resource_lines(rows: list[tuple[int, int, int]]) -> str:
    return "".join(f"0x{s:016x} 0x{e:016x} 0x{f:016x}\n" for s, e, f in rows)


@pytest.mark.lspci
@pytest.mark.parametrize("iov", [False, True], ids=["plain", "with-iov-lines"])
def test_sysfs_resources_match_lspci(tmp_path: Path, iov: bool) -> None:
    bridge, dev = Address(0, 0, 0x1C, 0), Address(0, 2, 0, 0)
    devices = build_tree(tmp_path, [(bridge, _bridge_cfg()), (dev, _device_cfg())])
    nothing = (0, 0, 0)
    bars = [(0xDFD00000, 0xDFDFFFFF, 0x0014220C), nothing, (0x3000, 0x301F, 0x40101), (0xE0000000, 0xE0003FFF, 0x40200),
            nothing, nothing, (0xDFE00000, 0xDFE7FFFF, 0x46200)]
    (devices / str(dev) / "resource").write_text(_resource_lines(bars + [nothing] * (6 if iov else 0)))
    windows = [(0x2000, 0x2FFF, 0x101), (0xDFD00000, 0xDFEFFFFF, 0x200), (0x1FF0000000, 0x1FF01FFFFF, 0x102201),
               nothing]
    (devices / str(bridge) / "resource").write_text(
        _resource_lines([nothing] * 7 + [nothing] * (6 if iov else 0) + windows))
    (devices / str(dev) / "irq").write_text("17\n")
    (devices / str(dev) / "numa_node").write_text("0\n")
    for flags in (["-vv"], ["-v"], ["-vvv", "-nn"]):
        want = lspci_text(None, [*flags, "-A", "linux-sysfs", "-O", f"sysfs.path={tmp_path}"])
        with SysfsSource(devices) as src:
            got = render_source(src, options(flags))
        assert got == want, flags
    assert "[virtual]" in want and "[size=" in want and "I/O behind bridge: 2000-2fff" in want


def test_sysfs_kernel_info_reads_ids_and_resources(tmp_path: Path) -> None:
    devices = build_tree(tmp_path, [(Address(0, 0, 3, 0), _device_cfg())], {Address(0, 0, 3, 0): {0: 0x100000}})
    info = SysfsSource(devices).kernel_info(Address(0, 0, 3, 0))
    assert info.ids["vendor"] == 0x8086 and info.ids["device"] == 0x15F3 and info.ids["class"] == 0x020000 and info.ids["revision"] == 3
    lines = (devices / "0000:00:03.0" / "resource").read_text().split("\n")
    assert info.resources == [tuple(int(x, 16) for x in line.split()) for line in lines if line]
    assert info.resources[0][:2] == (0xDFD00000, 0xDFDFFFFF) and info.resources[0][2] & 0x102200 == 0x102200


@pytest.mark.lspci
def test_sysfs_slots_labels_and_groups_match_lspci(tmp_path: Path) -> None:
    """Physical Slot (slots/NAME/address), DeviceName (label, printed raw), NUMA node, IOMMU group."""
    a, b = Address(0, 0, 3, 0), Address(0, 0, 4, 0)
    devices = build_tree(tmp_path, [(a, _device_cfg()), (b, _device_cfg())])
    for name, where in (("7", "0000:00:03"), ("9-1", "0000:00:04"), ("empty", "0000:00"), ("12", "0000:00:04")):
        (tmp_path / "slots" / name).mkdir(parents=True)
        (tmp_path / "slots" / name / "address").write_text(where + "\n")
    (devices / str(a) / "label").write_text("Onboard LAN\n")
    (devices / str(b) / "numa_node").write_text("1\n")
    (tmp_path / "groups" / "5").mkdir(parents=True)
    (devices / str(b) / "iommu_group").symlink_to(os.path.relpath(tmp_path / "groups" / "5", devices / str(b)))
    (devices / str(a) / "iommu_group").symlink_to(tmp_path / "groups" / "5")  # absolute: lspci does not follow
    for flags in (["-vv"], ["-v"], ["-vmm"], ["-k"]):
        want = lspci_text(None, [*flags, "-A", "linux-sysfs", "-O", f"sysfs.path={tmp_path}"])
        with SysfsSource(devices) as src:
            assert render_source(src, options(flags)) == want, flags
    with SysfsSource(devices) as src:
        text = render_source(src, options(["-vv"]))
    assert "\tPhysical Slot: 7\n" in text and "\tIOMMU group: 5\n" in text and "DeviceName: Onboard LAN" in text


@pytest.mark.lspci
def test_json_agrees_with_lspci_machine_output() -> None:
    """`show --json` numbers and names are those lspci -vmm -nn and lspci -x report for each function."""
    import json

    from pciexplore.render.json import SCHEMA_VERSION, source_to_json

    for path in corpus_dumps()[:12]:
        with open_source(path) as src:
            doc = json.loads(json.dumps(source_to_json(src)))
        assert doc["version"] == SCHEMA_VERSION and doc["source"]["kind"] == "dump"
        records = [dict(line.split(":\t", 1) for line in block.splitlines())
                   for block in lspci_text(str(path), ["-vmm", "-nn", "-D"]).strip().split("\n\n")]
        hexdump = lspci_text(str(path), ["-xxxx", "-D"]).strip().split("\n\n")
        assert len(records) == len(doc["functions"]) == len(hexdump)
        for fn, rec, dumped in zip(doc["functions"], records, hexdump, strict=True):
            assert fn["address"] == rec["Slot"]
            assert rec["Vendor"].endswith(f"[{fn['vendor_id']:04x}]") and rec["Device"].endswith(f"[{fn['device_id']:04x}]")
            if fn["names"]["vendor"]:
                assert rec["Vendor"] == f"{fn['names']['vendor']} [{fn['vendor_id']:04x}]"
            if fn["names"]["device"] and not rec["Device"].startswith("Device ["):
                assert rec["Device"] == f"{fn['names']['device']} [{fn['device_id']:04x}]"
            cfg = bytes.fromhex("".join(line[line.index(":") + 2:] for line in dumped.splitlines()[1:]))
            assert fn["config_length"] == len(cfg)
            for reg in fn["header"].values():
                raw = int.from_bytes(cfg[reg["offset"]:reg["offset"] + reg["width"]], "little")
                assert reg["value"] == (raw if reg["offset"] + reg["width"] <= len(cfg) else None)
            for cap in fn["capabilities"]:
                assert cfg[cap["offset"]] == cap["id"] or cap["extended"]

"""pci.ids look-ups as lspci makes them, for ids chosen to reach each way a search can go: a device of its
vendor's block, a device id only a later vendor lists (which must not be taken), a vendor pci.ids lacks,
a subsystem listed under its device, one listed under another device only; and every class, subclass and
prog-if pci.ids lists, with some it does not; compared with lspci -vmm on a dump of such functions."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pciexplore import names

LSPCI = shutil.which("lspci")
PCI_IDS = next((Path(p) for p in names.PCI_IDS_PATHS if Path(p).exists()), None)

pytestmark = pytest.mark.skipif(not (LSPCI and PCI_IDS), reason="needs lspci and a pci.ids")


def listed() -> dict[int, dict[int, list[tuple[int, int]]]]:
    """vendor -> device -> subsystems, as pci.ids lists them (first of each, vendor list only)."""
    found: dict[int, dict[int, list[tuple[int, int]]]] = {}
    devices: dict[int, list[tuple[int, int]]] = {}
    sub: list[tuple[int, int]] = []
    for line in PCI_IDS.read_text(errors="replace").splitlines():
        if m := re.match(r"([0-9a-f]{4}) ", line):
            devices = found.setdefault(int(m[1], 16), {})
        elif line.startswith("C "):
            break
        elif m := re.match(r"\t([0-9a-f]{4}) ", line):
            sub = devices.setdefault(int(m[1], 16), [])
        elif m := re.match(r"\t\t([0-9a-f]{4}) ([0-9a-f]{4}) ", line):
            sub.append((int(m[1], 16), int(m[2], 16)))
    return found


def ids_to_ask() -> list[tuple[int, int, int, int]]:
    """(vendor, device, subsystem vendor, subsystem device) reaching every way of the search."""
    ids = listed()
    vendors = list(ids)
    cases = []
    for vid in (0x8086, 0x1af4, 0x10de, 0x1022, vendors[0], vendors[-1]):
        devices = ids.get(vid, {})
        later = {d for v in vendors[vendors.index(vid) + 1:] if vid in ids for d in ids[v]} if vid in ids else set()
        for did in list(devices)[:3] + list(devices)[-2:]:
            subs = devices[did]
            cases.append((vid, did, *(subs[0] if subs else (vid, did))))
            if subs:  # a subsystem id pair this device does not list but its last one's vendor does
                cases.append((vid, did, subs[-1][0], 0xFFFE))
        cases += [(vid, did, 0x1AF4, 0x1100) for did in sorted(later - set(devices))[:4]]  # a later vendor's id
    cases += [(0x0001, 0x0001, 0x0001, 0x0001), (0x1234, 0x1111, 0x1AF4, 0x1100)]
    return cases


def classes_to_ask() -> list[tuple[int, int]]:
    """(class, prog-if) for every class line of pci.ids (subclass lines with prog-if 0), and a few unlisted."""
    found, top, sub = [(0x0200, 0), (0xFFFF, 0), (0x0101, 0x8F), (0x0CFE, 0x12)], 0, 0
    for line in PCI_IDS.read_text(errors="replace").splitlines():
        if m := re.match(r"C ([0-9a-f]{2}) ", line):
            top = int(m[1], 16)
            found.append((top << 8 | 0x7F, 0))
        elif m := re.match(r"\t([0-9a-f]{2}) ", line):
            sub = int(m[1], 16)
            found.append((top << 8 | sub, 0))
        elif m := re.match(r"\t\t([0-9a-f]{2}) ", line):
            found.append((top << 8 | sub, int(m[1], 16)))
    return found


def dump(ids: list[tuple[int, int, int, int]]) -> str:
    out = []
    classes = classes_to_ask()
    for i in range(max(len(ids), len(classes))):
        vid, did, svid, sdid = ids[i % len(ids)]
        cls, prog_if = classes[i % len(classes)]
        cfg = bytearray(64)
        cfg[0:4] = vid.to_bytes(2, "little") + did.to_bytes(2, "little")
        cfg[0x09:0x0C] = bytes([prog_if]) + cls.to_bytes(2, "little")
        cfg[0x2C:0x30] = svid.to_bytes(2, "little") + sdid.to_bytes(2, "little")
        out.append(f"{i >> 5:02x}:{i & 31:02x}.0 Ethernet controller: x")
        out += [f"{row:02x}: " + " ".join(f"{b:02x}" for b in cfg[row:row + 16]) for row in range(0, 64, 16)]
        out.append("")
    return "\n".join(out)


@pytest.mark.parametrize(("flags", "options"), [
    (["-vmm"], {"verbose": 1, "machine": 2}), (["-vmm", "-nn"], {"verbose": 1, "machine": 2, "numeric": 2}),
    ([], {}), (["-v"], {"verbose": 1}),  # -v: prog-if names too
])
def test_names_as_lspci_gives_them(tmp_path: Path, flags: list[str], options: dict[str, int]) -> None:
    from pciexplore import open_source
    from pciexplore.render.lspci import LspciOptions, render_source

    path = tmp_path / "ids.lspci"
    path.write_text(dump(ids_to_ask()))
    want = subprocess.run([LSPCI, *flags, "-F", str(path)], capture_output=True, check=True).stdout.decode()
    names.default.cache_clear()
    with open_source(str(path)) as src:
        assert render_source(src, LspciOptions(**options)) == want


def test_vendor_line_between_is_the_regex_answer_for_every_span() -> None:
    """The counting short cut in names._vendor_line_between gives what the regex gives, on a block with the
    lines pci.ids has (devices, subsystems, comments) and those it could (blank, odd, a vendor mid-way)."""
    data = (b"# head\n\n1af4  Red Hat\n\t1000  net\n\t\t1af4 0001  sub\n# note\n\t1001  blk\n\n\tzz odd\n"
            b"1b36  QEMU\n\t0001  bridge\nABCD\tx\n\t0002  y\n 1234  indented\n\t0003  z\n")
    vendor = re.compile(rb"\n[0-9a-fA-F]{4}[ \t]")
    seen = set()
    for start in range(len(data)):
        for stop in range(start, len(data) + 1):
            want = vendor.search(data, start, stop) is not None
            assert names._vendor_line_between(data, start, stop) == want, (start, stop)
            seen.add(want)
    assert seen == {True, False}

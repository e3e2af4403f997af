"""`show` renders a capability list once per distinct input and reuses the text for other functions of the
run (render/lspci.py caps_text_key): functions with the same capability bytes but a different address, kernel
view of BARs or header must still get lspci's text for each of them.  The reference is lspci on the same sysfs-like
tree, and each test first checks that lspci's capability text does differ between those functions (so
the test fails if the reuse ignored what makes them differ)."""

from __future__ import annotations

import pytest
from conftest import corpus_dumps
from lspcicmp import lspci_text, our_text

from pciexplore import PciError, open_source
from pciexplore.address import Address
from pciexplore.decode import walk_standard
from pciexplore.sources.fake_sysfs import build_tree

pytestmark = pytest.mark.lspci

PCI_CAP_ID_VPD, PCI_CAP_ID_EXP, PCI_EXP_LNKCAP2 = 0x03, 0x10, 0x2C


def _express_endpoint_with_memory_bar() -> bytes:
    """A corpus config of an Express (v2) endpoint (type 0) with a LnkCap2 and a memory BAR 0 at an address."""
    for path in corpus_dumps():
        try:
            configs = [fn.config for fn in open_source(path).functions()]
        except PciError:
            continue
        for cfg in configs:
            if len(cfg) < 256 or cfg[0x0E] & 0x7F or cfg[0x10] & 0x1 or not cfg[0x11:0x14].strip(b"\0"):
                continue
            exp = [f.offset for f in walk_standard(cfg)[0] if f.cap_id == PCI_CAP_ID_EXP]
            flags = cfg[exp[0] + 2] if exp else 0  # PCI_EXP_FLAGS: version in bits 0-3, type in 4-7
            if flags & 0xF >= 2 and flags >> 4 == 0 and any(cfg[exp[0] + PCI_EXP_LNKCAP2:exp[0] + 0x30]):
                return cfg
    pytest.skip("no Express endpoint with LnkCap2 and a memory BAR in the corpus")


def _blocks(text: str) -> dict[str, str]:
    """Each function's text by its address (the first word of its first line)."""
    return {block.split(" ", 1)[0]: block for block in text.split("\n\n") if block.strip()}


def test_same_config_at_other_addresses_and_bar_views_matches_lspci(tmp_path) -> None:
    cfg = _express_endpoint_with_memory_bar()
    addrs = [Address(0, 0, 0, 0), Address(0, 0, 1, 0), Address(0, 1, 0, 0), Address(0, 1, 0, 1), Address(0, 2, 0, 0)]
    sized = {a: {0: 0x1000} for a in addrs[:3]}  # the other two: no memory BAR in the kernel's view (sysfs resource)
    devices = build_tree(tmp_path, [(a, cfg) for a in addrs], bar_sizes=sized)
    want = lspci_text(None, ["-vvv", "-A", "linux-sysfs", "-O", f"sysfs.path={tmp_path}"])
    caps = {slot: block[block.index("\tCapabilities:"):] for slot, block in _blocks(want).items()}
    assert caps["00:00.0"] != caps["00:01.0"], "LnkCap2 is shown for 00.0 only: the test needs that difference"
    assert caps["00:00.0"] != caps["02:00.0"], "memory BAR or not changes DevCap2: the test needs that difference"
    assert caps["00:00.0"] == caps["01:00.0"] != caps["00:01.0"]
    assert our_text(str(devices), ["-vvv"]) == want


def _config_with_vpd() -> bytes:
    """A network controller whose only capability is VPD (PCI 3.0 §6.4) at 0x40."""
    cfg = bytearray(256)
    cfg[0:4] = bytes.fromhex("86801e10")
    cfg[0x06] = 0x10  # PCI_STATUS_CAP_LIST
    cfg[0x0A:0x0C] = b"\x00\x02"
    cfg[0x34] = 0x40
    cfg[0x40] = PCI_CAP_ID_VPD
    return bytes(cfg)


def test_same_config_with_other_vpd_files_matches_lspci(tmp_path) -> None:
    cfg = _config_with_vpd()
    addrs = [Address(0, 0, 3, 0), Address(0, 0, 4, 0)]
    devices = build_tree(tmp_path, [(a, cfg) for a in addrs])
    for addr, name in zip(addrs, (b"first card", b"second card"), strict=True):
        # PCI 3.0 §6.4: an Identifier String (large resource 0x82), then the End tag (small resource 0x78)
        (devices / str(addr) / "vpd").write_bytes(b"\x82" + len(name).to_bytes(2, "little") + name + b"\x78")
    want = lspci_text(None, ["-vvv", "-A", "linux-sysfs", "-O", f"sysfs.path={tmp_path}"])
    assert "Product Name: first card" in want and "Product Name: second card" in want
    assert our_text(str(devices), ["-vvv"]) == want


def test_a_capability_pointer_into_the_header_is_read_per_function(tmp_path) -> None:
    """Functions alike from 0x40 on whose capability pointer leads into the header (0x30, the ROM BAR)."""
    cfg = bytearray(_config_with_vpd())
    cfg[0x34] = 0x30
    functions = []
    for dev, rom_byte in ((3, 0x00), (4, PCI_CAP_ID_VPD)):  # "Null" at 0x30, then the VPD capability there
        cfg[0x30] = rom_byte
        functions.append((Address(0, 0, dev, 0), bytes(cfg)))
    devices = build_tree(tmp_path, functions)
    want = lspci_text(None, ["-vvv", "-A", "linux-sysfs", "-O", f"sysfs.path={tmp_path}"])
    assert "\tCapabilities: [30] Null" in want and "\tCapabilities: [30] Vital Product Data" in want
    assert our_text(str(devices), ["-vvv"]) == want

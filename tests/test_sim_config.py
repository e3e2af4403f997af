"""The simulator's config space against outside references: real lspci decodes it, and writes obey
the PCI rules (read-only bits stay, RW1C bits clear on 1, BARs size as PCI Local Bus 3.0 §6.2.5.1
says, MSI address bits 1:0 are zero).  Its NIC causes follow e1000e's ICR/ICS/IMS/IMC/IVAR."""

from __future__ import annotations

import pytest
from conftest import lspci_vvv

import pciexplore
from pciexplore.cli import main
from pciexplore.errors import InputError


@pytest.mark.lspci
def test_lspci_decodes_the_simulated_config(tmp_path) -> None:
    text = lspci_vvv(pciexplore.open("sim:nic,driver+nvme,vectors=2048"), tmp_path / "sim.lspci")
    nic, nvme = text.split("\n\n")[:2]
    assert "Control: I/O- Mem+ BusMaster+" in nic
    assert "Capabilities: [50] MSI: Enable- Count=1/4 Maskable+ 64bit+" in nic
    assert "Capabilities: [70] Express (v2) Endpoint" in nic
    assert "Capabilities: [b0] MSI-X: Enable+ Count=5 Masked-" in nic
    assert "Vector table: BAR=3 offset=00000000" in nic and "PBA: BAR=3 offset=00001000" in nic
    assert "Capabilities: [100 v2] Advanced Error Reporting" in nic
    assert "Capabilities: [b0] MSI-X: Enable- Count=2048 Masked-" in nvme
    assert "PBA: BAR=4 offset=00008000" in nvme and "(64-bit, non-prefetchable)" in nvme


def _fn(spec: str = "sim:nic"):
    src = pciexplore.open(spec)
    return src, src.functions()[0]


def test_read_only_bits_stay() -> None:
    src, fn = _fn()
    before = fn.config
    for offset, width in ((0x00, 4), (0x08, 4), (0x0E, 1), (0x34, 1), (0xB2, 1), (0xB4, 4), (0xB8, 4), (0x3D, 1)):
        fn.write(offset, b"\xff" * width)
        assert fn.config[offset : offset + width] == before[offset : offset + width], hex(offset)
    fn.write(0xB2, b"\x00\x00")  # MSI-X Table Size (QSIZE) is read-only
    assert fn.msix.size == 5


def test_rw1c_status_bits() -> None:
    src, fn = _fn()
    dev = src.devices[fn.address]
    dev._cfg_put(0x06, 2, 0x0010 | 0x2000 | 0x0100)  # device side: Received Master Abort, Master Data Parity
    fn.write(0x06, (0x2000).to_bytes(2, "little"))  # writing 1 clears only that bit
    assert fn.read(0x06, 2) == 0x0010 | 0x0100
    fn.write(0x06, b"\x00\x00")  # writing 0 changes nothing
    assert fn.read(0x06, 2) == 0x0010 | 0x0100
    dev._cfg_put(0x104, 4, 0x00100000)  # AER: Unsupported Request status
    fn.write(0x104, (0x00100000).to_bytes(4, "little"))
    assert fn.read(0x104, 4) == 0


@pytest.mark.parametrize("spec,bar,size,low_type", [("sim:nic", 3, 0x4000, 0x0), ("sim:nic", 0, 0x20000, 0x0),
                                                    ("sim:nvme,vectors=2048", 4, 0x10000, 0x4)])
def test_bar_sizing(spec: str, bar: int, size: int, low_type: int) -> None:
    src, fn = _fn(spec)
    at = 0x10 + 4 * bar
    original = fn.read(at, 4)
    fn.write(at, b"\xff\xff\xff\xff")
    sized = fn.read(at, 4)
    assert sized & 0xF == low_type  # type bits are read-only
    assert (~(sized & ~0xF) & 0xFFFFFFFF) + 1 == size  # size = ~(value & ~0xf) + 1
    assert src.bar_regions(fn.address)[bar].size == size
    fn.write(at, original.to_bytes(4, "little"))
    assert fn.read(at, 4) == original


def test_msi_address_is_dword_aligned_and_mask_bits_follow_capable() -> None:
    src, fn = _fn()
    fn.write(0x54, b"\xff\xff\xff\xff")
    assert fn.read(0x54, 4) == 0xFFFFFFFC
    fn.write(0x60, b"\xff\xff\xff\xff")  # 4 vectors capable: mask bits 0-3 writable
    assert fn.read(0x60, 4) == 0xF
    fn.write(0x64, b"\xff\xff\xff\xff")  # pending bits are read-only
    assert fn.read(0x64, 4) == 0


def test_memory_space_off_hides_the_bar() -> None:
    src, fn = _fn()
    fn.write(0x04, b"\x00\x00")
    assert src.read_bar(fn.address, 3, 0, 16) == b"\xff" * 16  # Unsupported Request: all ones
    assert "memory_off" in [c.kind for c in fn.msix.checks()]


def test_nic_causes_route_through_ims_and_ivar() -> None:
    src, fn = _fn("sim:nic,driver")
    for cause, vector in (("rx0", 0), ("tx0", 1), ("link", 2), ("other", 2)):
        src.trigger(fn.address, cause)
        assert src.deliveries()[-1].vector == vector, cause
    n = len(src.deliveries())
    src.write_bar(fn.address, 0, 0xD8, (1 << 20).to_bytes(4, "little"))  # IMC: stop RXQ0
    src.trigger(fn.address, "rx0")
    assert len(src.deliveries()) == n
    icr = int.from_bytes(src.read_bar(fn.address, 0, 0xC0, 4), "little")
    assert icr >> 20 & 1
    src.write_bar(fn.address, 0, 0xC0, (1 << 20).to_bytes(4, "little"))  # ICR is write-1-to-clear
    assert not int.from_bytes(src.read_bar(fn.address, 0, 0xC0, 4), "little") >> 20 & 1
    src.write_bar(fn.address, 0, 0xC8, (1 << 22).to_bytes(4, "little"))  # ICS sets TXQ0 as the device would
    assert src.deliveries()[-1].vector == 1
    assert "rx0" in src.triggers(fn.address) and "vector:4" in src.triggers(fn.address)


def test_two_functions_and_who_sent() -> None:
    src = pciexplore.open("sim:nic,driver+nvme,driver")
    nic, nvme = src.functions()
    src.trigger(nvme.address, "cq3")
    src.trigger(nic.address, "vector:4")
    assert [(d.function, d.vector) for d in src.deliveries()] == [(nvme.address, 3), (nic.address, 4)]


def test_msi_only_device_without_msi_uses_intx() -> None:
    src, fn = _fn("sim:nic,msix=0")
    assert fn.msix is None and fn.msi is not None
    src.trigger(fn.address, "vector:0")
    fn.refresh()
    assert fn.read(0x06, 2) & 0x08  # PCI_STATUS_INTERRUPT


@pytest.mark.parametrize("spec,words", [("sim:toaster", "unknown simulated device"),
                                        ("sim:nic,vectors=0", "1..2048"), ("sim:nic,vectors=4096", "1..2048"),
                                        ("sim:nic,vectors=x", "not a number"), ("sim:nic,colour=red", "unknown option")])
def test_bad_specs_are_one_line_errors(spec: str, words: str, capsys) -> None:
    with pytest.raises(InputError, match=words):
        pciexplore.open(spec)
    assert main(["msix", spec]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err


def test_bad_bar_access_and_unknown_cause() -> None:
    src, fn = _fn()
    with pytest.raises(InputError, match="outside the BAR"):
        src.read_bar(fn.address, 3, 0x3FF0, 0x20)
    with pytest.raises(InputError, match="not implemented"):
        src.read_bar(fn.address, 2, 0, 4)
    with pytest.raises(InputError, match="unknown interrupt cause"):
        src.trigger(fn.address, "fire")
    with pytest.raises(InputError, match="DWORD"):
        src.write_bar(fn.address, 3, 2, b"\x00\x00")


def test_too_many_simulated_devices_is_a_one_line_error():
    import pciexplore
    from pciexplore.errors import InputError

    assert len(pciexplore.open("sim:" + "+".join(["nic", "nvme"] * 6)).functions()) == 12
    with pytest.raises(InputError, match="at most 12"):
        pciexplore.open("sim:" + "+".join(["nic"] * 13))


def test_simulator_errors_name_the_spec_the_device_and_the_offset():
    src = pciexplore.open("sim:nic")
    addr = src.addresses()[0]
    with pytest.raises(pciexplore.PciError) as bar:
        src.read_bar(addr, 0, 0x1_0000_0000, 4)
    assert (bar.value.file, bar.value.device, bar.value.offset) == ("sim:nic", str(addr), 0x1_0000_0000)
    with pytest.raises(pciexplore.PciError) as cause:
        src.trigger(addr, "vector:99")
    assert str(cause.value).startswith(f"sim:nic: {addr}: ")

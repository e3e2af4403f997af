"""The interrupt doctor: each check is shown firing on a mistake made on purpose — on the simulator and
on QEMU's real e1000e, where the device is also shown to fail to deliver — and staying silent on healthy
set-ups (this machine's live devices, the shared corpus, a driver-like set-up of both back-ends)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import corpus_dumps, corpus_file

import pciexplore
from pciexplore.doctor import diagnose, findings_frame
from pciexplore.sources.fake_sysfs import build_tree

MSI = 0xFEE0_0000
PCI_COMMAND = 0x04
MEMORY, MASTER, INTX_DISABLE = 0x2, 0x4, 0x400

# The one finding the corpus holds, and why it is right: the NVIDIA Tegra function is a type-1 (bridge)
# header, which has BARs 0 and 1 only, yet its MSI-X capability puts the table and PBA in BAR 2.
# The health checks (pciexplore/health.py) add what lspci -vv shows on the same dumps: LnkSta
# "(downgraded)" on two endpoints and UESta "UnsupReq+" (unmasked in UEMsk) on a PLX switch port.
KNOWN_CORPUS_FINDINGS = {
    "nvidia-turing-usb-1ad0-xxx.lspci": ["msix_placement", "msix_placement"],
    "cap-phy32.lspci": ["link_downgraded"],
    "tree-fsl-p2020.lspci": ["link_downgraded"],
    "cap-vc-pat.lspci": ["aer_uncorrectable_latched"],
}


def checks(findings, vector=None):
    return sorted(f.check for f in findings if vector is None or f.vector == vector)


def driver_setup(src, fn):
    """What a Linux driver leaves: Memory, Bus Master and INTx Disable on, MSI-X enabled, every vector
    programmed with its own message and unmasked."""
    fn.write(PCI_COMMAND, (MEMORY | MASTER | INTX_DISABLE).to_bytes(2, "little"))
    m = fn.msix
    for v in range(m.size):
        m.set_message(v, MSI | (v << 12), 0x4020 + v)
        m.unmask(v)
    m.enable()
    return m


def nic(src):
    return next(f for f in src if f.cap("msix") is not None and f.vendor_id == 0x8086)


# -- healthy set-ups give no finding ------------------------------------------------------------
@pytest.mark.parametrize("dump", corpus_dumps(), ids=lambda p: p.name)
def test_corpus_gives_only_the_known_finding(dump):
    assert checks(diagnose(pciexplore.open(dump))) == KNOWN_CORPUS_FINDINGS.get(dump.name, [])


def test_the_known_corpus_finding_is_the_bir_of_a_bridge():
    path = corpus_file("realworld/nvidia-turing-usb-1ad0-xxx.lspci")
    if not path.exists():
        pytest.skip("corpus absent")
    fn = pciexplore.open(path).functions()[0]
    assert fn.header_type == 1 and fn.cap("msix").get("PCI_MSIX_TABLE", "PCI_MSIX_TABLE_BIR") == 2


def test_live_host_is_healthy():
    src = pciexplore.open("sysfs")
    if not src.functions():
        pytest.skip("no PCI functions in sysfs")
    assert diagnose(src) == []


@pytest.mark.parametrize("spec", ["sim:nic", pytest.param("qemu:e1000e", marks=pytest.mark.qemu)])
def test_driver_like_setup_is_healthy_and_delivers(spec):
    with pciexplore.open(spec) as src:
        fn = nic(src)
        m = driver_setup(src, fn)
        assert checks(diagnose(src)) == []
        before = len(src.deliveries())
        m.trigger(1)
        assert [(d.address, d.data) for d in src.deliveries()[before:]] == [(MSI | 1 << 12, 0x4021)]


# -- each mistake, made on purpose, on both back-ends --------------------------------------------
def _bus_master_off(src, fn, m):
    fn.write(PCI_COMMAND, (MEMORY | INTX_DISABLE).to_bytes(2, "little"))


def _msi_too(src, fn, m):
    msi = fn.cap("msi")
    flags = msi.get("PCI_MSI_FLAGS")
    fn.write(msi["PCI_MSI_FLAGS"].offset, (flags | 1).to_bytes(2, "little"))


MISTAKES = {
    # name: (make the mistake, vector to trigger afterwards, delivered?, expected check, its vector)
    "function mask left set": (lambda s, f, m: m.mask_all(), 0, False, "msix_function_masked", None),
    "vector left masked": (lambda s, f, m: m.mask(1), 1, False, "vector_masked", 1),
    "bus master off": (_bus_master_off, 0, False, "bus_master_off", None),
    "MSI and MSI-X both on": (_msi_too, None, None, "msi_and_msix_enabled", None),
    "INTx Disable clear": (lambda s, f, m: f.write(PCI_COMMAND, (MEMORY | MASTER).to_bytes(2, "little")),
                           None, None, "intx_not_disabled", None),
    "address outside the MSI window": (lambda s, f, m: m.set_message(2, 0x1000_0000, 0x55), 2, "elsewhere",
                                       "msix_address", 2),
    "address never programmed": (lambda s, f, m: m.set_message(3, 0, 0), None, None, "msix_address", 3),
    "two vectors, one message": (lambda s, f, m: m.set_message(4, MSI, 0x4020), None, None,
                                 "duplicate_message", 4),
}


@pytest.mark.parametrize("spec", ["sim:nic", pytest.param("qemu:e1000e", marks=pytest.mark.qemu)])
@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_each_mistake_is_found_where_it_is(spec, mistake):
    make, vector, delivered, expected, where = MISTAKES[mistake]
    with pciexplore.open(spec) as src:
        fn = nic(src)
        m = driver_setup(src, fn)
        make(src, fn, m)
        fn.refresh()
        found = [f for f in diagnose(src) if f.check == expected]
        assert len(found) == 1, checks(diagnose(src))
        assert found[0].device == str(fn.address) and found[0].vector == where
        assert found[0].rule and found[0].fix and found[0].where
        if vector is not None:
            before = len(src.deliveries())
            m.trigger(vector)
            sent = src.deliveries()[before:]
            if delivered is False:  # the device indeed fails to deliver
                assert sent == []
            elif delivered == "elsewhere":  # it writes, but not to an interrupt address
                assert [d.address for d in sent] == [0x1000_0000]


def test_vector_masked_finding_names_the_vector_and_its_message():
    with pciexplore.open("sim:nic") as src:
        fn = nic(src)
        m = driver_setup(src, fn)
        m.mask(3)
        (f,) = diagnose(src)
        assert (f.check, f.vector, f.where) == ("vector_masked", 3, "MSI-X entry 3")
        assert "0xfee03000" in f.message and f.offset == m.regs().table_offset + 3 * 16


# -- mistakes neither back-end can be brought to make (both follow msix.c), shown on crafted devices --
def _vm_function():
    path = corpus_file("vm/virtio-msix-only-vm.lspci")
    if not path.exists():
        pytest.skip("corpus absent")
    return pciexplore.open(path).function("00:03.0")


def test_lost_interrupt_pending_bit_on_an_unmasked_vector(tmp_path):
    fn = _vm_function()  # virtio-net: MSI-X table at BAR0+0x8000, PBA at BAR0+0x48000, 3 vectors
    table = bytearray(0x80000)
    for v in range(3):
        table[0x8000 + 16 * v : 0x8000 + 16 * v + 16] = (
            (MSI | v << 12).to_bytes(8, "little") + (0x4020 + v).to_bytes(4, "little") + b"\0\0\0\0")
    table[0x48000] = 0b100  # vector 2 pending though unmasked: the message never went out
    devices = build_tree(tmp_path, [(fn.address, fn.config)], {fn.address: {0: 0x80000}},
                         {(fn.address, 0): bytes(table)})
    found = diagnose(pciexplore.open(devices))
    assert [(f.check, f.vector) for f in found] == [("lost_interrupt", 2)]


def _raw(tmp_path, cfg: bytes) -> Path:
    path = tmp_path / "config.bin"
    path.write_bytes(cfg)
    return path


def test_no_intx_pin_and_nothing_enabled_is_the_cloud_hypervisor_case(tmp_path):
    cfg = bytearray(_vm_function().config)
    assert cfg[0x3D] == 0  # no INTx pin: MSI-X is the only way
    cfg[0x98 + 3] &= 0x7F  # MSI-X Enable cleared, as a driver that never enabled it leaves it
    found = diagnose(pciexplore.open(_raw(tmp_path, bytes(cfg))))
    assert checks(found) == ["no_interrupt_path"]


def test_table_in_a_reserved_bar_and_overlapping_pba(tmp_path):
    cfg = bytearray(_vm_function().config)
    cfg[0x98 + 4 : 0x98 + 8] = (0x8000 | 7).to_bytes(4, "little")  # BIR 7: reserved
    assert checks(diagnose(pciexplore.open(_raw(tmp_path, bytes(cfg))))) == ["msix_placement"]
    cfg[0x98 + 4 : 0x98 + 8] = (0x8000).to_bytes(4, "little")
    cfg[0x98 + 8 : 0x98 + 12] = (0x8010).to_bytes(4, "little")  # PBA inside the 3-entry table
    found = diagnose(pciexplore.open(_raw(tmp_path, bytes(cfg))))
    assert checks(found) == ["msix_placement"] and "overlap" in found[0].message


def test_non_x86_dumps_are_not_judged_by_the_x86_window():
    path = corpus_file("pciutils-tests/tree-fsl-p2020.lspci")  # a PowerPC host: MSI at 0xfff41740
    if not path.exists():
        pytest.skip("corpus absent")
    src = pciexplore.open(path)
    assert src.function("05:00.0").cap("msi").get("PCI_MSI_ADDRESS_LO") == 0xFFF41740
    assert checks(diagnose(src)) == ["link_downgraded"]  # 0002:01:00.0, as lspci marks it; no MSI finding


# -- outputs ------------------------------------------------------------------------------------
def test_findings_as_dataframe_and_cli_json():
    with pciexplore.open("sim:nic") as src:
        fn = nic(src)
        driver_setup(src, fn)
        fn.msix.mask_all()
        df = findings_frame(diagnose(src))
    assert list(df["check"]) == ["msix_function_masked"] and df.loc[0, "severity"] == "error"
    out = subprocess.run([sys.executable, "-m", "pciexplore", "doctor", "--json", "sim:nic,driver"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []


def test_html_export_carries_the_findings():
    from pciexplore.render.html import render_html

    with pciexplore.open("sim:nic") as src:
        fn = nic(src)
        driver_setup(src, fn)
        fn.msix.mask(2)
        page = render_html(src)
    assert "<h2>Interrupt doctor</h2>" in page
    assert "vector 2 is programmed" in page and "MSI-X entry 2" in page
    with pciexplore.open("sim:nic,driver") as src:
        assert "No findings" in render_html(src)


def test_doctor_panel_shows_findings_and_clears_after_the_fix():
    pytest.importorskip("ipywidgets")
    from pciexplore.widgets import DoctorPanel

    with pciexplore.open("sim:nic,driver") as src:
        fn = nic(src)
        fn.msix.mask_all()
        panel = DoctorPanel(src)
        assert [f.check for f in panel.findings] == ["msix_function_masked"]
        assert "PCI_MSIX_FLAGS_MASKALL" in panel.table.value and "<script" not in panel.table.value
        fn.msix.unmask_all()
        panel.button.click()
        assert panel.findings == [] and "No findings" in panel.table.value
        # the explorer's panel checks the one function shown, and its all-clear names that function
        one = DoctorPanel(src, str(fn.address))
        assert one.findings == [] and f"set-up of {fn.address} looks sound" in one.table.value
        assert "every function" not in one.table.value


def test_a_driver_like_2048_vector_table_is_healthy():
    # every vector its own message: a large table spreads over APIC IDs, as Linux does
    with pciexplore.open("sim:nic,vectors=2048,driver") as src:
        assert diagnose(src) == []

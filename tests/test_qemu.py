"""The QEMU source against outside references: QEMU's own device models and ids, the PCI-to-PCI bridge
rules, lspci's reading of our dumps, the MSI-X rules of the PCI spec as QEMU's msix.c implements them,
the NVMe and edu specifications, and the process lifecycle (no QEMU is ever left behind)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pciexplore import InputError, NotSupported, open_source
from pciexplore.address import Address
from pciexplore.render.lspci import LspciOptions, render_source
from pciexplore.sources.qemu import Machine, QemuError, parse_spec

pytestmark = pytest.mark.qemu

REPO = Path(__file__).resolve().parents[1]
DUMPS = sorted((REPO / "data" / "qemu").glob("*.lspci"))
TOPOLOGY = "e1000e+nvme@root-port+virtio-net-pci@switch+edu"
MSI_ADDRESS = 0xFEE0_0000  # x86 interrupt window: what a driver would program


def _our_qemus() -> list[int]:
    """QEMU processes started by this test process (their command line names our temp directory)."""
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            cmdline = (d / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and b"pciexplore-qemu-" in cmdline and not stat.rsplit(")", 1)[1].split()[0] == "Z":
            pids.append(int(d.name))
    return pids


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture(autouse=True, scope="module")
def no_qemu_left_behind():
    yield
    assert _our_qemus() == [], "a QEMU started by the tests is still running"


@pytest.fixture(scope="module")
def topo():
    with open_source("qemu:" + TOPOLOGY) as src:
        yield src


def by_id(src, vendor: int, device: int):
    fns = [f for f in src.functions() if (f.vendor_id, f.device_id) == (vendor, device)]
    assert len(fns) == 1
    return fns[0]


# -- spec and builder ----------------------------------------------------------------------------
def test_spec_parses_devices_properties_and_topology():
    m = parse_spec("e1000e+nvme,serial=x@root-port+edu@switch")
    assert [(d.driver, d.props, d.behind) for d in m.devices] == [
        ("e1000e", {}, None), ("nvme", {"serial": "x"}, "root-port"), ("edu", {}, "switch")]
    args = m.device_args()
    assert args[::2] == ["-device"] * 7
    assert [a.split(",")[0] for a in args[1::2]] == ["e1000e", "pcie-root-port", "nvme", "pcie-root-port",
                                                     "x3130-upstream", "xio3130-downstream", "edu"]
    props = [dict(p.split("=") for p in a.split(",")[1:]) for a in args[1::2]]
    assert props[2]["bus"] == props[1]["id"] and props[2]["serial"] == "x"  # nvme behind its root port
    assert props[4]["bus"] == props[3]["id"] and props[5]["bus"] == props[4]["id"]  # port -> up -> down
    assert props[6]["bus"] == props[5]["id"]  # edu behind the downstream port
    assert Machine().add("nvme", serial="x", behind="rp").spec == "qemu:nvme,serial=x@root-port"


@pytest.mark.parametrize("spec, words", [
    ("", "empty qemu: spec"),
    ("e1000e+", "empty device"),
    ("nvme,serial", "not key=value"),
    ("e1000e@bridge", "unknown topology"),
])
def test_bad_specs_are_one_line_errors(spec, words):
    with pytest.raises(InputError) as e:
        parse_spec(spec)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_qemu_rejecting_a_device_is_a_one_line_error_and_leaves_nothing():
    before = set(_our_qemus())
    with pytest.raises(InputError) as e:
        open_source("qemu:no-such-device")
    assert "'no-such-device' is not a valid device model name" in str(e.value)
    with pytest.raises(InputError) as e:
        open_source("qemu:virtio-blk-pci")  # QEMU connects, then fails to realize the device
    assert "drive property not set" in str(e.value)
    assert set(_our_qemus()) <= before


def test_missing_qemu_names_the_debian_package(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(NotSupported) as e:
        open_source("qemu:edu")
    assert "qemu-system-x86" in str(e.value) and "apt-get install" in str(e.value)


# -- enumeration ---------------------------------------------------------------------------------
def test_enumerates_qemus_device_models(topo):
    ids = {(f.vendor_id, f.device_id) for f in topo.functions()}
    assert ids == {
        (0x8086, 0x29C0), (0x8086, 0x2918), (0x8086, 0x2922), (0x8086, 0x2930),  # q35 MCH, LPC, AHCI, SMBus
        (0x8086, 0x10D3), (0x1B36, 0x0010), (0x1AF4, 0x1041), (0x1234, 0x11E8),  # e1000e nvme virtio edu
        (0x1B36, 0x000C), (0x104C, 0x8232), (0x104C, 0x8233),  # root ports, switch up/down ports
    }
    assert len(topo.functions()) == 12  # every id once but the two root ports


def test_bridges_have_bus_numbers_and_windows_covering_their_devices(topo):
    # PCI-to-PCI Bridge 1.2: secondary/subordinate bound the buses behind; memory base/limit in 1 MiB units
    for br in (f for f in topo.functions() if f.header_type == 1):
        cfg = br.config
        primary, secondary, subordinate = cfg[0x18], cfg[0x19], cfg[0x1A]
        assert primary == br.address.bus and secondary <= subordinate
        behind = [f for f in topo.functions() if secondary <= f.address.bus <= subordinate]
        assert behind, f"nothing behind {br.address}"
        base = (int.from_bytes(cfg[0x20:0x22], "little") & 0xFFF0) << 16
        limit = ((int.from_bytes(cfg[0x22:0x24], "little") & 0xFFF0) << 16) | 0xFFFFF
        for f in behind:
            for r in topo.bar_regions(f.address).values():
                if r.flags & 0x200:
                    assert base <= r.base and r.base + r.size - 1 <= limit
        assert br.config[0x04] & 0x7 == 0x7  # I/O, memory, bus master


def test_bars_are_aligned_and_do_not_overlap(topo):
    regions = [r for f in topo.functions() for r in topo.bar_regions(f.address).values()]
    for r in regions:
        assert r.base % r.size == 0 and r.size & (r.size - 1) == 0
    mem = sorted((r.base, r.base + r.size) for r in regions if r.flags & 0x200)
    assert all(a[1] <= b[0] for a, b in zip(mem, mem[1:], strict=False))


def test_legacy_ports_and_ecam_agree_on_the_first_256_bytes(topo):
    for f in topo.functions():
        ecam = topo.qtest.read(topo.config.ecam(f.address, 0), 0x100)
        assert topo.config.read_legacy(f.address) == ecam


def test_bar_contents_are_the_device_registers(topo):
    nvme = by_id(topo, 0x1B36, 0x0010)
    assert topo.read_bar(nvme.address, 0, 0x08, 4) == (0x0001_0400).to_bytes(4, "little")  # VS: NVMe 1.4
    edu = by_id(topo, 0x1234, 0x11E8)
    assert topo.read_bar(edu.address, 0, 0, 4) == (0x0100_00ED).to_bytes(4, "little")  # edu.rst: id 0x010000ed
    topo.write_bar(edu.address, 0, 4, (0x1234_5678).to_bytes(4, "little"))  # liveness: reads back inverted
    assert topo.read_bar(edu.address, 0, 4, 4) == (~0x1234_5678 & 0xFFFF_FFFF).to_bytes(4, "little")


def test_bad_accesses_are_one_line_errors(topo):
    edu = by_id(topo, 0x1234, 0x11E8)
    with pytest.raises(InputError, match="outside its 0x100000 bytes"):
        topo.read_bar(edu.address, 0, 0xFFFFC, 8)
    with pytest.raises(NotSupported, match="no BAR 3"):
        topo.write_bar(edu.address, 3, 0, b"\0\0\0\0")
    with pytest.raises(InputError, match="outside 4096 bytes"):
        topo.write_config(edu.address, 0xFFE, b"\0\0\0\0")
    with pytest.raises(InputError, match="no function 0000:07:00.0"):
        topo.read_config(Address(0, 7, 0, 0))


# -- lspci reads our dumps of QEMU's devices exactly as we decode them ---------------------------
@pytest.mark.lspci
@pytest.mark.parametrize("flags", [["-vvv", "-nn"], ["-vv"], ["-v", "-n"]])
def test_lspci_decodes_a_live_dump_like_we_do(topo, tmp_path, flags):
    from lspcicmp import compare

    dump = tmp_path / "qemu.lspci"
    dump.write_text(render_source(topo, LspciOptions(hex_dump=4)))
    matching, total, diff = compare(str(dump), flags)
    assert total > 100 and matching == total, "\n".join(diff[:60])


@pytest.mark.lspci
def test_lspci_draws_the_topology_that_was_asked_for(topo, tmp_path):
    # lspci -t builds its tree from the bridges' bus numbers: root port -> nvme; port -> up -> down -> virtio
    dump = tmp_path / "qemu.lspci"
    dump.write_text(render_source(topo, LspciOptions(hex_dump=4)))
    tree = subprocess.run(["lspci", "-F", str(dump), "-tn"], capture_output=True, text=True, check=True).stdout
    ids = {f.address.bus: f"{f.vendor_id:04x}:{f.device_id:04x}" for f in topo.functions() if f.address.bus}
    assert "+-02.0-[01]----00.0\n" in tree and ids[1] == "1b36:0010"
    assert "+-03.0-[02-04]----00.0-[03-04]----00.0-[04]----00.0\n" in tree and ids[4] == "1af4:1041"


@pytest.mark.lspci
@pytest.mark.parametrize("dump", DUMPS, ids=[d.name for d in DUMPS])
def test_committed_qemu_dumps_decode_like_lspci(dump):
    from lspcicmp import compare

    matching, total, diff = compare(str(dump), ["-vvv", "-nn"])
    assert matching == total, "\n".join(diff[:60])


# -- MSI-X on a real e1000e ----------------------------------------------------------------------
class Msix:
    """Just enough of a driver, written from the spec's offsets, to drive the source directly."""

    def __init__(self, src, fn) -> None:
        self.src, self.a = src, fn.address
        self.cap = fn.cap("msix").offset
        table = int.from_bytes(fn.config[self.cap + 4 : self.cap + 8], "little")
        pba = int.from_bytes(fn.config[self.cap + 8 : self.cap + 12], "little")
        self.bir, self.off = table & 7, table & ~7
        self.pba_bir, self.pba_off = pba & 7, pba & ~7
        self.count = (int.from_bytes(fn.config[self.cap + 2 : self.cap + 4], "little") & 0x7FF) + 1

    def program(self, vector: int, data: int, address: int = MSI_ADDRESS) -> None:
        self.src.write_bar(self.a, self.bir, self.off + 16 * vector, address.to_bytes(8, "little") + data.to_bytes(4, "little"))

    def mask(self, vector: int, on: bool) -> None:
        self.src.write_bar(self.a, self.bir, self.off + 16 * vector + 12, int(on).to_bytes(4, "little"))

    def control(self, enable: bool, maskall: bool = False) -> None:
        self.src.write_config(self.a, self.cap + 3, bytes([(0x80 if enable else 0) | (0x40 if maskall else 0)]))

    def pba(self) -> int:
        return int.from_bytes(self.src.read_bar(self.a, self.pba_bir, self.pba_off, 8), "little")

    def entry(self, vector: int) -> bytes:
        return self.src.read_bar(self.a, self.bir, self.off + 16 * vector, 16)


@pytest.fixture()
def nic():
    with open_source("qemu:e1000e") as src:
        fn = by_id(src, 0x8086, 0x10D3)
        m = Msix(src, fn)
        for v in range(m.count):
            m.program(v, 0x4020 + v)
        yield src, fn, m


def _new(src, before: int):
    return [(d.vector, d.address, d.data) for d in src.deliveries()[before:]]


def test_e1000e_causes_reach_the_vectors_ivar_names(nic):
    src, fn, m = nic
    assert m.count == 5  # 82574: five MSI-X vectors
    ivar = int.from_bytes(src.read_bar(fn.address, 0, 0xE4, 4), "little")
    m.control(enable=True)
    for v in range(m.count):
        m.mask(v, False)
    for name, shift in (("rxq0", 0), ("rxq1", 4), ("txq0", 8), ("txq1", 12), ("other", 16)):
        field = (ivar >> shift) & 0xF
        assert field & 0x8  # 82574 IVAR: bit 3 of each field = valid, bits 2:0 = vector
        before = len(src.deliveries())
        src.trigger(fn.address, name)
        src.trigger(fn.address, f"vector:{field & 7}")
        assert _new(src, before) == [(field & 7, MSI_ADDRESS, 0x4020 + (field & 7))] * 2


def test_table_reads_show_what_was_programmed(nic):
    src, fn, m = nic
    assert m.entry(2) == MSI_ADDRESS.to_bytes(8, "little") + (0x4022).to_bytes(4, "little") + b"\1\0\0\0"
    m.mask(2, False)
    assert m.entry(2)[12:] == b"\0\0\0\0"


def test_memory_decode_off_the_table_does_not_answer_and_keeps_its_messages(nic):
    src, fn, m = nic
    command = fn.config[4]
    src.write_config(fn.address, 4, bytes([command & ~0x2]))  # PCI_COMMAND_MEMORY off: BARs do not decode
    assert m.entry(0) == bytes(16)  # nobody answers: QEMU reads unassigned memory as zeros
    m.program(0, 0x9999)  # goes nowhere
    src.write_config(fn.address, 4, bytes([command]))
    assert m.entry(0) == MSI_ADDRESS.to_bytes(8, "little") + (0x4020).to_bytes(4, "little") + b"\1\0\0\0"


def test_masked_vector_sets_its_pending_bit_and_unmask_sends_it_once(nic):
    src, fn, m = nic
    m.control(enable=True)
    assert m.pba() == 0
    start = len(src.deliveries())
    src.trigger(fn.address, "vector:1")  # entries start masked (PCI 3.0 6.8.2.9)
    assert _new(src, start) == [] and m.pba() == 0b10
    m.mask(1, False)
    assert _new(src, start) == [(1, MSI_ADDRESS, 0x4021)] and m.pba() == 0
    src.trigger(fn.address, "vector:1")
    assert len(_new(src, start)) == 2


def test_function_mask_holds_every_vector_and_releases_in_vector_order(nic):
    src, fn, m = nic
    for v in range(m.count):
        m.mask(v, False)
    m.control(enable=True, maskall=True)
    start = len(src.deliveries())
    for v in (3, 0, 2):
        src.trigger(fn.address, f"vector:{v}")
    assert _new(src, start) == [] and m.pba() == 0b1101
    m.control(enable=True, maskall=False)
    assert [v for v, _, _ in _new(src, start)] == [0, 2, 3] and m.pba() == 0


def test_disabled_msix_sends_nothing_and_sets_no_pending_bit(nic):
    src, fn, m = nic
    m.mask(0, False)
    start = len(src.deliveries())
    src.trigger(fn.address, "vector:0")
    assert _new(src, start) == [] and m.pba() == 0
    m.control(enable=True)
    assert _new(src, start) == []


def test_bus_mastering_off_loses_the_message_entirely(nic):
    src, fn, m = nic
    m.control(enable=True)
    m.mask(0, False)
    command = fn.config[4]
    src.write_config(fn.address, 4, bytes([command & ~0x4]))
    start = len(src.deliveries())
    src.trigger(fn.address, "vector:0")
    assert _new(src, start) == [] and m.pba() == 0
    src.write_config(fn.address, 4, bytes([command]))
    assert _new(src, start) == []
    src.trigger(fn.address, "vector:0")
    assert _new(src, start) == [(0, MSI_ADDRESS, 0x4020)]


def test_threads_sharing_a_source_do_not_mix_up_answers(nic):
    from concurrent.futures import ThreadPoolExecutor

    src, fn, m = nic
    m.control(enable=True)
    for v in range(m.count):
        m.mask(v, False)
    ids = fn.config[:4]

    def work(v: int) -> None:
        for _ in range(40):
            src.trigger(fn.address, f"vector:{v}")
            assert src.read_config(fn.address)[:4] == ids

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(work, range(4)))
    assert sorted(d.vector for d in src.deliveries()) == sorted(v for v in range(4) for _ in range(40))


def test_unknown_causes_are_one_line_errors(nic):
    src, fn, _ = nic
    with pytest.raises(InputError, match="cannot raise 'vector:7'"):
        src.trigger(fn.address, "vector:7")
    with pytest.raises(InputError, match="known: rxq0"):
        src.trigger(fn.address, "link-up")
    with pytest.raises(NotSupported):
        src.trigger(Address(0, 0, 0, 0), "x")  # the host bridge declares no causes


# -- NVMe and edu --------------------------------------------------------------------------------
def test_nvme_admin_and_io_completions_fire_their_queue_vectors():
    with open_source("qemu:nvme@root-port") as src:
        fn = by_id(src, 0x1B36, 0x0010)
        assert fn.address.bus == 1
        m = Msix(src, fn)
        assert m.count == 65  # QEMU nvme: max_ioqpairs (64) + admin
        for v in (0, 3):
            m.program(v, 0x4100 + v)
            m.mask(v, False)
        m.control(enable=True)
        src.trigger(fn.address, "admin-identify")
        src.trigger(fn.address, "vector:3")
        src.trigger(fn.address, "io-queue:3")
        # the first use of queue pair 3 creates it with two admin commands, which complete on vector 0
        assert [(d.vector, d.data) for d in src.deliveries()] == [(0, 0x4100)] * 3 + [(3, 0x4103)] * 2
        ctx = src.device(fn.address)
        ident = src.qtest.read(ctx.dma + 0x2000, 4)
        assert ident[:2] == (0x1B36).to_bytes(2, "little")  # Identify Controller VID = PCI vendor id


def test_edu_raises_msi_with_the_programmed_message():
    with open_source("qemu:edu") as src:
        fn = by_id(src, 0x1234, 0x11E8)
        cap = fn.cap("msi").offset
        src.trigger(fn.address, "raise")  # MSI off: INTx, no message
        src.write_config(fn.address, cap + 4, MSI_ADDRESS.to_bytes(8, "little") + (0x4055).to_bytes(2, "little"))
        src.write_config(fn.address, cap + 2, b"\x01")
        src.trigger(fn.address, "raise")
        src.trigger(fn.address, "vector:0")
        src.trigger(fn.address, "factorial")  # the device's own thread computes 5! and interrupts
        assert [(d.vector, d.address, d.data) for d in src.deliveries()] == [(0, MSI_ADDRESS, 0x4055)] * 3
        assert src.read_bar(fn.address, 0, 0x08, 4) == (120).to_bytes(4, "little")
        fn.refresh()
        assert fn.config[cap + 4 : cap + 14] == MSI_ADDRESS.to_bytes(8, "little") + (0x4055).to_bytes(2, "little")


# -- lifecycle -----------------------------------------------------------------------------------
def test_close_and_context_manager_end_qemu():
    src = open_source("qemu:edu")
    pid = src.pid
    src.close()
    assert _gone(pid)
    src.close()  # twice is fine
    with pytest.raises(RuntimeError), open_source("qemu:edu") as src:
        pid = src.pid
        raise RuntimeError("user code failed")
    assert _gone(pid)


def test_qemu_dies_with_a_killed_python():
    code = ("import os, signal, pciexplore; s = pciexplore.open('qemu:edu'); "
            "print(s.pid, s._process.workdir, flush=True); os.kill(os.getpid(), signal.SIGKILL)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.returncode == -signal.SIGKILL
    pid, workdir = out.stdout.split()
    assert _gone(int(pid))
    assert not Path(workdir).exists()  # nothing left in the temporary directory either


def test_a_source_opened_in_a_thread_outlives_the_thread():
    # PR_SET_PDEATHSIG follows the forking thread; the source must not die with a short-lived thread
    import threading

    box = {}
    t = threading.Thread(target=lambda: box.setdefault("src", open_source("qemu:edu")))
    t.start()
    t.join()
    time.sleep(0.2)
    with box["src"] as src:
        assert by_id(src, 0x1234, 0x11E8).vendor_id == 0x1234
        assert _alive(src.pid)


def test_a_qemu_that_never_connects_times_out_and_is_ended(tmp_path):
    fake = tmp_path / "qemu-system-x86_64"
    fake.write_text("#!/bin/sh\nsleep 30\n")  # sh keeps our arguments on its command line
    fake.chmod(0o755)
    m = parse_spec("edu")
    m.qemu = str(fake)
    before = set(_our_qemus())  # the module's shared machine may be running
    t0 = time.monotonic()
    with pytest.raises(QemuError, match="did not connect within 0.5 s"):
        m.start(start_timeout=0.5)
    assert time.monotonic() - t0 < 5
    assert set(_our_qemus()) == before


def test_a_hung_qemu_times_out_and_is_ended():
    src = open_source("qemu:edu", timeout=0.3)
    pid = src.pid
    os.kill(pid, signal.SIGSTOP)
    with pytest.raises(QemuError, match="no answer from QEMU within 0.3 s"):
        src.read_config(Address(0, 0, 0, 0))
    assert _gone(pid)
    with pytest.raises(QemuError, match="session is over"):
        src.read_config(Address(0, 0, 0, 0))
    src.close()


def test_ctrl_c_in_the_middle_of_a_request_ends_qemu(monkeypatch):
    src = open_source("qemu:edu")
    pid = src.pid

    def interrupted(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr(src.qtest, "_readlines", interrupted)
    with pytest.raises(KeyboardInterrupt):
        src.read_config(Address(0, 0, 0, 0))
    assert _gone(pid)
    src.close()


def test_virtio_net_config_change_and_control_queue_vectors():
    with open_source("qemu:virtio-net-pci") as src:
        fn = next(f for f in src if f.vendor_id == 0x1AF4)  # transitional 1af4:1000 on the root complex
        m = Msix(src, fn)
        assert m.count == 4  # QEMU: 2 * queue pairs + 2 (config, rx, tx, ctrl)
        for v in range(m.count):
            m.program(v, 0x4200 + v)
            m.mask(v, False)
        m.control(enable=True)
        src.trigger(fn.address, "ctrl")
        src.trigger(fn.address, "config")  # link goes down
        bar, off = next((fn.config[c + 4], int.from_bytes(fn.config[c + 8 : c + 12], "little"))
                        for c in range(0x40, 0x100) if fn.config[c] == 0x09 and fn.config[c + 3] == 4
                        and c in [cap.offset for cap in fn.capabilities])
        assert src.read_bar(fn.address, bar, off + 6, 2)[0] & 1 == 0  # VIRTIO_NET_S_LINK_UP cleared
        src.trigger(fn.address, "vector:0")  # config again: link back up
        assert src.read_bar(fn.address, bar, off + 6, 2)[0] & 1 == 1
        # common config: msix_config (0x10) and the control queue's queue_msix_vector say where they go
        assert [(d.vector, d.data) for d in src.deliveries()] == [(3, 0x4203), (0, 0x4200), (0, 0x4200)]
        with pytest.raises(InputError, match="cannot raise 'vector:1'"):
            src.trigger(fn.address, "vector:1")  # rx needs packets: not offered


def test_cli_lists_causes_and_reports_messages_and_pending_bits(capsys):
    from pciexplore.cli import main

    rc = main(["qemu", "e1000e+virtio-net-pci@root-port", "--driver", "--mask", "01:00.0=3",
               "--trigger", "00:01.0=txq0", "--trigger", "01:00.0=ctrl", "--trigger", "01:00.0=vector:0"])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0
    assert "00:01.0 [8086:10d3] MSI-X 5 vectors, enabled" in out
    assert any(line.split()[0] == "ctrl" and line.endswith("-> vector 3") for line in out)
    assert out[-3:] == ["trigger 00:01.0 txq0: vector 2 -> 0xfee00000 <- 0x4022",
                        "trigger 01:00.0 ctrl: no message; pending [3]",
                        "trigger 01:00.0 vector:0: vector 0 -> 0xfee00000 <- 0x4020; pending [3]"]
    assert main(["qemu", "e1000e", "--trigger", "00:01.0=bogus"]) == 1
    assert "cannot raise 'bogus'" in capsys.readouterr().err


def test_virtio_scsi_request_and_balloon_config_change():
    with open_source("qemu:virtio-scsi-pci+virtio-balloon-pci") as src:
        scsi = next(f for f in src if (f.vendor_id, f.device_id) == (0x1AF4, 0x1004))
        m = Msix(src, scsi)
        for v in range(m.count):
            m.program(v, 0x4300 + v)
            m.mask(v, False)
        m.control(enable=True)
        src.trigger(scsi.address, "request")
        assert [(d.vector, d.data) for d in src.deliveries()] == [(3, 0x4303)]  # request queue 0 = queue 2
        ctx = src.device(scsi.address)
        resp = src.qtest.read(ctx.dma + 2 * 0x4000 + 0x3000 + 0x80, 12)
        assert resp[11] == 3  # struct virtio_scsi_cmd_resp.response = VIRTIO_SCSI_S_BAD_TARGET
        balloon = next(f for f in src if (f.vendor_id, f.device_id) == (0x1AF4, 0x1002))
        assert balloon.cap("msix") is None  # QEMU's virtio-balloon-pci has INTx only
        assert not balloon.config[0x06] & 0x08
        src.trigger(balloon.address, "config")
        balloon.refresh()
        assert balloon.config[0x06] & 0x08  # PCI_STATUS_INTERRUPT: its INTx pin is asserted
        num_pages = int.from_bytes(src.read_bar(balloon.address, 4, 0x2000, 4), "little")
        assert num_pages == (4 << 20) >> 12  # the new target: 4 MiB less than the RAM, in 4 KiB pages
        src.trigger(balloon.address, "deflate")
        used = src.device(balloon.address).dma + 1 * 0x4000 + 0x2000  # deflate queue's used ring
        assert src.qtest.read(used + 2, 2) == b"\1\0"  # virtio 2.7.8: used.idx counts buffers the device used


def test_secondary_bus_reset_resets_the_device_and_the_header_is_put_back():
    with open_source("qemu:e1000e@root-port") as src:
        port, nic = src.function("00:01.0"), by_id(src, 0x8086, 0x10D3)
        header = nic.config[:0x40]
        m = Msix(src, nic)
        for v in range(m.count):
            m.program(v, 0x4400 + v)
            m.mask(v, False)
        m.control(enable=True)
        src.write_config(port.address, 0x3E, b"\x40")  # PCI_BRIDGE_CTL_BUS_RESET
        src.write_config(port.address, 0x3E, b"\x00")
        nic.refresh()
        assert nic.config[:0x40] == header  # BARs, command: put back like pci_restore_state
        assert not nic.msix.enabled  # PCI 3.0 6.8.2.3: MSI-X Enable is 0 after reset
        assert m.entry(0) == bytes(12) + b"\1\0\0\0"  # 6.8.2.9: masked after reset; QEMU zeroes the entry
        m.program(0, 0x4480)
        m.mask(0, False)
        m.control(enable=True)
        src.trigger(nic.address, "rxq0")  # the trigger model set the device up again (IVAR etc.)
        assert [(d.vector, d.data) for d in src.deliveries()] == [(0, 0x4480)]


def test_function_level_reset_of_nvme():
    with open_source("qemu:nvme@root-port") as src:
        fn = by_id(src, 0x1B36, 0x0010)
        exp = fn.cap("exp").offset
        assert int.from_bytes(fn.config[exp + 4 : exp + 8], "little") & (1 << 28)  # PCI_EXP_DEVCAP_FLR
        m = Msix(src, fn)
        m.program(0, 0x4600)
        m.mask(0, False)
        m.control(enable=True)
        src.trigger(fn.address, "admin-identify")
        assert src.read_bar(fn.address, 0, 0x14, 4)[0] & 1  # CC.EN: the controller was enabled
        devctl = int.from_bytes(fn.config[exp + 8 : exp + 10], "little")
        src.write_config(fn.address, exp + 8, (devctl | 0x8000).to_bytes(2, "little"))  # BCR_FLR
        fn.refresh()
        assert src.read_bar(fn.address, 0, 0x14, 4) == bytes(4)  # NVMe: the controller is reset, CC = 0
        assert not fn.msix.enabled and fn.config[4] & 0x6 == 0x6
        m.program(0, 0x4601)
        m.mask(0, False)
        m.control(enable=True)
        src.trigger(fn.address, "vector:0")
        assert [d.data for d in src.deliveries()] == [0x4600, 0x4601]

"""`qmp:` sources and `pciexplore vm`, against a real Linux guest (Debian's cloud kernel, its own virtio-net,
virtio-blk and nvme drivers) and QEMU's own answers.  One guest boot is shared by the module."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

import pciexplore
from pciexplore.capture import take
from pciexplore.errors import InputError, NotSupported, PciError, ReadOnlyError
from pciexplore.sources.qemu.qmp import QmpSource
from pciexplore.sources.qemu.timeline import Timeline

sys.path.insert(0, str(Path(__file__).parent))
import guest  # noqa: E402

pytestmark = pytest.mark.qemu
REPO = Path(__file__).resolve().parents[1]
# the nvme behind a PCIe root port: a bridge, bus 1, 4 KiB of extended config through ECAM
DEVICES = ["virtio-net-pci", "virtio-blk-pci,drive", "pcie-root-port,id=rp1,chassis=1",
           "nvme,serial=pciexplore,bus=rp1,drive"]
NVME = "01:00.0"


@pytest.fixture(scope="module")
def vm():
    kernel, why = guest.build()
    if kernel is None:
        pytest.skip(f"guest kernel not available: {why}")
    g = guest.Guest(kernel, DEVICES)
    try:
        g.boot_view = g.view()  # printed once every driver has its MSI IRQs
        yield g
    finally:
        g.stop()


@pytest.fixture(scope="module")
def src(vm):
    with pciexplore.open(vm.spec) as s:
        yield s


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pciexplore", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(REPO)})


def _irq_names(interrupts: str) -> dict[int, str]:
    """/proc/interrupts: IRQ number -> the name the driver gave it (virtio0-input.0, nvme0q1, ...)."""
    out = {}
    for line in interrupts.splitlines():
        m = re.match(r"\s*(\d+):.*PCI-MSI\S*\s+\S+\s+(\S+)\s*$", line)
        if m:
            out[int(m[1])] = m[2]
    return out


# -- attached from outside, compared with the guest's own sysfs ----------------------------------
def test_config_bytes_equal_the_guests_sysfs(vm, src):
    ours = {fn.address.short: fn.config for fn in src.functions()}
    after = vm.view(ask=True)
    assert set(ours) == set(after.config)
    for bdf, cfg in after.config.items():
        assert ours[bdf] == cfg, bdf
    assert after.config == vm.boot_view.config  # attaching and reading changed nothing the guest sees
    assert src.ecam == 0xB000_0000  # where SeaBIOS put q35's PCIEXBAR (QEMU's own qom property agrees below)
    assert src.qmp.execute("qom-get", path="/machine/q35", property="MCFG") == src.ecam


def test_live_msix_entries_match_the_irqs_the_guest_allocated(vm, src):
    view = vm.boot_view
    assert {"00:01.0", "00:02.0", NVME} <= set(view.msi_irqs)  # the root port's port services may have one too
    assert len(view.config[NVME]) == 4096 and view.drivers[NVME] == "nvme"
    for bdf, irqs in view.msi_irqs.items():
        table = src.function(bdf).msix.table
        live = table[(~table["masked"]) & (table["format"] == "compatibility")]
        assert len(live) == len(irqs), (bdf, table)
        assert (live["address"] & 0xFFF0_0000 == 0xFEE0_0000).all()
        assert live["apic_vector"].is_unique
        assert src.function(bdf).msix.enabled


def test_attaching_changes_no_table(vm, src):
    """QEMU's own reads of the tables (HMP xp) before and after a full capture are the same."""
    def xp_tables() -> list[str]:
        out = []
        for fn in src.functions():
            m = fn.msix
            if m is not None:
                r = m.regs()
                base = src.bar_regions(fn.address)[r.table_bir].base + r.table_offset
                out.append(src.qmp.execute("human-monitor-command", **{"command-line": f"xp /{r.size * 4}wx {base:#x}"}))
        return out

    before = xp_tables()
    take(src)
    assert xp_tables() == before


def test_never_writes(src):
    fn = src.function("00:01.0")
    with pytest.raises(ReadOnlyError, match="read-only"):
        fn.write(0x04, b"\0\0")
    with pytest.raises(ReadOnlyError):
        src.write_bar(fn.address, 1, 0, b"\0" * 4)
    isr = [c for c in fn.capabilities if c.id == 9 and fn.config[c.offset + 3] == 3][0]
    bar, off = fn.config[isr.offset + 4], int.from_bytes(fn.config[isr.offset + 8:isr.offset + 12], "little")
    with pytest.raises(NotSupported, match="ISR"):
        src.read_bar(fn.address, bar, off, 1)


# -- the recorded bring-up -------------------------------------------------------------------------
def test_timeline_shows_linux_virtio_init_order(src):
    """virtio 1.x 3.1.1: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queue set-up, DRIVER_OK; Linux's
    vp_find_vqs_msix enables MSI-X and programs the table before binding queues to vectors."""
    tl = src.timeline()
    steps = tl.select("00:01.0").steps
    def first(pred, after=-1):
        return next(s.step for s in steps if s.step > after and pred(s))
    reset = max(s.step for s in steps if s.register == "device_status" and s.value == 0)
    ack = first(lambda s: s.register == "device_status" and s.value == 1, reset)
    drv = first(lambda s: s.register == "device_status" and s.value == 3, ack)
    feat = first(lambda s: s.register == "driver_feature", drv)
    fok = first(lambda s: s.register == "device_status" and s.value == 0xB, feat)
    enable = first(lambda s: s.register == "PCI_MSIX_FLAGS_ENABLE" and s.value == 1, fok)
    entry = first(lambda s: s.kind == "msix-table", enable)
    bind = first(lambda s: s.register == "queue_msix_vector", entry)
    ok = first(lambda s: s.register == "device_status" and s.value == 0xF, bind)
    assert reset < ack < drv < feat < fok < enable < entry < bind < ok
    assert "00:01.0 PCI_MSIX_FLAGS_ENABLE 0 → 1" in str(tl)
    assert "00:01.0 virtio-net queue 1 queue_msix_vector ← 0x2" in str(tl)
    assert "device_status ← ACKNOWLEDGE|DRIVER|DRIVER_OK|FEATURES_OK" in str(tl)
    df = tl.table
    assert list(df.columns[:4]) == ["function", "device", "kind", "register"] and len(df) == len(tl)


def test_virtio_bindings_equal_what_linux_wrote(vm, src):
    """Each queue's vector is the MSI-X entry of the IRQ Linux named after that queue (/proc/interrupts),
    its IRQs being allocated in entry order (msi_irqs)."""
    names = _irq_names(vm.boot_view.interrupts)
    b = src.timeline().bindings()
    for bdf in ("00:01.0", "00:02.0"):
        irqs = vm.boot_view.msi_irqs[bdf]
        entry_of = {names[irq]: i for i, irq in enumerate(irqs)}
        rows = b[b.function == bdf].set_index("queue")["queue_msix_vector"]
        for name, entry in entry_of.items():
            kind, _, n = name.partition("-")[2].rpartition(".")
            if kind in ("input", "output", "req"):
                queue = int(n) * 2 + (kind == "output") if kind != "req" else int(n)
                assert rows[queue] == entry, (bdf, name)
        # the same, through the normal Source interface: select a queue in the source, read the field back
        fn = src.function(bdf)
        cap = [c for c in fn.capabilities if c.id == 9 and fn.config[c.offset + 3] == 1][0]
        bar, off = fn.config[cap.offset + 4], int.from_bytes(fn.config[cap.offset + 8:cap.offset + 12], "little")
        for queue, vector in rows.dropna().items():
            src.write_bar(fn.address, bar, off + 0x16, int(queue).to_bytes(2, "little"))
            raw = src.read_bar(fn.address, bar, off + 0x16, 6)
            assert int.from_bytes(raw[0:2], "little") == queue
            assert int.from_bytes(raw[4:6], "little") == vector
        # and the virtio model over it, as `pciexplore virtio qmp:...` shows it: the same bindings
        model = fn.virtio.queues["msix_vector"]
        assert {q: int(model[q]) for q in rows.dropna().index} == {q: int(v) for q, v in rows.dropna().items()}
    assert vm.view(ask=True).config == vm.boot_view.config  # the guest's queue_select was never touched


def test_timeline_scrubbed_to_a_step_shows_what_was_written_by_then(src):
    """The state at a step is the last write of each register up to it, as the trace has them."""
    from pciexplore.widgets import TimelineView

    tl = src.timeline()
    bind = next(s for s in tl if s.function == "00:01.0" and s.register == "queue_msix_vector" and s.index == 1)
    def vector_at(n: int):
        st = tl.state(n, "00:01.0")
        hit = st[(st.register == "queue_msix_vector") & (st["index"] == 1)]
        return None if hit.empty else int(hit.value.iloc[0])
    assert vector_at(bind.step - 1) is None and vector_at(bind.step) == bind.value == 2
    view = TimelineView(tl, "00:01.0")
    view.slider.value = bind.step
    assert "queue 1 queue_msix_vector ← 0x2</b>" in view.steps.value and "queue_msix_vector" in view.table.value
    view.slider.value = bind.step - 1
    assert "<b>" in view.steps.value and f"by step {bind.step - 1}" in view.table.value


def test_explorer_follows_the_running_guest(src):
    from pciexplore.widgets import Explorer

    ex = Explorer(src)
    ex.show(src.function(NVME))
    live = ex.msix_box.children[0]
    assert live.description.startswith("live")
    live.value = True
    deadline = time.monotonic() + 30
    while ex.live_refreshes < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    live.value = False
    assert ex.live_refreshes >= 3


def test_timeline_diff(src):
    tl = src.timeline()
    assert tl.diff(tl) == []
    cut = next(s.step for s in tl if s.register == "device_status" and s.value == 0xF)
    short = Timeline(tl.steps[: cut + 1], name="cut")
    missing = tl.diff(short, bdf=False)
    assert missing and all(line.startswith("-") for line in missing) and len(missing) == len(tl) - cut - 1


def test_same_driver_on_another_machine_diffs_empty(src, tmp_path):
    """A second boot with the virtio-net alone, in another slot (other BAR addresses, other rings): Linux's
    virtio-net bring-up is the same register for register; the values (addresses) are not."""
    kernel, _ = guest.build()
    other = guest.Guest(kernel, ["virtio-net-pci,addr=0x5"])
    try:
        other.view()
        with pciexplore.open(other.spec) as there:
            theirs = there.timeline().select(device="virtio-net-pci")
            take(there).save(tmp_path / "other.json")
    finally:
        other.stop()
    ours = src.timeline().select(device="virtio-net-pci")
    assert {s.function for s in theirs} == {"00:05.0"} and {s.function for s in ours} == {"00:01.0"}
    assert len(ours) > 100
    assert ours.diff(theirs, bdf=False, values=False) == []
    differ = ours.diff(theirs, bdf=False)
    assert differ  # APIC vectors and ring addresses are the machine's
    machine_values = ("PCI_MSIX_ENTRY_DATA", "PCI_MSIX_ENTRY_LOWER_ADDR", "queue_desc_", "queue_driver_",
                      "queue_device_", "PCI_BASE_ADDRESS_", "PCI_ROM_ADDRESS", "PCI_INTERRUPT_LINE")
    assert all(any(word in line for word in machine_values) for line in differ), differ
    take(src).save(tmp_path / "this.json")
    files = [str(tmp_path / "this.json"), str(tmp_path / "other.json")]
    by_register = _cli("diff", "--timeline", "registers", "-s", "00:01.0", "-t", "00:05.0", *files)
    assert (by_register.returncode, by_register.stdout, by_register.stderr) == (0, "", "")
    whole = _cli("diff", "--timeline", "registers", *files)  # the other machine has no virtio-blk, nvme, root port
    assert whole.returncode == 1 and "-virtio-blk-pci virtio device_status" in whole.stdout.splitlines()
    steps = _cli("diff", "--timeline", "steps", str(tmp_path / "this.json"), str(tmp_path / "other.json"))
    assert set(differ) <= set(steps.stdout.splitlines())


def test_commands_work_on_a_running_vm(vm, src, tmp_path):
    # the open source leaves the monitor free between its requests, so the commands can attach too
    addresses = {fn.address for fn in src.functions()}
    recording = [s.text for s in src.timeline()]
    show = _cli("show", "-vv", vm.spec)
    assert show.returncode == 0 and "Virtio network device" in show.stdout and "MSI-X: Enable+" in show.stdout
    msix = _cli("msix", "-s", NVME, vm.spec)
    assert msix.returncode == 0 and "65" in msix.stdout
    doctor = _cli("doctor", vm.spec)
    assert doctor.returncode in (0, 1) and doctor.stderr == ""
    out = tmp_path / "vm.json"
    cap = _cli("capture", vm.spec, "-o", str(out))
    assert cap.returncode == 0, cap.stderr
    captured = pciexplore.open(out)
    assert {fn.address for fn in captured.functions()} == addresses
    recorded = captured.timeline()
    assert recorded is not None and len(recorded) > 100
    assert [s.text for s in recorded][: len(recording)] == recording
    with pciexplore.open(vm.spec, hold=True) as held:  # a held monitor makes other clients wait, then say so
        r = _cli("show", vm.spec, timeout=60)
        assert r.returncode == 1 and "another client holds this monitor" in r.stderr
        assert held.function("00:01.0").config == src.function("00:01.0").config


def test_replay_of_the_running_guest_loses_nothing(vm, src):
    """Linux's bring-up as this guest made it, replayed through emulated, irqfd and cloud-hypervisor
    delivery: every event sends the same message, the entry the guest's own table holds for the queue's
    vector, and the doctor finds no delivery hazard (Linux programs its entries before DRIVER_OK)."""
    from pciexplore.doctor import diagnose
    from pciexplore.virtio.replay import replay

    timeline = src.timeline()
    virtio = sorted({s.function for s in timeline if s.kind == "virtio"})
    assert virtio
    for bdf in virtio:
        fn = src.function(bdf)
        (r,) = replay(timeline, function=bdf, vectors=fn.msix.regs().size)
        assert r.lost == [], r.lost
        table = {e.vector: (e.address, e.data) for e in fn.msix.entries}
        sent = [o for o in r.outcomes if o.vector is not None]
        assert sent and all(o.message == table[o.vector] for o in sent), str(r)
    assert not [x for x in diagnose(src) if x.check.startswith("irqfd_")]


# -- bad input and faults (no guest needed) ---------------------------------------------------------
def test_missing_path_and_not_a_socket(tmp_path):
    with pytest.raises(InputError, match=r"qmp:/nonexistent/q.sock: no such socket"):
        pciexplore.open("qmp:/nonexistent/q.sock")
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(InputError, match="not a Unix socket"):
        pciexplore.open(f"qmp:{f}")
    with pytest.raises(InputError, match="empty qmp: spec"):
        pciexplore.open("qmp:")


@pytest.mark.parametrize("says", [b"HELLO\n", b""])
def test_socket_that_is_not_qmp(says):
    path = tempfile.mktemp(prefix="px-", suffix=".sock", dir="/tmp")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(1)

    def answer():
        conn, _ = server.accept()
        conn.sendall(says)
        time.sleep(2)
        conn.close()

    t = threading.Thread(target=answer, daemon=True)
    t.start()
    try:
        with pytest.raises(InputError, match=f"qmp:{path}: (not a QMP socket|no QMP greeting)") as e:
            QmpSource(path, timeout=1)
        assert "\n" not in str(e.value)
    finally:
        server.close()
        os.unlink(path)


def _bare_qemu(tmp_path: Path, *machine: str, running: bool = False) -> tuple[subprocess.Popen, str]:
    """QEMU with no guest OS: stopped before its BIOS (`-S`) or running SeaBIOS alone."""
    sock = tmp_path / "q.sock"
    proc = subprocess.Popen(["qemu-system-x86_64", *machine, "-accel", "tcg", *([] if running else ["-S"]), "-display", "none",
                             "-nodefaults", "-device", "virtio-net-pci", "-qmp", f"unix:{sock},server=on,wait=off"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return proc, str(sock)


def test_vm_exiting_mid_read(tmp_path):
    proc, sock = _bare_qemu(tmp_path, "-machine", "q35", running=True)
    try:
        deadline = time.monotonic() + 60
        while (src := pciexplore.open(f"qmp:{sock}")).ecam is None:  # SeaBIOS enables ECAM within a second or so
            src.close()
            assert time.monotonic() < deadline, "SeaBIOS never enabled ECAM"
            time.sleep(0.2)
        proc.kill()
        proc.wait()
        with pytest.raises(PciError, match=f"qmp:{sock}: .*(exited|closed|failed)") as e:
            for fn in src.functions():
                src.read_config(fn.address)
        assert "\n" not in str(e.value)
        src.close()
    finally:
        proc.kill()
        proc.wait()


def test_no_ecam_before_firmware_gives_qemus_header(tmp_path):
    """A q35 stopped before its BIOS ran has no ECAM window: the header is what query-pci says."""
    proc, sock = _bare_qemu(tmp_path, "-machine", "q35")
    try:
        with pciexplore.open(f"qmp:{sock}") as src:
            assert src.ecam is None
            pci = {(d["slot"], d["function"]): d for d in src.qmp.execute("query-pci")[0]["devices"]}
            for fn in src.functions():
                d = pci[(fn.address.device, fn.address.function)]
                assert len(fn.config) == 64 and src.limited[fn.address] == 64
                assert (fn.vendor_id, fn.device_id) == (d["id"]["vendor"], d["id"]["device"])
                assert fn.class_code >> 8 == d["class_info"]["class"]
    finally:
        proc.kill()
        proc.wait()


def test_vm_command_errors_leave_nothing():
    before = set(Path(tempfile.gettempdir()).glob("pciexplore-vm-*"))
    r = _cli("vm", "--", "qemu-system-x86_64", "-machine", "no-such-machine", timeout=60)
    assert r.returncode == 1 and r.stderr.strip().splitlines()[-1].startswith("pciexplore: QEMU exited")
    r = _cli("vm", "--", "qemu-system-x86_64", "-qmp", "stdio")
    assert r.returncode == 1 and "already has -qmp" in r.stderr
    assert set(Path(tempfile.gettempdir()).glob("pciexplore-vm-*")) == before


def test_guest_reprograms_while_it_is_read(vm, src):
    """Linux unbinds and binds virtio-blk again (tearing down and setting up MSI-X) while a thread reads the
    function over and over: every read gives bytes or a one-line error, none hangs; afterwards the kit sees
    what the guest sees, and the recording shows the second bring-up."""
    bdf = "00:02.0"
    fn = src.function(bdf)
    stop, reads, errors = threading.Event(), [0], []

    def reader():
        while not stop.is_set():
            try:
                fn.refresh()
                assert len(fn.config) == 256
                assert len(fn.msix.entries) == 2
                reads[0] += 1
            except PciError as e:
                errors.append(str(e))

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        vm.run(f"echo 0000:{bdf} > /sys/bus/pci/drivers/virtio-pci/unbind; "
               f"echo 0000:{bdf} > /sys/bus/pci/drivers/virtio-pci/bind")
        view = vm.view(ask=True)
    finally:
        stop.set()
        t.join(timeout=30)
    print(f"{reads[0]} reads, {len(errors)} one-line errors while the guest rebound {bdf}: {errors[:2]}")
    assert not t.is_alive() and reads[0] > 0
    assert all("\n" not in e and bdf in e for e in errors), errors
    fn.refresh()
    assert fn.config == view.config[bdf]
    table = fn.msix.table
    assert len(table[~table["masked"]]) == len(view.msi_irqs[bdf])
    ok = [s for s in src.timeline().select(bdf) if s.register == "device_status" and s.value == 0xF]
    assert len(ok) >= 2  # the bring-up at boot and the one after bind


def test_zz_vm_ends_with_nothing_left(vm):
    """Last in the module: SIGTERM to `pciexplore vm` alone stops QEMU and removes the socket and trace."""
    workdir = Path(vm.spec[4:]).parent
    info = json.loads((workdir / "pciexplore-vm.json").read_text())
    assert "-qmp" in info["command"] and "memory_region_ops_write" in info["command"]
    os.kill(info["pid"], 0)  # QEMU runs
    vm.proc.send_signal(signal.SIGTERM)
    assert vm.proc.wait(timeout=30) == 128 + signal.SIGTERM
    deadline = time.monotonic() + 10
    while Path(f"/proc/{info['pid']}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{info['pid']}").exists()
    assert not workdir.exists()


def test_guest_kernel_script_fails_in_one_line_without_apt(tmp_path):
    """What the fixture turns into a skip reason when the kernel cannot be fetched."""
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "guest-kernel"), "--cache", str(tmp_path)],
                       capture_output=True, text=True, env={"PATH": str(tmp_path)}, timeout=60)
    assert r.returncode == 1 and r.stderr.strip() == "guest-kernel: apt-get not found (a Debian host is needed)"
    assert not any(tmp_path.iterdir())

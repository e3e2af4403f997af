"""QEMU's irqfd delivery path measured on QEMU itself: a vhost-user-blk device served by
qemu-storage-daemon, driven over qtest on KVM, its interrupts counted by the vCPU (sources/qemu/vcpu.py);
and the QMP channel against QEMU's real event lines."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from pciexplore import InputError, NotSupported, open_source
from pciexplore.sources.qemu import Machine, irqfd, parse_spec, vcpu
from pciexplore.sources.qemu import machine as machine_module
from pciexplore.sources.qemu.machine import STORAGE_DAEMON, kvm_unusable
from pciexplore.sources.qemu.vcpu import COUNTERS, MSI_WINDOW, decode_counters

pytestmark = pytest.mark.qemu
FIXTURE = Path(__file__).resolve().parents[1] / "data" / "qemu" / "irqfd-vhost-user-blk.json"


def test_qmp_answers_stay_in_step_across_qemus_event_lines():
    # QEMU 7.2 prints `{"timestamp": ..., "event": "RESUME"}` after cont's answer: taken for the next
    # command's answer, every later command would read the one before it
    with open_source("qemu:edu") as src:
        assert src.qmp.execute("query-status")["status"] == "prelaunch"
        assert src.qmp.execute("cont") == {}
        assert src.qmp.execute("query-status")["running"] is True
        assert src.qmp.execute("stop") == {}
        assert src.qmp.execute("query-status")["status"] == "paused"


def _kvm_vhost_or_skip() -> None:
    why = kvm_unusable()
    if why is not None:
        pytest.skip(f"no KVM here ({why}): the irqfd path needs it")
    if shutil.which(STORAGE_DAEMON) is None:
        pytest.skip(f"{STORAGE_DAEMON} not installed (Debian qemu-system-common)")


def _ours(name: str) -> list[int]:
    """Processes named `name` whose parent is this test process."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            comm, rest = stat.split("(", 1)[1].rsplit(")", 1)
            fields = rest.split()
            if comm == name[:15] and int(fields[1]) == os.getpid() and fields[0] != "Z":
                out.append(int(d.name))
    return out


@pytest.fixture(autouse=True, scope="module")
def nothing_left_running():
    yield
    assert _ours("qemu-system-x86_64") == [] and _ours(STORAGE_DAEMON) == []


def test_vhost_user_blk_spec_serves_its_disk_and_runs_on_kvm():
    m = parse_spec("vhost-user-blk-pci")
    assert m.accel == "kvm"  # the back-end starts only while the VM runs
    args = m.device_args(Path("/w"))
    assert args == ["-chardev", "socket,id=pxvhu0,path=/w/vhu0.sock", "-device", "vhost-user-blk-pci,id=pxdev0,chardev=pxvhu0"]
    assert "chardev" not in parse_spec("vhost-user-blk-pci,chardev=mine").device_args(Path("/w"))[0]


def test_vhost_user_blk_on_kvm_reads_config_and_counts_its_interrupts():
    _kvm_vhost_or_skip()
    with open_source("qemu:vhost-user-blk-pci") as src:
        assert len(_ours(STORAGE_DAEMON)) == 1
        fn = src.function("00:01.0")
        assert (fn.vendor_id, fn.device_id) == (0x1AF4, 0x1001)  # transitional virtio-blk (QEMU's default)
        # QEMU's own report of the device agrees with config space read through qtest on KVM
        (bus,) = src.qmp.execute("query-pci")
        dev = next(d for d in bus["devices"] if d["slot"] == 1)
        assert dev["qdev_id"] == "pxdev0" and dev["id"]["device"] == 0x1001
        assert fn.msix.size == 2  # config + one request queue (num-queues = vCPUs = 1)
        assert src.qmp.execute("query-status")["running"] is True  # the vCPU runs vcpu.py's counter
        lapic = src.qmp.execute("human-monitor-command", **{"command-line": "info lapic"})
        assert "APIC enabled" in lapic and "(X2APIC ID)" in lapic
        # the emulated path: QEMU's msix_notify -> kvm_send_msi; the vCPU counts APIC vector 0x40
        m = fn.msix
        m.set_message(1, MSI_WINDOW, 0x40)
        m.unmask(1)
        m.enable()
        before = _injected(src), _counted(src)
        src.trigger(fn.address, "read")  # a read of sector 0, done by qemu-storage-daemon
        assert [(d.address, d.data, d.function, d.vector) for d in src.deliveries()] == [
            (MSI_WINDOW, 0x40, fn.address, 1)]
        # KVM's own count of interrupts injected into the vCPU moved exactly as the vCPU's counters
        # (the delivery and the source's barrier interrupts alike)
        assert _injected(src) - before[0] == _counted(src) - before[1] > 1
        pids = _ours(STORAGE_DAEMON) + _ours("qemu-system-x86_64")
    assert all(_gone(p) for p in pids)



def _injected(src) -> int:
    """KVM's irq_injections statistic of the vCPU (QMP query-stats)."""
    (vcpu,) = src.qmp.execute("query-stats", target="vcpu")
    return next(s["value"] for s in vcpu["stats"] if s["name"] == "irq_injections")


def _counted(src) -> int:
    return sum(decode_counters(src.qtest.read(COUNTERS, 256 * 4)))


def _gone(pid: int, within: float = 5.0) -> bool:
    """The process has exited and was reaped (or is a zombie)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return True
        except OSError:
            return True
        time.sleep(0.02)
    return False


def test_under_kvm_the_emulated_path_delivers_as_the_tcg_mailboxes_show_it():
    # the rules tests/test_qemu.py checks through mailboxes under TCG, seen by the vCPU under KVM: e1000e
    # IVAR routes cause N to entry N (QEMU's msix_notify -> kvm_send_msi), a masked vector sets its PBA
    # bit and its unmask sends it once; edu's MSI (data 0x4055: vector 0x55) through msi_notify
    _kvm_vhost_or_skip()
    with open_source("qemu:e1000e+edu", accel="kvm") as src:
        nic = next(f for f in src.functions() if (f.vendor_id, f.device_id) == (0x8086, 0x10D3))
        m = nic.msix
        for v in range(5):
            m.set_message(v, MSI_WINDOW, 0x4020 + v)  # vector 0x20 too: the source's barrier is 16
            m.unmask(v)
        m.enable()
        for v in (3, 0, 4):
            m.trigger(v)
        m.mask(2)
        m.trigger(2)
        assert m.table.pending.tolist() == [False, False, True, False, False]
        m.unmask(2)
        assert [(d.data, d.function, d.vector) for d in src.deliveries()] == [
            (0x23, nic.address, 3), (0x20, nic.address, 0), (0x24, nic.address, 4), (0x22, nic.address, 2)]
        assert not m.table.pending.any()
        edu = next(f for f in src.functions() if f.vendor_id == 0x1234)
        cap = edu.cap("msi").offset
        src.write_config(edu.address, cap + 4, MSI_WINDOW.to_bytes(8, "little") + (0x4055).to_bytes(2, "little"))
        src.write_config(edu.address, cap + 2, b"\x01")
        src.trigger(edu.address, "factorial")
        assert [(d.data, d.function, d.vector) for d in src.deliveries()[4:]] == [(0x55, edu.address, 0)]
        edu.refresh()  # nothing is redirected under KVM: config space holds the message as written
        assert edu.config[cap + 4 : cap + 14] == MSI_WINDOW.to_bytes(8, "little") + (0x4055).to_bytes(2, "little")


def test_a_daemon_that_refuses_its_export_is_a_one_line_error_and_leaves_nothing(monkeypatch):
    _kvm_vhost_or_skip()
    real = Machine.daemons

    def bad(self, workdir):
        return [(cmd[:-1] + [cmd[-1].replace("type=vhost-user-blk", "type=vhost-user-nope")], sock)
                for cmd, sock in real(self, workdir)]

    monkeypatch.setattr(Machine, "daemons", bad)
    with pytest.raises(InputError, match=r"^.*qemu-storage-daemon refused the export: .*vhost-user-nope") as e:
        open_source("qemu:vhost-user-blk-pci")
    assert "\n" not in str(e.value)
    assert _ours(STORAGE_DAEMON) == [] and _ours("qemu-system-x86_64") == []


def test_kvm_missing_is_a_one_line_error(monkeypatch):
    monkeypatch.setattr(machine_module, "kvm_unusable", lambda: "/dev/kvm: No such file or directory")
    with pytest.raises(NotSupported, match=r"KVM is not usable here \(/dev/kvm: No such file or directory\)"):
        open_source("qemu:vhost-user-blk-pci")
    assert _ours(STORAGE_DAEMON) == []


# -- the delivery paths, measured ------------------------------------------------------------------
# What QEMU 7.2's code says each step delivers (APIC vectors; `pending`: PBA bits 0-1), per path:
# irqfd: hw/virtio/virtio-pci.c virtio_pci_set_guest_notifiers builds a KVM MSI route per queue vector
#   from the entry as it is at DRIVER_OK (kvm_virtio_pci_vq_vector_use, only when msix_enabled() then);
#   virtio_pci_one_vector_unmask updates it on a mask -> unmask transition (the entry's mask bit or the
#   Function Mask, through msix_handle_mask_update); a masked entry has its irqfd detached, the event
#   waits in the eventfd until virtio_pci_vector_poll (a PBA read) sets the pending bit or the unmask
#   re-attaches the irqfd (KVM injects an already-signalled eventfd); a status reset unbinds everything.
# vhost-no-irqfd (TCG): QEMU's main loop reads the eventfd (virtio_queue_guest_notifier_read) and
#   msix_notify sends the entry as it is then; masking swaps the back-end's call fd for the masked
#   notifier (vhost_virtqueue_mask), polled on a PBA read and on unmask.
# emulated (QEMU's virtio-blk): virtio_notify -> msix_notify at completion; no back-end, so DRIVER_OK
#   sends nothing.
# With a vhost-user back-end, DRIVER_OK itself delivers once: libvhost-user's vu_set_vring_call_exec
# signals the call eventfd it is handed (sent on to the entry, or held while it is masked).
_STALE = [[], [], [], [0x40], [0x40], []]
_FMASK = [[], [], [], [0x50], []]
_MASKED_PBA = [[], [], [], [], [], ([], 0b00), [], ([], 0b10), [0x70], ([], 0b00)]
_CHANGED = [[], [], [], [], [], [], [], [0x79], [0x79]]
_RESET = [[], [], [], [0x90], []]
_EXITED = ("exited", "kvm_irqchip_commit_routes")  # QEMU aborted: the function that asserted
_LATE = [[], [], [], [], [0x80], [], [0x81]]  # MSI-X off at DRIVER_OK: no irqfd, and INTx for the signal
EXPECTED = {
    "stale-route": {"irqfd": _STALE + [[0x40], [], [], [0x41]],
                    "vhost-no-irqfd": _STALE + [[0x41], [], [], [0x41]],
                    "emulated": [[], [], [], [], [0x40], [], [0x41], [], [], [0x41]]},
    "function-mask-refreshes": {"irqfd": _FMASK + [[0x50], [], [], [0x51]],
                                "vhost-no-irqfd": _FMASK + [[0x51], [], [], [0x51]],
                                "emulated": [[], [], [], [], [], [0x51], [], [], [0x51]]},
    # the back-end's DRIVER_OK signal, on a masked entry, waits for the unmask
    "program-while-masked": {"irqfd": [[], [], [], [0x60], [0x60]], "vhost-no-irqfd": [[], [], [], [0x60], [0x60]],
                             "emulated": [[], [], [], [], [0x60]]},
    "masked-pending-pba": {"irqfd": _MASKED_PBA[:3] + [[0x70]] + _MASKED_PBA[4:],
                           "vhost-no-irqfd": _MASKED_PBA[:3] + [[0x70]] + _MASKED_PBA[4:], "emulated": _MASKED_PBA},
    "masked-pending-message-changed": {"irqfd": _CHANGED[:3] + [[0x78]] + _CHANGED[4:],
                                       "vhost-no-irqfd": _CHANGED[:3] + [[0x78]] + _CHANGED[4:], "emulated": _CHANGED},
    "msix-enabled-after-driver-ok": {"irqfd": _LATE, "vhost-no-irqfd": _LATE, "emulated": _LATE},
    # virtio_pci_common_write (queue_msix_vector) only re-counts vector users: the irqfd stays on the route
    # of the vector the queue had at DRIVER_OK, so the queue goes on sending entry 1's 0xA1; the unmask of
    # entry 0 then runs virtio_pci_one_vector_unmask for queue 0 under vector 0, and QEMU 7.2 aborts in
    # kvm_irqchip_commit_routes (assert ret == 0).  Without irqfds the queue sends entry 0's 0xA0 at once.
    "queue-vector-moved": {"irqfd": [[], [], [], [], [], [0xA1], [0xA1], [], [0xA1], [], _EXITED],
                           "vhost-no-irqfd": [[], [], [], [], [], [0xA1], [0xA1], [], [0xA0], [], [], [0xA0]],
                           "emulated": [[], [], [], [], [], [], [0xA1], [], [0xA0], [], [], [0xA0]]},
    # MSI-X Enable cleared and set while DRIVER_OK: without irqfds the new message, like a Function Mask
    # set/clear; with them QEMU 7.2 aborts when MSI-X is enabled again, in msix_fire_vector_notifier
    # (assert ret >= 0: the unmask notifier virtio_pci_vector_unmask failed); measured also without the
    # message rewrite, while a Function Mask set/clear on the same machine is fine
    "msix-disable-enable": {"irqfd": [[], [], [], [0xB0], [], [0xB0], [], ("exited", "msix_fire_vector_notifier")],
                            "vhost-no-irqfd": [[], [], [], [0xB0], [], [0xB1], [], [], [0xB1]],
                            "emulated": [[], [], [], [], [], [0xB1], [], [], [0xB1]]},
    "reset-rebuilds": {"irqfd": _RESET + [[0x90], [], [0x91], [0x91]],
                       "vhost-no-irqfd": _RESET + [[0x91], [], [0x91], [0x91]],
                       "emulated": [[], [], [], [], [], [0x91], [], [], [0x91]]},
}


def _outcome(r: dict):
    if "qemu_exited" in r:
        asserted = re.search(r"(\w+): Assertion", r["qemu_exited"])
        return ("exited", asserted.group(1) if asserted else r["qemu_exited"])
    return (r["delivered"], r["pending"]) if "pending" in r else r["delivered"]


def _outcomes(results: list[dict]) -> list:
    """Each step's outcome until QEMU ended (the fixture marks the steps after it not_played)."""
    return [_outcome(r) for r in results if "not_played" not in r]


def test_every_scenario_has_its_expectation_on_every_path():
    assert set(EXPECTED) == set(irqfd.SCENARIOS)
    for name, (_, steps) in irqfd.SCENARIOS.items():
        assert set(EXPECTED[name]) == set(irqfd.PATHS)
        for e in EXPECTED[name].values():  # every step, or up to the one QEMU ended in
            assert len(e) == len(steps) or (len(e) < len(steps) and e[-1][0] == "exited"), name


def test_the_committed_fixture_is_qemus_behaviour_by_its_rules():
    # data/qemu/irqfd-vhost-user-blk.json, for the simulator's delivery modes to be compared against
    fixture = json.loads(FIXTURE.read_text())
    assert fixture["format"] == "pciexplore-irqfd-crosscheck/1" and fixture["qemu"].startswith("QEMU emulator version")
    assert set(fixture["scenarios"]) == set(irqfd.SCENARIOS) and set(fixture["paths"]) == set(irqfd.PATHS)
    for name, recorded in fixture["scenarios"].items():
        steps = [{k: v for k, v in s.items() if k not in irqfd.PATHS} for s in recorded["steps"]]
        assert steps == irqfd.SCENARIOS[name][1], name
        for path in irqfd.PATHS:
            assert _outcomes([s[path] for s in recorded["steps"]]) == EXPECTED[name][path], (name, path)


def _path_or_skip(path: str) -> None:
    if path == "emulated":
        return
    if path == "irqfd":
        _kvm_vhost_or_skip()
    elif shutil.which(STORAGE_DAEMON) is None:
        pytest.skip(f"{STORAGE_DAEMON} not installed (Debian qemu-system-common)")


@pytest.mark.parametrize("path", list(irqfd.PATHS))
@pytest.mark.parametrize("name", list(irqfd.SCENARIOS))
def test_delivery_paths_on_qemu_itself(name, path):
    _path_or_skip(path)
    assert _outcomes(irqfd.run(irqfd.SCENARIOS[name][1], path)) == EXPECTED[name][path]


def test_the_headline_one_write_two_answers():
    # the same device, back-end and steps: after an entry's message is rewritten while unmasked, the
    # irqfd route still sends the old vector, the path without irqfds the new one
    fixture = json.loads(FIXTURE.read_text())
    step = fixture["scenarios"]["stale-route"]["steps"][6]
    assert step["step"] == "request"
    assert (step["irqfd"]["delivered"], step["vhost-no-irqfd"]["delivered"]) == ([0x40], [0x41])


@pytest.mark.parametrize("accel, data", [("kvm", 0x21), ("tcg", 0x4021)])
def test_cli_brings_a_vhost_device_up_with_msix_on_and_sees_its_messages(capsys, accel, data):
    # under KVM a message is seen as the APIC vector the vCPU took (0x4021 -> 0x21), under TCG as the
    # programmed data in its mailbox; the bring-up's own message is libvhost-user's DRIVER_OK signal
    if accel == "kvm":
        _kvm_vhost_or_skip()
    elif shutil.which(STORAGE_DAEMON) is None:
        pytest.skip(f"{STORAGE_DAEMON} not installed (Debian qemu-system-common)")
    from pciexplore.cli import main

    assert main(["qemu", "vhost-user-blk-pci", "--accel", accel, "--driver", "--trigger", "00:01.0=read"]) == 0
    out = capsys.readouterr().out.splitlines()
    message = f"vector 1 -> 0xfee00000 <- {data:#x}"
    assert out[0] == f"bring-up 00:01.0 to DRIVER_OK: {message}"
    assert "00:01.0 [1af4:1001] MSI-X 2 vectors, enabled" in out
    assert out[-1] == f"trigger 00:01.0 read: {message}"


def _disassemble(code: bytes, at: int) -> list[str]:
    """`objdump`'s reading of 16-bit code placed at `at`: one 'mnemonic operands' string per instruction."""
    with tempfile.NamedTemporaryFile(suffix=".bin") as f:
        f.write(code)
        f.flush()
        text = subprocess.run(["objdump", "-D", "-b", "binary", "-m", "i8086", f"--adjust-vma={at:#x}", f.name],
                              capture_output=True, text=True, check=True).stdout
    return [" ".join(line.split("\t")[2].split()) for line in text.splitlines() if line.count("\t") >= 2]


def test_the_counter_program_is_what_objdump_reads():
    if shutil.which("objdump") is None:
        pytest.skip("objdump not installed (Debian binutils)")
    image = dict(vcpu.ram_image())
    assert _disassemble(image[vcpu.INIT], vcpu.INIT) == [
        "cli", "xor %ax,%ax", "mov %ax,%ds", "mov %ax,%ss", "mov $0xf00,%sp",
        "mov $0x1b,%ecx", "rdmsr", "or $0xc00,%eax", "wrmsr",  # IA32_APIC_BASE |= EN | EXTD: x2APIC
        "mov $0x80f,%ecx", "mov $0x1ff,%eax", "xor %edx,%edx", "wrmsr",  # SPIV: APIC software-enabled
        "movw $0x1,0x3400", "sti", "hlt", "jmp 0x1031"]  # READY, then wait for interrupts forever
    assert _disassemble(image[vcpu.EOI], vcpu.EOI) == [
        "push %eax", "push %ecx", "push %edx", "mov $0x80b,%ecx", "xor %eax,%eax", "xor %edx,%edx", "wrmsr",
        "pop %edx", "pop %ecx", "pop %eax", "iret"]
    stubs = image[vcpu.STUBS]
    assert _disassemble(stubs[8 * 0x40 : 8 * 0x41], vcpu.STUBS + 8 * 0x40) == ["incl 0x3100", "jmp 0x1100"]
    assert _disassemble(stubs[8 * 6 : 8 * 7], vcpu.STUBS + 8 * 6) == ["incl 0x3018", "jmp 0x1180"]  # #UD: halt
    ivt = image[0]
    assert int.from_bytes(ivt[4 * 0x40 : 4 * 0x40 + 4], "little") == vcpu.STUBS + 8 * 0x40  # offset, segment 0
    bios = vcpu.bios_image()
    assert len(bios) == 0x10000 and _disassemble(bios[0xFFF0:0xFFF5], 0xFFF0) == ["ljmp $0x0,$0x1000"]

"""The simulator's delivery modes against QEMU 7.2 itself: data/qemu/irqfd-vhost-user-blk.json.

That file (pciexplore/sources/qemu/irqfd.py, data/qemu/SOURCES.md) holds what QEMU 7.2 did, step by
step, on three paths: `irqfd` (vhost-user-blk-pci served by qemu-storage-daemon, KVM), `vhost-no-irqfd`
(the same device and daemon under TCG: no irqfds, QEMU's main loop reads the back-end's eventfd and
calls msix_notify) and `emulated` (QEMU's own virtio-blk-pci).  Every scenario is played here on the
simulated virtio-net, register write by register write through pciexplore.virtio.replay.play, and each
step's messages (address and data) and PBA bits are compared with QEMU's:

  fixture path      simulator mode        why that mode
  irqfd             delivery=irqfd        the same KVM routes, built at DRIVER_OK, refreshed on unmask
  emulated          delivery=emulated     virtio_notify -> msix_notify, the entry read at the event
  vhost-no-irqfd    delivery=emulated     without irqfds QEMU reads the eventfd and calls msix_notify

The device differs (virtio-blk there, virtio-net here): queue 0 is the request queue there, rx0 here,
both the back-end's (vhost-user-blk's one queue; vhost-net's rx/tx pair); entry 0 is the configuration
vector and entry 1 queue 0's on both; both have 2 vectors.  What else differs is modelled below, each
with its source; a step QEMU did not survive, or did not play after that, is told, never skipped.
The file is read, QEMU is not needed: these tests always run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import pciexplore
from pciexplore.regs import virtio as V
from pciexplore.virtio.replay import MSIX_BAR, entry_step, play, virtio_step

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "qemu" / "irqfd-vhost-user-blk.json"
DOC = json.loads(FIXTURE.read_text())
ADDRESS = DOC["device"]["message_address"]  # 0xfee00000: each `delivered` number is the data of a message to it
CONFIG_ENTRY, QUEUE_ENTRY = DOC["device"]["config_entry"], DOC["device"]["queue_entry"]
MODE = {"irqfd": "irqfd", "emulated": "emulated", "vhost-no-irqfd": "emulated"}
#: the paths with a vhost-user back-end (libvhost-user, in qemu-storage-daemon) behind the device
BACKEND = ("irqfd", "vhost-no-irqfd")
PCI_COMMAND_MEMORY, PCI_COMMAND_MASTER = 0x2, 0x4
PCI_MSIX_FLAGS_ENABLE, PCI_MSIX_FLAGS_MASKALL = 0x8000, 0x4000
BDF = "00:02.0"


def _flags(value: int) -> list[dict]:
    return [{"kind": "config", "register": "PCI_MSIX_FLAGS", "value": value}]


#: the fixture's "driver_ok": reset, ACKNOWLEDGE | DRIVER, VERSION_1, FEATURES_OK, config on entry 0,
#: queue 0 (16 entries) on entry 1 and enabled, DRIVER_OK (pciexplore/sources/qemu/devices.py bring_up)
_STATUS = V.VIRTIO_CONFIG_S_ACKNOWLEDGE | V.VIRTIO_CONFIG_S_DRIVER
BRING_UP = [
    virtio_step("device_status", 0),
    virtio_step("device_status", _STATUS),
    virtio_step("driver_feature_select", 1),
    virtio_step("driver_feature", 1 << (V.VIRTIO_F_VERSION_1 - 32)),
    virtio_step("device_status", _STATUS | V.VIRTIO_CONFIG_S_FEATURES_OK),
    virtio_step("msix_config", CONFIG_ENTRY),
    virtio_step("queue_size", 16, 0),
    virtio_step("queue_msix_vector", QUEUE_ENTRY, 0),
    virtio_step("queue_enable", 1, 0),
    virtio_step("device_status", _STATUS | V.VIRTIO_CONFIG_S_FEATURES_OK | V.VIRTIO_CONFIG_S_DRIVER_OK),
]

#: the fixture's step vocabulary (its "steps" says what each does) as the register writes it makes
WRITES = {
    "msix_enable": lambda s: _flags(PCI_MSIX_FLAGS_ENABLE),
    "function_unmask": lambda s: _flags(PCI_MSIX_FLAGS_ENABLE),
    "msix_disable": lambda s: _flags(0),
    "function_mask": lambda s: _flags(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL),
    "message": lambda s: [entry_step(s["entry"], "PCI_MSIX_ENTRY_LOWER_ADDR", ADDRESS),
                          entry_step(s["entry"], "PCI_MSIX_ENTRY_UPPER_ADDR", 0),
                          entry_step(s["entry"], "PCI_MSIX_ENTRY_DATA", s["vector"])],
    "mask": lambda s: [entry_step(s["entry"], "PCI_MSIX_ENTRY_VECTOR_CTRL", 1)],
    "unmask": lambda s: [entry_step(s["entry"], "PCI_MSIX_ENTRY_VECTOR_CTRL", 0)],
    "driver_ok": lambda s: BRING_UP,
    "reset": lambda s: [virtio_step("device_status", 0)],
    "queue_vector": lambda s: [virtio_step("queue_msix_vector", s["entry"], 0)],
    "request": lambda s: [],  # an event on queue 0: rx0 used a buffer (below)
    "read_pba": lambda s: [],  # a read (below)
}

#: QEMU 7.2's last words on the irqfd path -> why it died there, read in its source
ABORTS = {
    # Modelled (sources/delivery.py IrqfdMode.mask_changed, delivery.aborted): the queue was moved to a
    # vector after DRIVER_OK, so vector_irqfd[vector] was never set up; virtio_pci_one_vector_unmask finds
    # its zeroed message different and updates virq 0, a GSI KVM routes to an interrupt controller pin;
    # KVM_SET_GSI_ROUTING refuses it.  The same code runs for vhost-net, so virtio-net dies there too.
    "kvm_irqchip_commit_routes": "unmask of a vector a queue was moved to: QEMU updates a route it never built",
    # Not modelled, vhost-user-blk's own: it has no guest_notifier_mask (hw/block/vhost-user-blk.c), so
    # virtio-pci masks by detaching the irqfd and unmasks by attaching it (kvm_virtio_pci_irqfd_use).
    # Clearing MSI-X Enable sends no mask notification (msix_write_config returns while disabled), so the
    # irqfd is still attached when MSI-X Enable is set again, KVM_IRQFD answers EBUSY and
    # msix_fire_vector_notifier asserts.  virtio-net has guest_notifier_mask (virtio_net_guest_notifier_mask
    # -> vhost_virtqueue_mask): its unmask swaps vhost's call fd and refreshes the route, as the simulator does.
    "msix_fire_vector_notifier": "MSI-X enabled again while vhost runs: vhost-user-blk re-attaches its irqfd",
}


class Sim:
    """One fresh simulated function for one fixture path, played the fixture's steps."""

    def __init__(self, path: str, backend_signal: bool = True) -> None:
        self.src = pciexplore.open(f"sim:virtio-net,vectors=2,delivery={MODE[path]}")
        self.fn = self.src.devices[self.src.addresses()[0]]
        # QemuSource's firmware step: memory decoding and bus mastering on (without it nothing is sent)
        play(self.src, BDF, [{"kind": "config", "register": "PCI_COMMAND", "value": PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER}])
        self.backend_signal = backend_signal and path in BACKEND

    def step(self, s: dict) -> dict:
        """Do step `s`; what it sent (address, data) and, for read_pba, the PBA bits of entries 0-1."""
        before = len(self.src.deliveries())
        out: dict = {}
        written = WRITES[s["step"]](s)
        assert play(self.src, BDF, written) == len(written)
        if s["step"] == "request":
            self.src.trigger(self.fn.address, "rx0")
        elif s["step"] == "read_pba":  # msix_pba_mmio_read: the irqfd mode polls held events in first
            out["pending"] = self.src.read_bar(self.fn.address, MSIX_BAR, self.fn.pba_offset, 8)[0] & 0b11
        elif s["step"] == "driver_ok" and self.backend_signal:
            # Back-end behaviour, not QEMU's: at each start vhost_user_blk_start unmasks every queue
            # (vhost_virtqueue_mask -> VHOST_USER_SET_VRING_CALL), and libvhost-user's vu_set_vring_call_exec
            # writes the call eventfd it is handed ("in case of I/O hang after reconnecting"): one event on
            # queue 0.  Kernel vhost-net's VHOST_SET_VRING_CALL only swaps the eventfd (drivers/vhost/vhost.c
            # vhost_vring_ioctl), so the simulator's irqfd mode, vhost-net's, has no such event of its own.
            self.src.trigger(self.fn.address, "rx0")
        out["sent"] = [(d.address, d.data) for d in self.src.deliveries()[before:]]
        return out


def verdicts(name: str, path: str, backend_signal: bool = True) -> list[tuple[int, str, str]]:
    """(step index, step, verdict) for every step of scenario `name` on fixture path `path`: "agrees",
    or why it is not compared; a disagreement is told as "DIFFERS: ...", with both outcomes."""
    sim = Sim(path, backend_signal)
    out = []
    exited_at = None
    for i, s in enumerate(DOC["scenarios"][name]["steps"]):
        qemu = s[path]
        if qemu.get("not_played"):
            assert exited_at is not None, f"{name} step {i}: not played, yet QEMU had not exited"
            out.append((i, s["step"], f"not played: QEMU exited at step {exited_at}"))
            continue
        was_aborted = getattr(sim.fn.delivery, "aborted", None)
        got = sim.step(s)
        want = {"sent": [(ADDRESS, v) for v in qemu["delivered"]]}
        if "pending" in qemu:
            want["pending"] = qemu["pending"]
        if got != want:
            out.append((i, s["step"], f"DIFFERS: QEMU {want}, simulator {got}"))
            continue
        if "qemu_exited" not in qemu:
            out.append((i, s["step"], "agrees"))
            continue
        exited_at = i
        why = next((k for k in ABORTS if k in qemu["qemu_exited"]), None)
        aborted = getattr(sim.fn.delivery, "aborted", None)
        if why == "kvm_irqchip_commit_routes" and was_aborted is None and aborted is not None:
            out.append((i, s["step"], f"agrees: nothing sent, and the simulator says QEMU 7.2 aborts: {aborted}"))
        elif why == "msix_fire_vector_notifier" and s["step"] in ("msix_enable", "function_unmask") \
                and _disabled_while_running(DOC["scenarios"][name]["steps"][:i]) and aborted is None and sim.fn.delivery.routes().get(QUEUE_ENTRY) == sim.fn.msix_message(QUEUE_ENTRY):
            out.append((i, s["step"], f"nothing sent on both; QEMU aborted: {ABORTS[why]} (virtio-net does not)"))
        else:
            out.append((i, s["step"], f"DIFFERS: QEMU exited ({qemu['qemu_exited']}), the simulator did not say so"))
    return out


def _disabled_while_running(before: list[dict]) -> bool:
    """MSI-X Enable was cleared after the last DRIVER_OK (vhost running) among steps `before`."""
    names = [s["step"] for s in before]
    return "driver_ok" in names and "msix_disable" in names[len(names) - names[::-1].index("driver_ok"):]


CASES = [(name, path) for name in DOC["scenarios"] for path in MODE]


@pytest.mark.parametrize("name, path", CASES, ids=[f"{n}-{p}" for n, p in CASES])
def test_every_step_agrees_with_qemu_or_is_explained(name, path):
    told = verdicts(name, path)
    assert len(told) == len(DOC["scenarios"][name]["steps"])
    bad = [f"step {i} {step}: {v}" for i, step, v in told if v.startswith("DIFFERS")]
    assert not bad, "\n".join(bad)


def test_the_fixture_is_what_this_test_plays():
    # every step name has its writes here, every path its mode; a new step or path must be mapped first
    assert DOC["format"] == "pciexplore-irqfd-crosscheck/1" and DOC["qemu"].startswith("QEMU emulator version 7.2")
    assert set(DOC["steps"]) == set(WRITES) and set(DOC["paths"]) == set(MODE)
    assert len(DOC["scenarios"]) >= 8
    assert {s["step"] for sc in DOC["scenarios"].values() for s in sc["steps"]} <= set(WRITES)


def _entry_state(sim: Sim) -> tuple[bool, bool]:
    """(MSI-X enabled, queue entry unmasked) as the simulated table has them now."""
    return sim.fn.msix_enabled(), not sim.fn.msix_is_masked(QUEUE_ENTRY)


@pytest.mark.parametrize("path", [*BACKEND, "emulated"])
def test_driver_ok_message_is_the_back_ends_signal(path):
    # The one difference modelled for the back-end, checked on QEMU's own numbers: on the vhost paths each
    # DRIVER_OK sends the queue entry's message once when MSI-X is on and the entry unmasked (else it is
    # held: masked, or INTx with MSI-X off), QEMU's own virtio-blk never does
    seen = 0
    for name, sc in DOC["scenarios"].items():
        sim = Sim("emulated", backend_signal=False)  # only for the table's state at each step
        for s in sc["steps"]:
            if s[path].get("not_played"):
                break
            if s["step"] == "driver_ok":
                on = _entry_state(sim) == (True, True) and path in BACKEND
                message = sim.fn.msix_message(QUEUE_ENTRY)
                assert [(ADDRESS, v) for v in s[path]["delivered"]] == ([message] if on else []), (name, path)
                seen += on
            sim.step(s)
    assert seen >= 6 if path in BACKEND else seen == 0


@pytest.mark.parametrize("path", BACKEND)
def test_without_the_back_ends_signal_the_vhost_paths_differ_only_where_it_acts(path):
    # dropping the modelled signal makes only DRIVER_OK steps differ from QEMU, and the unmask that sends
    # the event held at a DRIVER_OK whose entry was masked (that DRIVER_OK itself sent nothing): the
    # signal explains every one, nothing else needs it
    steps = {(n, i): s["step"] for n, sc in DOC["scenarios"].items() for i, s in enumerate(sc["steps"])}
    differ = {(n, i) for n in DOC["scenarios"] for i, _, v in verdicts(n, path, backend_signal=False)
              if v.startswith("DIFFERS")}
    assert any(steps[k] == "driver_ok" for k in differ)
    for n, i in differ:
        if steps[(n, i)] != "driver_ok":
            assert steps[(n, i)] == "unmask", (n, i)
            last = max(j for j in range(i) if steps[(n, j)] == "driver_ok")
            assert (n, last) not in differ and DOC["scenarios"][n]["steps"][last][path]["delivered"] == [], (n, i)


def test_the_stale_route_is_qemus_and_the_simulators():
    # the headline, both ways: where the irqfd path sends another message than QEMU's emulated path, the
    # simulator's irqfd mode sends QEMU's irqfd message, and says why: the route still holds the message
    # from before the entry was rewritten, or the queue was moved and its irqfd still feeds the old route
    seen = 0
    for name, sc in DOC["scenarios"].items():
        sim = Sim("irqfd")
        for i, s in enumerate(sc["steps"]):
            if s["irqfd"].get("not_played"):
                break
            got = sim.step(s)
            if s["step"] != "request" or s["irqfd"]["delivered"] == s["emulated"]["delivered"]:
                continue
            seen += 1
            assert got["sent"] == [(ADDRESS, v) for v in s["irqfd"]["delivered"]], (name, i)
            last = sim.src.deliveries()[-1]
            if sim.fn.queues[0].vector == QUEUE_ENTRY:
                assert "stale route" in sim.fn.delivery.journal[-1], (name, i)
            else:
                assert last.vector == QUEUE_ENTRY and "irqfd route of vector 1" in last.via, (name, i)
    assert seen >= 4

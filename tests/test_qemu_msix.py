"""The MSI-X model on QEMU's own device models.

1. Differential: the same scenario (enable, function mask, per-vector mask, trigger while masked,
   unmask, disable, bus mastering) run through `fn.msix` on the simulator ("sim:nic") and on QEMU's
   e1000e must give the same sequence of delivered messages and the same PBA after every step.  QEMU's
   hw/pci/msix.c is the reference; the simulator claims to follow it.
2. The origin story, as a lab on virtio-net-pci (the device the kit was first written for): what a
   driver must do for an MSI-X interrupt to arrive, and what one sees when a step is forgotten.
"""

from __future__ import annotations

import pytest
from test_qemu import no_qemu_left_behind  # noqa: F401 - autouse: every QEMU of this module ended

import pciexplore
from pciexplore.doctor import diagnose

pytestmark = pytest.mark.qemu

MSI_ADDRESS = 0xFEE0_0000
PCI_COMMAND = 0x04
PCI_COMMAND_MEMORY, PCI_COMMAND_MASTER = 0x2, 0x4


def _nic(src):
    return next(f for f in src if (f.vendor_id, f.device_id) == (0x8086, 0x10D3))


def _bus_master(fn, on: bool) -> None:
    command = PCI_COMMAND_MEMORY | (PCI_COMMAND_MASTER if on else 0)
    fn.write(PCI_COMMAND, command.to_bytes(2, "little"))


SCENARIO = [
    # (step, action on the Msix model and its function)
    ("enable", lambda m, fn: m.enable()),
    ("trigger a masked vector", lambda m, fn: m.trigger(0)),
    ("unmask it: the pending message goes out", lambda m, fn: m.unmask(0)),
    ("trigger it unmasked", lambda m, fn: m.trigger(0)),
    ("function mask", lambda m, fn: m.mask_all()),
    ("unmask 1 and 2 under the function mask", lambda m, fn: (m.unmask(1), m.unmask(2))),
    ("trigger 2, then 1, under the function mask", lambda m, fn: (m.trigger(2), m.trigger(1))),
    ("clear the function mask: vector order", lambda m, fn: m.unmask_all()),
    ("mask 2 and trigger it", lambda m, fn: (m.mask(2), m.trigger(2))),
    ("disable: the pending bit stays", lambda m, fn: m.disable()),
    ("unmask 3 while disabled", lambda m, fn: m.unmask(3)),
    ("unmask 2 while disabled", lambda m, fn: m.unmask(2)),
    ("enable again: pending 2 goes out", lambda m, fn: m.enable()),
    ("bus mastering off, trigger 4", lambda m, fn: (m.unmask(4), _bus_master(fn, False), m.trigger(4))),
    ("bus mastering back on", lambda m, fn: _bus_master(fn, True)),
    ("trigger 4 again", lambda m, fn: m.trigger(4)),
    ("trigger every vector", lambda m, fn: [m.trigger(v) for v in range(m.size)]),
]


def run_scenario(spec: str) -> list[tuple[str, list[tuple[int, int, int]], list[bool]]]:
    """Per step: the messages delivered during it (vector, address, data) and the PBA after it."""
    out = []
    with pciexplore.open(spec) as src:
        fn = _nic(src)
        m = fn.msix
        _bus_master(fn, True)
        for v in range(m.size):
            m.set_message(v, MSI_ADDRESS | (v << 12), 0x4020 + v)
        for step, action in SCENARIO:
            before = len(src.deliveries())
            action(m, fn)
            fn.refresh()
            sent = [(d.vector, d.address, d.data) for d in src.deliveries()[before:]]
            out.append((step, sent, [m.pending(v) for v in range(m.size)]))
    return out


def test_simulator_and_qemu_e1000e_agree_step_by_step():
    sim, qemu = run_scenario("sim:nic"), run_scenario("qemu:e1000e")
    for (step, sim_sent, sim_pba), (_, qemu_sent, qemu_pba) in zip(sim, qemu, strict=True):
        assert (step, sim_sent, sim_pba) == (step, qemu_sent, qemu_pba)
    # and the scenario exercises what it claims (so agreement is not agreement on nothing)
    by_step = {step: (sent, pba) for step, sent, pba in qemu}
    assert by_step["trigger a masked vector"] == ([], [True, False, False, False, False])
    assert by_step["unmask it: the pending message goes out"][0] == [(0, MSI_ADDRESS, 0x4020)]
    assert [v for v, _, _ in by_step["clear the function mask: vector order"][0]] == [1, 2]
    assert by_step["disable: the pending bit stays"] == ([], [False, False, True, False, False])
    assert by_step["enable again: pending 2 goes out"][0] == [(2, MSI_ADDRESS | 0x2000, 0x4022)]
    assert by_step["bus mastering off, trigger 4"] == ([], [False] * 5)
    assert by_step["bus mastering back on"][0] == []
    assert [v for v, _, _ in by_step["trigger every vector"][0]] == [0, 1, 2, 3, 4]


def test_trigger_while_msix_is_disabled_is_where_the_simulator_differs():
    """QEMU's msix_notify would set the pending bit of a vector while MSI-X is disabled (disabled counts
    as masked), but QEMU's device models never call it then: e1000e (like nvme and virtio) checks
    msix_enabled() and raises INTx instead, so no PBA bit is set.  The simulator's "vector:N" goes to
    msix_notify directly.  Kept as a test so the difference stays known and visible; when the
    simulator changes, this fails and the step can join the scenario above."""
    pending = {}
    for spec in ("sim:nic", "qemu:e1000e"):
        with pciexplore.open(spec) as src:
            fn = _nic(src)
            _bus_master(fn, True)
            fn.msix.trigger(0)
            fn.refresh()
            pending[spec] = (fn.msix.pending(0), src.deliveries())
    assert pending["qemu:e1000e"] == (False, [])
    assert pending["sim:nic"] == (True, [])


# -- the lab: virtio-net-pci offering MSI-X ------------------------------------------------------
def _virtio(src):
    return next(f for f in src if f.vendor_id == 0x1AF4)


def _driver(m, fn, *, enable=True, program=True, unmask=True, bus_master=True) -> None:
    """What a driver does for MSI-X, each step optional so a lab can forget one."""
    _bus_master(fn, bus_master)
    if program:
        for v in range(m.size):
            m.set_message(v, MSI_ADDRESS, 0x4040 + v)
    if enable:
        m.enable()
    if unmask:
        for v in range(m.size):
            m.unmask(v)
    fn.refresh()


@pytest.fixture()
def virtio():
    with pciexplore.open("qemu:virtio-net-pci") as src:
        fn = _virtio(src)
        yield src, fn, fn.msix


def test_lab_a_complete_driver_gets_its_interrupts(virtio):
    src, fn, m = virtio
    assert m.size == 4 and not m.enabled  # as firmware leaves it: offered, not used
    _driver(m, fn)
    m.trigger(0)  # config change (the link flips)
    m.trigger(3)  # control queue
    assert [(d.vector, d.address, d.data) for d in src.deliveries()] == [(0, MSI_ADDRESS, 0x4040),
                                                                         (3, MSI_ADDRESS, 0x4043)]
    assert not any(m.pending(v) for v in range(m.size))


def test_lab_forgetting_to_unmask_leaves_pending_bits_and_nothing_delivered(virtio):
    src, fn, m = virtio
    _driver(m, fn, unmask=False)
    m.trigger(0)
    m.trigger(3)
    assert src.deliveries() == []
    assert [m.pending(v) for v in range(m.size)] == [True, False, False, True]
    m.unmask(3)  # the late fix: the held message goes out at once
    assert [d.vector for d in src.deliveries()] == [3] and not m.pending(3)


def test_lab_forgetting_bus_mastering_sends_nothing_at_all(virtio):
    src, fn, m = virtio
    _driver(m, fn, bus_master=False)
    m.trigger(0)
    m.trigger(3)
    assert src.deliveries() == []
    assert not any(m.pending(v) for v in range(m.size))  # unmasked: nothing is held either; it is lost
    _bus_master(fn, True)
    assert src.deliveries() == []


def test_lab_forgetting_to_enable_falls_back_to_intx(virtio):
    src, fn, m = virtio
    _driver(m, fn, enable=False)
    m.trigger(0)
    assert src.deliveries() == [] and not any(m.pending(v) for v in range(m.size))
    fn.refresh()
    assert fn.config[0x06] & 0x08  # PCI_STATUS_INTERRUPT: the device raised its INTx pin instead


def test_lab_forgetting_to_program_the_entry_sends_to_address_zero(virtio):
    src, fn, m = virtio
    _driver(m, fn, program=False)
    m.trigger(3)
    # the table as QEMU resets it: address 0, data 0; the device writes 0 to guest RAM address 0
    assert [(d.vector, d.address, d.data) for d in src.deliveries()] == [(3, 0, 0)]
    # which is a memory write, not an interrupt, and every place that shows it says so
    assert "address 0" in src.deliveries()[0].warning
    assert "NOT AN INTERRUPT" in m.log[-1].text and "NOT AN INTERRUPT" in repr(src.deliveries()[0])
    found = [f for f in diagnose(src) if f.check == "message_not_interrupt"]
    assert [(f.device, f.vector, f.severity) for f in found] == [(str(fn.address), 3, "error")]


# -- MSI likewise: e1000e's MSI capability (used while MSI-X is off) -----------------------------
MSI_SCENARIO = [
    ("trigger while MSI is disabled", lambda m, fn: m.trigger(0)),
    ("enable", lambda m, fn: m.enable()),
    ("trigger", lambda m, fn: m.trigger(0)),
    ("trigger again", lambda m, fn: m.trigger(0)),
    ("bus mastering off, trigger", lambda m, fn: (_bus_master(fn, False), m.trigger(0))),
    ("bus mastering back on", lambda m, fn: _bus_master(fn, True)),
    ("new message, trigger", lambda m, fn: (m.set_message(MSI_ADDRESS | 0x3000, 0x4061), m.trigger(0))),
    ("disable, trigger", lambda m, fn: (m.disable(), m.trigger(0))),
]


def run_msi_scenario(spec: str) -> list[tuple[str, list[tuple[int, int, int]]]]:
    out = []
    with pciexplore.open(spec) as src:
        fn = _nic(src)
        m = fn.msi
        _bus_master(fn, True)
        m.set_message(MSI_ADDRESS, 0x4060)
        for step, action in MSI_SCENARIO:
            before = len(src.deliveries())
            action(m, fn)
            fn.refresh()
            out.append((step, [(d.vector, d.address, d.data) for d in src.deliveries()[before:]]))
        fn.refresh()
        out.append(("programmed message reads back", [(0, *fn.msi.regs().message(0))]))
    return out


def test_msi_simulator_and_qemu_e1000e_agree():
    sim, qemu = run_msi_scenario("sim:nic"), run_msi_scenario("qemu:e1000e")
    assert sim == qemu
    assert [len(sent) for _, sent in qemu[:-1]] == [0, 0, 1, 1, 0, 0, 1, 0]
    assert qemu[6][1] == [(0, MSI_ADDRESS | 0x3000, 0x4061)]
    assert qemu[-1][1] == [(0, MSI_ADDRESS | 0x3000, 0x4061)]


# -- long random sequences: the same agreement, step by step -------------------------------------
def _random_steps(seed: int, n: int) -> list[tuple[str, int]]:
    import random

    rng = random.Random(seed)
    weights = {"enable": 2, "disable": 1, "mask_all": 1, "unmask_all": 2, "mask": 2, "unmask": 4, "trigger": 8,
               "message": 2, "bus_master_off": 1, "bus_master_on": 2}
    verbs = rng.choices(list(weights), weights=list(weights.values()), k=n)
    return [(verb, rng.randrange(5)) for verb in verbs]


def _play(spec: str, steps: list[tuple[str, int]]) -> list[tuple]:
    out = []
    with pciexplore.open(spec) as src:
        fn = _nic(src)
        m = fn.msix
        _bus_master(fn, True)
        for i, (verb, v) in enumerate(steps):
            before = len(src.deliveries())
            if verb == "trigger" and not m.enabled:
                verb = "enable"  # the known difference (see above): only trigger with MSI-X on
            if verb == "message":
                m.set_message(v, MSI_ADDRESS | (i << 4), 0x4000 + i)
            elif verb.startswith("bus_master"):
                _bus_master(fn, verb.endswith("on"))
            elif verb in ("mask", "unmask", "trigger"):
                getattr(m, verb)(v)
            else:
                getattr(m, verb)()
            fn.refresh()
            sent = [(d.vector, d.address, d.data) for d in src.deliveries()[before:]]
            out.append((i, verb, v, sent, [m.pending(k) for k in range(m.size)], m.enabled, m.function_masked))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_sequences_agree_between_simulator_and_qemu(seed):
    steps = _random_steps(seed, 80)
    sim, qemu = _play("sim:nic", steps), _play("qemu:e1000e", steps)
    for a, b in zip(sim, qemu, strict=True):
        assert a == b
    assert sum(len(step[3]) for step in qemu) >= 5  # messages were actually sent
    assert any(any(step[4]) for step in qemu)  # and some were held pending


def test_a_closed_qemu_source_refuses_in_one_line_and_its_views_say_why():
    """After close() QEMU is gone: every read or verb is one line naming the source (was: "[Errno 9] Bad
    file descriptor" from the socket), and a live table disables its controls with the reason, once."""
    pytest.importorskip("ipywidgets")
    from pciexplore.errors import SourceClosed
    from pciexplore.widgets import MsixTableView

    src = pciexplore.open("qemu:e1000e")
    fn = _nic(src)
    view = MsixTableView(fn)
    assert not view.enable.disabled
    src.close()
    assert view.enable.disabled and all(r.trigger.disabled and r.mask.disabled for r in view.rows)
    assert view.refused.value.count("was closed") == 1 and "was closed" in view.enable.tooltip
    with pytest.raises(SourceClosed, match="qemu source was closed"):
        fn.msix.trigger(0)
    with pytest.raises(SourceClosed):
        src.read_config(fn.address)
    src.close()  # twice is harmless

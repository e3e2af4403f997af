"""Round trips to QEMU per MSI-X / MSI model verb, and the stories the verbs tell checked against QEMU.

Every qtest exchange is a socket round trip, so a verb's cost is counted in exchanges (calls of
QtestClient.exchange, a deterministic count).  A verb reads what it needs once before it acts (the
capability registers and PCI_COMMAND in one read of config space, the entry and the PBA in one read
of the BAR), acts, and reads the PBA after the action at the end of the action's own last exchange.

The stories are compared with what QEMU did, read around the model: PBA bits and vector control
straight from guest memory through qtest, messages from the source's mailboxes.
"""

from __future__ import annotations

import pytest
from test_qemu import no_qemu_left_behind  # noqa: F401 - autouse: every QEMU of this module ended

import pciexplore
from pciexplore.sources.base import ByteRange

pytestmark = pytest.mark.qemu

MSI_ADDRESS = 0xFEE0_0000
PCI_COMMAND = 0x04
PCI_COMMAND_MEMORY, PCI_COMMAND_MASTER = 0x2, 0x4
PCI_MSIX_FLAGS_MASKALL = 0x4000


class Exchanges:
    """Counts the qtest exchanges of one source (every call of its QtestClient.exchange)."""

    def __init__(self, src, monkeypatch) -> None:
        self.count = 0
        real = src.qtest.exchange

        def counted(payload: bytes, answers: int) -> list[str]:
            self.count += 1
            return real(payload, answers)

        monkeypatch.setattr(src.qtest, "exchange", counted)

    def of(self, verb) -> int:
        before = self.count
        verb()
        return self.count - before


def _by_id(src, vendor: int, device: int | None = None):
    return next(f for f in src if f.vendor_id == vendor and device in (None, f.device_id))


def _driver(fn, data: int) -> None:
    """What a driver does for MSI-X: bus mastering, every entry programmed, MSI-X on, every vector unmasked."""
    fn.write(PCI_COMMAND, (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER).to_bytes(2, "little"))
    m = fn.msix
    for v in range(m.size):
        m.set_message(v, MSI_ADDRESS | (v << 12), data + v)
    m.enable()
    for v in range(m.size):
        m.unmask(v)


class Device:
    """The MSI-X table and PBA of a function read straight from guest memory, located from its config bytes."""

    def __init__(self, src, fn) -> None:
        self.src, self.fn = src, fn
        cfg = src.read_config(fn.address)
        cap = fn.cap("msix").offset
        table, pba = (int.from_bytes(cfg[cap + o : cap + o + 4], "little") for o in (4, 8))
        self.table = src.bar_base(fn.address, table & 7) + (table & ~7)
        self.pba_at = src.bar_base(fn.address, pba & 7) + (pba & ~7)
        self.cap = cap

    def pba(self) -> int:
        return int.from_bytes(self.src.qtest.read(self.pba_at, 8), "little")

    def entry_masked(self, v: int) -> bool:
        return bool(self.src.qtest.readl(self.table + 16 * v + 12) & 1)


# -- how many exchanges each verb takes ------------------------------------------------------------
#: MSI-X verb -> exchanges: one config read and one BAR read before, the action's own exchanges with the
#: PBA read at the end of the last one (set_message writes three DWORDs, each its own exchange)
MSIX_BOUNDS = {"mask": 3, "trigger (masked)": 3, "unmask": 3, "trigger": 3, "mask_all": 3, "unmask_all": 3,
               "disable": 3, "enable": 3, "set_message": 5, "entry": 2, "table": 2, "regs": 1}


def test_msix_verbs_on_e1000e_take_at_most_three_exchanges(monkeypatch):
    with pciexplore.open("qemu:e1000e") as src:
        fn = _by_id(src, 0x8086, 0x10D3)
        _driver(fn, 0x4020)
        m = fn.msix
        m.trigger(0)  # e1000e reads IVAR and IMS once after a config write to build its trigger batch
        ex = Exchanges(src, monkeypatch)
        sent = len(src.deliveries())
        counts = {name: ex.of(verb) for name, verb in (
            ("mask", lambda: m.mask(0)), ("trigger (masked)", lambda: m.trigger(0)), ("unmask", lambda: m.unmask(0)),
            ("trigger", lambda: m.trigger(0)), ("mask_all", m.mask_all), ("unmask_all", m.unmask_all),
            ("disable", m.disable), ("enable", m.enable), ("set_message", lambda: m.set_message(1, MSI_ADDRESS, 0x4077)),
            ("entry", lambda: m.entry(1)), ("table", lambda: m.table), ("regs", m.regs))}
        assert counts == {k: min(counts[k], bound) for k, bound in MSIX_BOUNDS.items()}, counts
        # the verbs did their work: the held message went out on unmask, the trigger delivered, the
        # message written reads back
        assert [d.vector for d in src.deliveries()[sent:]] == [0, 0]
        assert (m.entry(1).address, m.entry(1).data) == (MSI_ADDRESS, 0x4077)


def test_msix_model_adds_two_exchanges_to_what_a_virtio_trigger_takes(monkeypatch):
    """virtio's own trigger work (queue set-up, waiting for the device, QMP for a config change) varies; the
    model adds one config read and one BAR read before it, and its PBA read rides on the last poll."""
    with pciexplore.open("qemu:virtio-net-pci") as src:
        fn = _by_id(src, 0x1AF4)
        _driver(fn, 0x4040)
        m = fn.msix
        ex = Exchanges(src, monkeypatch)
        inside = []
        real_trigger = src.trigger

        def trigger(addr, cause):
            inside.append(ex.of(lambda: real_trigger(addr, cause)))

        monkeypatch.setattr(src, "trigger", trigger)
        for vector in (3, 0, 3):  # control queue, config change (link flip through QMP), control queue
            sent = len(src.deliveries())
            total = ex.of(lambda v=vector: m.trigger(v))
            assert total - inside[-1] <= 2, (vector, total, inside[-1])
            assert [d.vector for d in src.deliveries()[sent:]] == [vector]
        for name, verb in (("mask", lambda: m.mask(3)), ("unmask", lambda: m.unmask(3)), ("disable", m.disable),
                           ("enable", m.enable)):
            assert ex.of(verb) <= MSIX_BOUNDS[name], name


@pytest.mark.parametrize("spec, device, bounds", [
    # e1000e (64-bit MSI, no per-vector masking) and edu: trigger = one config read + the device's batch
    ("qemu:e1000e", (0x8086, 0x10D3), {"trigger": 2, "disable": 2, "enable": 2, "set_message": 4}),
    ("qemu:edu", (0x1234, 0x11E8), {"trigger": 2, "disable": 2, "enable": 2, "set_message": 4}),
    # ioh3420's MSI has per-vector masking: the pending bits are read again at the end of the write
    ("qemu:ioh3420,chassis=5,slot=0", (0x8086, 0x3420),
     {"mask": 2, "unmask": 2, "set_vectors": 2, "disable": 2, "enable": 2, "set_message": 3}),
])
def test_msi_verbs_take_one_exchange_besides_their_writes(monkeypatch, spec, device, bounds):
    with pciexplore.open(spec) as src:
        fn = _by_id(src, *device)
        fn.write(PCI_COMMAND, (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER).to_bytes(2, "little"))
        m = fn.msi
        m.set_message(MSI_ADDRESS, 0x4030)
        m.enable()
        if "trigger" in bounds:
            m.trigger(0)  # e1000e reads IVAR and IMS once after a config write to build its trigger batch
        ex = Exchanges(src, monkeypatch)
        verbs = {"trigger": lambda: m.trigger(0), "mask": lambda: m.mask(0), "unmask": lambda: m.unmask(0),
                 "set_vectors": lambda: m.set_vectors(2), "disable": m.disable, "enable": m.enable,
                 "set_message": lambda: m.set_message(MSI_ADDRESS | 0x1000, 0x4031)}
        sent = len(src.deliveries())
        counts = {name: ex.of(verbs[name]) for name in bounds}
        assert counts == {k: min(counts[k], bound) for k, bound in bounds.items()}, counts
        if "trigger" in bounds:
            assert [(d.address, d.data) for d in src.deliveries()[sent:]] == [(MSI_ADDRESS, 0x4030)]
        fn.refresh()
        r = fn.msi.regs()
        assert (r.address, r.data) == (MSI_ADDRESS | 0x1000, 0x4031)  # what the last verb wrote


# -- the stories, checked against QEMU --------------------------------------------------------------
def _teaching(m, dev: Device, src, v: int, data: int) -> list[tuple[str, int, list]]:
    """mask -> trigger -> PBA set -> unmask -> delivered and cleared, then the same with the Function
    Mask; per step: the story, the PBA as QEMU holds it after, and the messages QEMU sent."""
    out = []
    message = f"message 0x{MSI_ADDRESS | (v << 12):x} ← 0x{data + v:x} sent (vector {v})"
    steps = [
        (lambda: m.mask(v), f"mask({v}): vector {v} entry mask bit set"),
        (lambda: m.trigger(v), f"trigger({v}): vector {v} masked (entry mask bit) → PBA bit {v} set, nothing sent"),
        (lambda: m.trigger(v), f"trigger({v}): vector {v} masked (entry mask bit) → nothing sent"),
        (lambda: m.unmask(v), f"unmask({v}): pending bit set → {message}, PBA bit {v} cleared"),
        (lambda: m.trigger(v), f"trigger({v}): vector {v} unmasked → {message}"),
        (m.mask_all, "mask_all(): Function Mask set: every vector masked"),
        (lambda: m.trigger(v), f"trigger({v}): vector {v} masked (Function Mask) → PBA bit {v} set, nothing sent"),
        (m.unmask_all, f"unmask_all(): Function Mask cleared → {message}, PBA bit {v} cleared"),
    ]
    for verb, story in steps:
        before = len(src.deliveries())
        verb()
        assert m.log[-1].text == story
        out.append((story, dev.pba(), [(d.vector, d.address, d.data) for d in src.deliveries()[before:]]))
    return out


@pytest.mark.parametrize("spec, device, v, data", [
    ("qemu:e1000e", (0x8086, 0x10D3), 0, 0x4020),  # vector 0: ICS RXQ0 routed by IVAR
    ("qemu:virtio-net-pci", (0x1AF4, None), 3, 0x4040),  # vector 3: the control queue
])
def test_teaching_story_is_what_qemu_did(spec, device, v, data):
    with pciexplore.open(spec) as src:
        fn = _by_id(src, *device)
        _driver(fn, data)
        dev = Device(src, fn)
        steps = _teaching(fn.msix, dev, src, v, data)
        sent = [(v, MSI_ADDRESS | (v << 12), data + v)]
        bit = 1 << v
        assert [(pba, msgs) for _, pba, msgs in steps] == [
            (0, []),  # mask: nothing pending, nothing sent
            (bit, []),  # the event is held in the PBA
            (bit, []),  # a second event while pending: still one bit, still nothing sent
            (0, sent),  # unmask: QEMU sends the held message once and clears the bit
            (0, sent),  # unmasked: sent at once
            (0, []),  # Function Mask
            (bit, []),  # held in the PBA again
            (0, sent),  # Function Mask cleared: sent, bit cleared
        ]
        assert dev.entry_masked(v) is False  # the entry mask bit QEMU holds, as the story left it


def test_state_changed_behind_the_models_back_is_what_the_story_tells():
    """Nothing read is kept between verbs: changes made straight through the source are seen."""
    with pciexplore.open("qemu:e1000e") as src:
        fn = _by_id(src, 0x8086, 0x10D3)
        _driver(fn, 0x4020)
        m, dev = fn.msix, Device(src, fn)
        table_bar = int.from_bytes(src.read_config(fn.address)[dev.cap + 4 : dev.cap + 8], "little")
        ctrl = (table_bar & 7, (table_bar & ~7) + 12)
        src.write_bar(fn.address, *ctrl, (1).to_bytes(4, "little"))  # entry 0 masked, not through the model
        m.trigger(0)
        assert m.log[-1].text == "trigger(0): vector 0 masked (entry mask bit) → PBA bit 0 set, nothing sent"
        assert dev.pba() == 1 and dev.entry_masked(0)
        flags = int.from_bytes(src.read_config(fn.address)[dev.cap + 2 : dev.cap + 4], "little")
        src.write_config(fn.address, dev.cap + 2, (flags | PCI_MSIX_FLAGS_MASKALL).to_bytes(2, "little"))
        m.unmask(0)
        assert m.log[-1].text == "unmask(0): entry mask bit cleared, still masked by Function Mask → nothing sent"
        assert dev.pba() == 1 and src.deliveries() == []
        src.write_config(fn.address, dev.cap + 2, flags.to_bytes(2, "little"))  # QEMU sends the held message
        assert [d.vector for d in src.deliveries()] == [0] and dev.pba() == 0
        fn.write(PCI_COMMAND, PCI_COMMAND_MEMORY.to_bytes(2, "little"))  # bus mastering off behind its back
        m.trigger(0)
        assert m.log[-1].text == ("trigger(0): vector 0 unmasked but Bus Master off: the message cannot leave "
                                  "the device → nothing sent")
        assert [d.vector for d in src.deliveries()] == [0]


# -- the source reads the model relies on -----------------------------------------------------------
def test_act_then_read_sees_the_state_the_action_left(monkeypatch):
    with pciexplore.open("qemu:e1000e") as src:
        fn = _by_id(src, 0x8086, 0x10D3)
        _driver(fn, 0x4020)
        dev = Device(src, fn)
        m = fn.msix
        m.trigger(0)
        m.mask(0)
        r = m.regs()
        ex = Exchanges(src, monkeypatch)
        pba_after: list[int] = []

        def fire() -> None:
            src.trigger(fn.address, "vector:0")

        def act_then_read(action) -> None:
            (raw,) = src.act_then_read(fn.address, action, [r.pba_range])
            pba_after.append(int.from_bytes(raw, "little"))

        # the trigger's own batch polls the mailboxes: the PBA read rides on it
        assert ex.of(lambda: act_then_read(fire)) == 1
        assert pba_after[-1] == dev.pba() == 1
        # an action whose last exchange carries none of our reads: they are made after it
        m.unmask(0)
        m.mask(0)

        def fire_then_look() -> None:
            fire()
            src.qtest.readl(dev.table)

        assert ex.of(lambda: act_then_read(fire_then_look)) == 3
        assert pba_after[-1] == dev.pba() == 1

        # an action that fails leaves nothing behind: the next polling exchange carries no reads of ours
        def fire_and_fail() -> None:
            fire()
            raise RuntimeError("the action failed")

        with pytest.raises(RuntimeError, match="the action failed"):
            act_then_read(fire_and_fail)
        sent: list[list[str]] = []
        real = src.qtest.batch
        monkeypatch.setattr(src.qtest, "batch", lambda cmds: sent.append(list(cmds)) or real(cmds))
        fire()
        assert sent and not any(c.startswith(f"b64read {dev.pba_at:#x}") for c in sent[-1])


def test_ranged_config_reads_agree_with_the_legacy_ports_and_show_programmed_messages():
    with pciexplore.open("qemu:e1000e+virtio-net-pci") as src:
        net = _by_id(src, 0x1AF4)
        ports = src.config.read_legacy(net.address)  # 0xCF8/0xCFC: a path that shares nothing with ECAM
        ranges = [ByteRange(None, o, s) for o, s in ((0, 4), (4, 2), (0x0E, 1), (0x2D, 7), (0x40, 0xC0), (0xFF, 1))]
        got = src.read_ranges(net.address, ranges)
        assert got == [ports[r.offset : r.offset + r.size] for r in ranges]
        assert src.read_ranges(net.address, [ByteRange(None, 0xFF8, 0x20)])[0] == src.read_config(net.address)[0xFF8:]
        # MSI: the device holds the mailbox redirect, a ranged read shows the message that was programmed
        nic = _by_id(src, 0x8086, 0x10D3)
        nic.msi.set_message(MSI_ADDRESS | 0x5000, 0x4055)
        cap = nic.cap("msi").offset
        (raw,) = src.read_ranges(nic.address, [ByteRange(None, cap + 4, 10)])
        assert (int.from_bytes(raw[0:8], "little"), int.from_bytes(raw[8:10], "little")) == (MSI_ADDRESS | 0x5000, 0x4055)
        assert src.config.read_legacy(nic.address)[cap + 4 : cap + 14] != raw

"""State-machine tests of the MSI-X verbs on the simulator against the spec's rules.

The reference here is a few lines per rule, written from PCI Local Bus 3.0 §6.8.2 / PCIe Base
§7.7.2 and QEMU hw/pci/msix.c (msix_notify, msix_handle_mask_update, msix_write_config):
  R1 a vector is masked when its entry mask bit, the Function Mask or a disabled MSI-X says so;
  R2 an event on a masked vector sets its PBA bit and sends nothing;
  R3 an event on an unmasked vector sends (address, data) of its entry;
  R4 when a vector goes from masked to unmasked with its PBA bit set, the message is sent once
     and the bit cleared (vectors in ascending order when a Function Mask/Enable change unmasks many);
  R5 the PBA is read-only to software; R6 reserved vector-control bits stay as they were;
  R7 Bus Master off: no message leaves the function (and the PBA bit is not set for unmasked vectors).
The reference never looks at the simulator's or the model's internals, only at what they show.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import pciexplore
from pciexplore.errors import InputError

PCI_COMMAND_MEMORY, PCI_COMMAND_MASTER = 0x2, 0x4


class Reference:
    """What the rules say the function's state is, kept from the verbs alone."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.enabled = False
        self.function_mask = False
        self.entry_mask = [True] * n  # msix_init masks every vector
        self.messages = [(0, 0)] * n
        self.pending: set[int] = set()
        self.master = False
        self.sent: list[tuple[int, int, int]] = []

    def masked(self, v: int) -> bool:  # R1
        return self.entry_mask[v] or self.function_mask or not self.enabled

    def send(self, v: int) -> None:  # R3, R7
        if self.master:
            self.sent.append((*self.messages[v], v))

    def change(self, update) -> None:  # R4
        before = [self.masked(v) for v in range(self.n)]
        update()
        for v in range(self.n):
            if before[v] and not self.masked(v) and v in self.pending:
                self.pending.discard(v)
                self.send(v)

    def trigger(self, v: int) -> None:
        if self.masked(v):  # R2
            self.pending.add(v)
        else:
            self.send(v)


class MsixMachine(RuleBasedStateMachine):
    @initialize(n=st.sampled_from([1, 2, 5, 16, 64]), driver=st.booleans())
    def start(self, n: int, driver: bool) -> None:
        self.src = pciexplore.open(f"sim:nic,vectors={n}")
        self.fn = self.src.functions()[0]
        self.msix = self.fn.msix
        self.ref = Reference(n)
        self.vec = st.integers(0, n - 1)

    def vector(self, data) -> int:
        return data.draw(st.integers(0, self.ref.n - 1))

    @rule()
    def enable(self) -> None:
        self.msix.enable()
        self.ref.change(lambda: setattr(self.ref, "enabled", True))

    @rule()
    def disable(self) -> None:
        self.msix.disable()
        self.ref.change(lambda: setattr(self.ref, "enabled", False))

    @rule()
    def mask_all(self) -> None:
        self.msix.mask_all()
        self.ref.change(lambda: setattr(self.ref, "function_mask", True))

    @rule()
    def unmask_all(self) -> None:
        self.msix.unmask_all()
        self.ref.change(lambda: setattr(self.ref, "function_mask", False))

    @rule(data=st.data())
    def mask(self, data) -> None:
        v = self.vector(data)
        self.msix.mask(v)
        self.ref.change(lambda: self.ref.entry_mask.__setitem__(v, True))

    @rule(data=st.data())
    def unmask(self, data) -> None:
        v = self.vector(data)
        self.msix.unmask(v)
        self.ref.change(lambda: self.ref.entry_mask.__setitem__(v, False))

    @rule(data=st.data(), apic=st.integers(0, 255), irq=st.integers(0x20, 0xFF))
    def set_message(self, data, apic: int, irq: int) -> None:
        v = self.vector(data)
        address, value = 0xFEE00000 | apic << 12, 0x4000 | irq
        self.msix.set_message(v, address, value)
        self.ref.messages[v] = (address, value)

    @rule(data=st.data())
    def trigger(self, data) -> None:
        v = self.vector(data)
        was_pending, sent = v in self.ref.pending, len(self.ref.sent)
        self.msix.trigger(v)
        self.ref.trigger(v)
        story = self.msix.log[-1].text  # the story tells what the rules did, in words
        assert (f"PBA bit {v} set" in story) == (v in self.ref.pending and not was_pending), story
        assert ("message 0x" in story) == (len(self.ref.sent) > sent), story

    @rule(on=st.booleans())
    def bus_master(self, on: bool) -> None:
        self.fn.write(0x04, (PCI_COMMAND_MEMORY | (PCI_COMMAND_MASTER if on else 0)).to_bytes(2, "little"))
        self.ref.master = on

    @rule(data=st.data(), value=st.integers(0, 0xFFFFFFFF))
    def software_writes_pba(self, data, value: int) -> None:  # R5
        r = self.msix.regs()
        at = r.pba_offset + 4 * data.draw(st.integers(0, r.pba_bytes // 4 - 1))
        self.src.write_bar(self.fn.address, r.pba_bir, at, value.to_bytes(4, "little"))

    @precondition(lambda self: hasattr(self, "ref"))
    @rule(data=st.data(), reserved=st.integers(0, 0x7FFFFFFF))
    def reserved_bits_survive_mask_verbs(self, data, reserved: int) -> None:  # R6
        v = self.vector(data)
        r = self.msix.regs()
        at = r.table_offset + 16 * v + 12
        ctrl = int.from_bytes(self.src.read_bar(self.fn.address, r.table_bir, at, 4), "little")
        self.src.write_bar(self.fn.address, r.table_bir, at, ((reserved << 1) | (ctrl & 1)).to_bytes(4, "little"))
        self.msix.mask(v) if data.draw(st.booleans()) else self.msix.unmask(v)
        after = int.from_bytes(self.src.read_bar(self.fn.address, r.table_bir, at, 4), "little")
        assert after >> 1 == reserved
        self.ref.change(lambda: self.ref.entry_mask.__setitem__(v, bool(after & 1)))

    @invariant()
    def table_and_pba_follow_the_rules(self) -> None:
        if not hasattr(self, "ref"):
            return
        t = self.msix.table
        ref = self.ref
        assert list(t["masked"]) == [ref.masked(v) for v in range(ref.n)]
        assert list(t["entry_masked"]) == ref.entry_mask
        assert {v for v in range(ref.n) if t["pending"][v]} == ref.pending
        assert [(int(a), int(d)) for a, d in zip(t["address"], t["data"], strict=True)] == ref.messages

    @invariant()
    def deliveries_are_exactly_the_rules(self) -> None:
        if not hasattr(self, "ref"):
            return
        got = [(d.address, d.data, d.vector) for d in self.src.deliveries()]
        assert got == self.ref.sent
        assert [d.seq for d in self.src.deliveries()] == list(range(len(got)))


MsixMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=30, deadline=None,
                                         suppress_health_check=[HealthCheck.too_slow])
TestMsixRules = MsixMachine.TestCase


def _ready(spec: str = "sim:nic"):
    src = pciexplore.open(spec)
    fn = src.functions()[0]
    fn.write(0x04, (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER).to_bytes(2, "little"))
    return src, fn, fn.msix


def test_story_of_masked_trigger_then_unmask() -> None:
    src, fn, m = _ready()
    m.enable()
    m.set_message(3, 0xFEE00000, 0x4023)
    m.trigger(3)  # entry still masked from reset: R2
    assert m.pending(3) and src.deliveries() == []
    m.unmask(3)  # R4
    assert [(d.address, d.data, d.vector) for d in src.deliveries()] == [(0xFEE00000, 0x4023, 3)]
    assert not m.pending(3)
    assert str(m.log).splitlines()[-2:] == [
        "trigger(3): vector 3 masked (entry mask bit) → PBA bit 3 set, nothing sent",
        "unmask(3): pending bit set → message 0xfee00000 ← 0x4023 sent (vector 3), PBA bit 3 cleared",
    ]


def test_enable_delivers_pending_in_vector_order() -> None:
    src, fn, m = _ready("sim:nic,vectors=8")
    for v in (6, 1, 4):
        m.set_message(v, 0xFEE00000, 0x30 + v)
        m.unmask(v)
        m.trigger(v)  # MSI-X disabled: masked (R1), pending (R2)
    assert src.deliveries() == []
    m.enable()
    assert [d.vector for d in src.deliveries()] == [1, 4, 6]
    assert m.table["pending"].sum() == 0


def test_bus_master_off_drops_unmasked_messages() -> None:
    src, fn, m = _ready()
    m.enable()
    m.unmask(0)
    fn.write(0x04, PCI_COMMAND_MEMORY.to_bytes(2, "little"))
    m.trigger(0)
    assert src.deliveries() == [] and not m.pending(0)  # R7
    assert "Bus Master off" in m.log[-1].text
    assert [c.kind for c in m.checks()] == ["bus_master_off"]


def test_vector_out_of_range_is_a_one_line_error() -> None:
    _, _, m = _ready()
    with pytest.raises(InputError, match="out of range"):
        m.unmask(5)
    with pytest.raises(InputError, match="DWORD aligned"):
        m.set_message(0, 0xFEE00002, 0)


def test_2048_vectors_and_qword_pba() -> None:
    src, fn, m = _ready("sim:nvme,vectors=2048")
    r = m.regs()
    assert r.size == 2048 and r.pba_bytes == 256  # 2048 bits, whole QWORDs
    m.enable()
    m.trigger(2047)
    m.trigger(1024)
    t = m.table
    assert len(t) == 2048 and list(t.index[t["pending"]]) == [1024, 2047]
    pba = src.read_bar(fn.address, r.pba_bir, r.pba_offset, 256)
    assert pba[128] == 1 and pba[255] == 0x80  # bit n of the PBA is vector n (little-endian QWORDs)


# -- checks the kernel would never let a driver skip (PCIe Base §7.7.2.3-.5: BIR 0-5 names a memory
#    BAR; table and PBA lie inside it, QWORD aligned, and do not overlap; Memory Space must decode) --
def _poked(spec: str, **regs: int):
    src = pciexplore.open(spec)
    fn = src.functions()[0]
    dev = src.devices[fn.address]
    for name, value in regs.items():
        offset, width = {"table": (0xB4, 4), "pba": (0xB8, 4), "bar3": (0x1C, 4)}[name]
        dev._cfg_put(offset, width, value)
    fn.refresh()
    return fn.msix


@pytest.mark.parametrize("spec,regs,kinds", [
    ("sim:nic", {}, []),
    ("sim:nic", {"table": 0x0000 | 7}, ["reserved_bir"]),
    ("sim:nic", {"pba": 0x0040 | 3}, ["overlap"]),  # PBA inside the 5*16-byte table
    ("sim:nic", {"pba": 0x4000 | 3}, ["outside_bar"]),  # BAR 3 is 16 KiB
    ("sim:nic,vectors=1024", {"table": 0x6000 | 3}, ["outside_bar"]),  # 16 KiB table from 24K in a 32K BAR
    ("sim:nic,vectors=1024", {"pba": 0x7FC0 | 3}, ["outside_bar"]),  # 128-byte PBA past the end
    ("sim:nic", {"table": 0 | 2, "pba": 0x1000 | 2}, ["bar_unimplemented", "bar_unimplemented"]),
    ("sim:nvme", {"table": 0 | 5}, ["bar_unimplemented"]),  # BAR 5 is the high half of 64-bit BAR 4
    ("sim:nic", {"bar3": 0xE001}, ["io_bar", "io_bar"]),
])
def test_checks(spec: str, regs: dict[str, int], kinds: list[str]) -> None:
    m = _poked(spec, **regs)
    assert [c.kind for c in m.checks()] == kinds
    assert all("\n" not in str(c) for c in m.checks())
    if spec == "sim:nvme":
        assert "upper half of 64-bit BAR 4" in str(m.checks()[0])

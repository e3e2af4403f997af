"""MSI verbs on the simulator against PCI Local Bus 3.0 §6.8.1 and QEMU hw/pci/msi.c, and the x86
meaning of address/data against the Intel SDM Vol. 3A §11.11 and the VT-d spec §5.1.5.2 bit tables.

MSI rules: with N = 2^(Multiple Message Enable) vectors, vector n sends the data with its low
log2(N) bits replaced by n; a masked vector's event sets its pending bit; a config write while MSI
is enabled sends every pending unmasked vector once and clears its bit; pending bits of vectors
beyond N are dropped; with MSI and MSI-X off the function uses INTx.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import pciexplore
from pciexplore.errors import InputError, NotSupported
from pciexplore.msi import x86


class MsiMachine(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.src = pciexplore.open("sim:nic,msix=0,vectors=32")
        self.fn = self.src.functions()[0]
        self.fn.write(0x04, b"\x06\x00")  # memory + bus master
        self.msi = self.fn.msi
        self.enabled, self.count, self.mask, self.pending = False, 1, 0, 0
        self.address, self.data = 0, 0
        self.sent: list[tuple[int, int]] = []

    def _deliver_pending(self) -> None:
        if not self.enabled:
            return
        self.pending &= (1 << self.count) - 1
        for v in range(self.count):
            if self.pending >> v & 1 and not self.mask >> v & 1:
                self.pending &= ~(1 << v)
                self.sent.append((self.address, (self.data & ~(self.count - 1)) | v))

    @rule()
    def enable(self) -> None:
        self.msi.enable()
        self.enabled = True
        self._deliver_pending()

    @rule()
    def disable(self) -> None:
        self.msi.disable()
        self.enabled = False

    @rule(log=st.integers(0, 5))
    def set_vectors(self, log: int) -> None:
        self.msi.set_vectors(1 << log)
        self.count = 1 << log
        self._deliver_pending()

    @rule(v=st.integers(0, 31), on=st.booleans())
    def mask_bit(self, v: int, on: bool) -> None:
        if v >= self.count:
            with pytest.raises(InputError):
                self.msi.mask(v) if on else self.msi.unmask(v)
            return
        self.msi.mask(v) if on else self.msi.unmask(v)
        self.mask = self.mask | 1 << v if on else self.mask & ~(1 << v)
        self._deliver_pending()

    @rule(apic=st.integers(0, 255), data=st.integers(0, 0xFFFF))
    def set_message(self, apic: int, data: int) -> None:
        self.msi.set_message(0xFEE00000 | apic << 12, data)
        self.address, self.data = 0xFEE00000 | apic << 12, data
        self._deliver_pending()

    @rule(v=st.integers(0, 31))
    def trigger(self, v: int) -> None:
        if not self.enabled:
            self.msi.trigger(0)  # INTx: nothing sent, nothing pending
            return
        if v >= self.count:
            with pytest.raises(InputError):
                self.msi.trigger(v)
            return
        self.msi.trigger(v)
        if self.mask >> v & 1:
            self.pending |= 1 << v
        else:
            self.sent.append((self.address, (self.data & ~(self.count - 1)) | v))

    @invariant()
    def matches(self) -> None:
        r = self.msi.regs()
        assert (r.enabled, r.count, r.mask, r.pending) == (self.enabled, self.count, self.mask, self.pending)
        assert [(d.address, d.data) for d in self.src.deliveries()] == self.sent
        t = self.msi.table
        assert list(t["data"]) == [(self.data & ~(self.count - 1)) | v for v in range(self.count)]


MsiMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None,
                                        suppress_health_check=[HealthCheck.too_slow])
TestMsiRules = MsiMachine.TestCase


def test_msi_story_and_limits() -> None:
    src = pciexplore.open("sim:nic,msix=0,vectors=4")
    fn = src.functions()[0]
    fn.write(0x04, b"\x06\x00")
    m = fn.msi
    with pytest.raises(InputError, match="power of two up to 4"):
        m.set_vectors(8)
    m.set_vectors(4)
    m.set_message(0xFEE00000, 0x4020)
    m.enable()
    m.mask(2)
    m.trigger(2)
    assert m.pending(2) and src.deliveries() == []
    m.unmask(2)
    assert [(d.address, d.data) for d in src.deliveries()] == [(0xFEE00000, 0x4022)]
    assert str(m.log).splitlines()[-1] == ("unmask(2): pending bit set → message 0xfee00000 ← 0x4022 sent "
                                            "(vector 2), pending bit 2 cleared")


def test_msi_without_mask_bits_says_so(tmp_path) -> None:
    src = pciexplore.open("sim:nic,msix=0")
    dev = src.devices[src.functions()[0].address]
    dev._cfg_put(0x52, 2, dev.cfg(0x52, 2) & ~0x100)  # a device without per-vector masking
    m = src.functions()[0].msi
    assert not m.regs().maskable
    with pytest.raises(NotSupported, match="no per-vector masking"):
        m.mask(0)


# -- x86 meaning: worked examples from the SDM and VT-d bit tables ---------------------------------
@pytest.mark.parametrize("address,data,expect", [
    # SDM: 0xFEE in 31:20, destination ID 19:12, RH bit 3, DM bit 2; vector 7:0, delivery 10:8,
    # level 14, trigger 15
    (0xFEE00000, 0x4023, "APIC 0 (physical), vector 0x23, fixed, edge"),
    (0xFEE0300C, 0x0131, "logical destination 0x03 (redirection hint), vector 0x31, lowest-priority, edge"),
    (0xFEEFF000, 0x0400, "APIC 255 (physical), vector 0x00, NMI, edge"),
    (0xFEE01000, 0xC0EF, "APIC 1 (physical), vector 0xef, fixed, level, assert"),
    (0xFEE01000, 0x80EF, "APIC 1 (physical), vector 0xef, fixed, level, deassert"),
    (0xFEE00000, 0x0700, "APIC 0 (physical), vector 0x00, ExtINT, edge"),
    # VT-d remappable: bit 4 = 1, handle[14:0] in 19:5, handle[15] in bit 2, SHV bit 3
    (0xFEE00010 | 37 << 5, 0, "remappable: IRTE index 37 (handle 37)"),
    (0xFEE00014 | 1 << 5, 0, "remappable: IRTE index 32769 (handle 32769)"),
    (0xFEE00018 | 100 << 5, 5, "remappable: IRTE index 105 (handle 100, subhandle 5)"),
    (0, 0, "not programmed (address 0)"),
    (0x1_FEE00000, 0x20, "not an x86 interrupt address (bits 31:20 = 0xfee, want 0xfee)"),
    (0xFED00000, 0x20, "not an x86 interrupt address (bits 31:20 = 0xfed, want 0xfee)"),
])
def test_x86_describe(address: int, data: int, expect: str) -> None:
    assert x86.describe(address, data) == expect


@given(apic=st.integers(0, 255), vector=st.integers(0, 255), logical=st.booleans(), rh=st.booleans(),
       mode=st.integers(0, 7), level=st.booleans())
def test_x86_message_roundtrip(apic: int, vector: int, logical: bool, rh: bool, mode: int, level: bool) -> None:
    address, data = x86.message(apic, vector, logical=logical, redirection_hint=rh, delivery_mode=mode,
                                level_triggered=level)
    f = x86.fields(address, data)
    assert address >> 20 == 0xFEE and not x86.remappable(address)
    assert (f["dest_id"], f["apic_vector"], f["dest_mode"], f["redirection_hint"]) == (apic, vector, logical, rh)
    assert (f["delivery_mode"], f["trigger_mode"]) == (mode, level)


def test_table_columns_decode_like_describe() -> None:
    src = pciexplore.open("sim:nic,vectors=4")
    fn = src.functions()[0]
    m = fn.msix
    messages = [(0xFEE0300C, 0x0131), (0xFEE00010 | 37 << 5, 0), (0, 0), (0xFEE01000, 0xC0EF)]
    for v, (a, d) in enumerate(messages):
        m.set_message(v, a, d)
    t = m.table
    assert list(t["format"]) == ["compatibility", "remappable", "not x86 interrupt", "compatibility"]
    assert t.loc[0, "dest_id"] == 3 and t.loc[0, "dest_mode"] == "logical" and t.loc[0, "redirection_hint"] == 1
    assert t.loc[0, "delivery_mode"] == "lowest-priority" and t.loc[3, "trigger_mode"] == "level"
    assert t.loc[1, "irte_index"] == 37 and t["dest_id"].isna()[1] and t["irte_index"].isna()[0]


def test_a_models_notebook_table_reads_as_the_registers_say():
    """The model's HTML table (what a notebook cell shows for `fn.msix`): a row per vector with the message
    in hex, what masks it, the PBA bit, and the Intel SDM meaning of the address/data pair."""
    import re

    fn = pciexplore.open("sim:nic").functions()[0]
    msix = fn.msix
    address, data = x86.message(1, 0x31)  # SDM 11.11: 0xFEE in 31:20, destination APIC ID in 19:12
    assert (address, data) == (0xFEE01000, 0x31)

    def rows() -> list[list[str]]:
        html = msix._repr_html_()
        return [re.findall(r"<t[dh]>(.*?)</t[dh]>", r) for r in re.findall(r"<tr>(.*?)</tr>", html, re.S)][1:]

    assert all(r[3] == "its mask bit" for r in rows())  # every entry's mask bit is set at reset
    msix.set_message(1, address, data)
    msix.unmask(1)
    assert rows()[1][3] == "MSI-X off"  # Message Control's Enable is still clear
    msix.enable()
    one = rows()[1]
    assert one == ["1", "0x00000000fee01000", "0x00000031", "-", "-", "APIC 1 (physical), vector 0x31, fixed, edge"]
    assert rows()[0][3:5] == ["its mask bit", "-"] and rows()[0][5] == "not programmed (address 0)"
    msix.mask_all()
    msix.trigger(1)
    assert rows()[1][3:5] == ["Function Mask", "yes"]

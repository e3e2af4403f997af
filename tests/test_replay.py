"""Replaying a virtio bring-up through the delivery modes (pciexplore.virtio.replay, `pciexplore replay`).

The Linux guest's bring-up in data/default.json was traced by QEMU itself (`pciexplore vm`); its replay
is checked against the MSI-X table QEMU held at the end of that boot (the same capture), an outside
reference for which message each queue's vector carries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import pciexplore
from pciexplore import cli
from pciexplore.errors import InputError
from pciexplore.virtio.replay import replay, script

DEFAULT = str(Path(__file__).resolve().parents[1] / "data" / "default.json")


def test_hermit_script_loses_the_entries_written_after_driver_ok_under_irqfd_only():
    (r,) = replay("hermit")
    assert r.lost == [
        "entry 1 address and data written while unmasked after DRIVER_OK (steps 28, 30): the emulated path sends "
        "the new message 0xfee00000 ← 0x31, the irqfd route still holds the old one 0x0 ← 0x0",
        "entry 2 address and data written while unmasked after DRIVER_OK (steps 31, 33): the emulated path sends "
        "the new message 0xfee00000 ← 0x32, the irqfd route still holds the old one 0x0 ← 0x0"]
    for event in r.events:
        assert r.outcome(event, "cloud-hypervisor").message == r.outcome(event, "emulated").message
    # the control queue and configuration changes are QEMU's own even under vhost: not lost
    assert r.outcome("queue 2 (ctrl), vector 3", "irqfd").message == (0xFEE00000, 0x33)
    assert {h.check for h in r.hazards} == {"irqfd_entry_written_unmasked"} and len(r.hazards) == 8


def test_linux_order_loses_nothing():
    (r,) = replay("linux")
    assert r.lost == [] and r.hazards == [] and "no write lost" in str(r)


def test_the_linux_guests_traced_bring_up_sends_what_qemu_held_in_the_table():
    """data/default.json: a Linux guest's boot as QEMU 7.2 traced it.  Replayed through all three paths,
    every event sends the same message, and that message is the entry QEMU's own table held for the
    queue's vector at the end of the boot."""
    results = {r.function: r for r in replay(DEFAULT)}
    assert sorted(results) == ["00:03.0", "00:04.0"]
    src = pciexplore.open(DEFAULT)
    for bdf, r in results.items():
        assert r.lost == [] and r.hazards == []
        table = {e.vector: (e.address, e.data) for e in src.function(bdf).msix.entries}
        for event in r.events:
            o = r.outcome(event, "emulated")
            if o.vector is None:
                assert "NO_VECTOR" in event  # Linux leaves virtio-net's control queue without a vector
                continue
            assert o.message == table[o.vector], (bdf, event)
            assert r.outcome(event, "irqfd").message == r.outcome(event, "cloud-hypervisor").message == o.message
    net = results["00:03.0"]
    assert net.vectors == 4 and net.steps == 152 and net.replayed == 111


def test_a_vector_moved_after_driver_ok_is_told_with_its_step():
    steps = script("linux") + [
        {"kind": "virtio", "register": "queue_select", "value": 0},
        {"kind": "virtio", "register": "queue_msix_vector", "index": 0, "value": 3}]
    (r,) = replay(steps)
    assert r.lost == ["queue 0 queue_msix_vector 1 → 3 written after DRIVER_OK (step 39): the emulated path sends "
                      "vector 3's message 0xfee00000 ← 0x33, the irqfd still feeds the route of the old vector 1: "
                      "0xfee00000 ← 0x31"]


def test_masked_events_under_irqfd_show_in_the_pba_only_once_it_is_read():
    steps = script("linux") + [{"kind": "msix-table", "register": "PCI_MSIX_ENTRY_VECTOR_CTRL", "index": 1, "value": 1}]
    (r,) = replay(steps, ("emulated", "irqfd"))
    rx = r.events[0]
    emulated, irqfd = r.outcome(rx, "emulated"), r.outcome(rx, "irqfd")
    assert emulated.message is irqfd.message is None
    assert emulated.pending == (1,) and irqfd.pending == ()  # held in vhost's masked notifier
    assert emulated.pending_read == irqfd.pending_read == (1,)  # virtio_pci_vector_poll on the PBA read


@pytest.mark.parametrize("doc, words", [
    ([{"kind": "virtio", "register": "device_status"}], "step 0: want an object with kind, register and value"),
    ([{"kind": "virtio", "register": "queue_vector", "value": 1}], "step 0: unknown virtio register 'queue_vector'"),
    ([{"kind": "msix-table", "register": "PCI_MSIX_ENTRY_DATA", "value": 1}], "needs the entry as index"),
    ([{"kind": "io", "register": "x", "value": 1}], "unknown kind 'io'"),
    ([{"kind": "virtio", "register": "device_status", "value": -1}], "is not a non-negative integer"),
    ({"steps": 3}, "want a list of steps"),
    ([{"kind": "config", "register": "PCI_COMMAND", "value": 6}], "no virtio common-configuration writes"),
])
def test_bad_bring_up_is_a_one_line_error_naming_the_file(tmp_path, doc, words):
    path = tmp_path / "bringup.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError) as e:
        replay(str(path))
    assert words in str(e.value) and "bringup.json" in str(e.value) and "\n" not in str(e.value)


def test_capture_without_a_timeline_says_where_one_comes_from():
    with pytest.raises(InputError) as e:
        replay(str(Path(DEFAULT).with_name("q35-e1000e-nvme.json")))
    assert "no recorded bring-up" in str(e.value) and "pciexplore vm" in str(e.value)


def test_cli_replay_exit_status_text_and_json(capsys):
    assert cli.main(["replay", "hermit"]) == 1
    out = capsys.readouterr().out
    assert "LOST: entry 1 address and data written while unmasked after DRIVER_OK" in out
    assert cli.main(["replay", DEFAULT, "-s", "00:03.0", "--json"]) == 0
    (doc,) = json.loads(capsys.readouterr().out)
    assert doc["function"] == "00:03.0" and doc["lost"] == [] and doc["modes"] == ["emulated", "irqfd", "cloud-hypervisor"]
    assert cli.main(["replay", "hermit", "--modes", "irqfd,vhost"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown delivery mode vhost" in err


def test_hermit_fixed_masks_writes_and_unmasks_and_loses_nothing():
    """The fix (mask, write, unmask): virtio_pci_one_vector_unmask refreshes each route on the unmask."""
    (r,) = replay("hermit-fixed")
    assert r.lost == [] and all(o.message == (0xFEE00000, 0x31) for o in r.outcomes if o.event.startswith("queue 0"))
    assert any("refreshed on unmask" in (o.via or "") for o in r.outcomes if o.mode == "irqfd")
    assert "<b>lost</b>" not in r._repr_html_() and "no write lost" in r._repr_html_()


def test_sim_delivery_names_the_mode_and_refuses_a_non_virtio_function():
    src = pciexplore.open("sim:virtio-net,delivery=irqfd+nic")
    assert src.delivery("00:02.0").name == "irqfd"
    with pytest.raises(InputError) as e:
        src.delivery("00:03.0")
    assert "not a simulated virtio function" in str(e.value)


def test_a_source_that_records_its_bring_up_is_replayed_directly(capsys):
    """sim: (and qmp:, a running VM) sources record the driver's writes: replay takes them as they are."""
    (r,) = replay("sim:virtio-net,driver,vectors=2")
    assert r.lost == [] and r.outcome("config, vector 0", "irqfd").message == (0xFEE00000, 0x4021)
    assert cli.main(["replay", "sim:nic"]) == 1
    assert "no recorded bring-up (no virtio function)" in capsys.readouterr().err

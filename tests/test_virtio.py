"""The virtio-pci transport model against outside references: QEMU's own device models over qtest, and
what QEMU reports of itself over QMP (`x-query-virtio-status`, `x-query-virtio-queue-status`); the
virtio 1.2 rules (§4.1.5.1.2 MSI-X Vector Configuration, §4.1.4.3.1 reset, §4.1.4.5 ISR) stated where
they are checked; and the simulator's virtio-net doing what QEMU's does in the same scenario."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import lspci_vvv

import pciexplore
from pciexplore.cli import main
from pciexplore.doctor import diagnose
from pciexplore.regs import virtio as V
from pciexplore.sources.qemu import Machine
from pciexplore.virtio import Virtio

NO_VECTOR = 0xFFFF
#: virtio 1.2 §6.3 (Legacy Interface: Reserved Feature Bits: NOTIFY_ON_EMPTY 24, ANY_LAYOUT 27, bit 30) and
#: the devices' legacy-only bits (§5.1.3.2 net GSO 6; §5.2.3.1 blk BARRIER 0, SCSI 7): offered only on
#: the legacy interface, so a modern device_feature never shows them
LEGACY_ONLY = {None: (1 << 24) | (1 << 27) | (1 << 30), 1: 1 << 6, 2: (1 << 0) | (1 << 7)}
QMP_ALIASES = {"VHOST_USER_F_PROTOCOL_FEATURES": 30}  # QEMU's name for bit 30

DEVICES = ["virtio-net-pci", "virtio-blk-pci", "virtio-scsi-pci", "virtio-rng-pci", "virtio-balloon-pci"]


def _machine(driver: str, modern_only: bool) -> Machine:
    m = Machine()
    props = {"disable-legacy": "on"} if modern_only else {"disable-legacy": "off", "disable-modern": "off"}
    if driver == "virtio-blk-pci":
        m.extra_args += ["-blockdev", "driver=null-co,node-name=d0,size=67108864"]
        props["drive"] = "d0"
    m.add(driver, **props)
    return m


def _virtio_fn(src):
    (fn,) = [f for f in src.functions() if f.virtio is not None]
    return fn


def _bits(names: list[str], unknown: int = 0) -> int:
    table = {n: b for t in (V.TRANSPORT_FEATURES, *V.DEVICE_FEATURES.values()) for b, n in t.items()}
    table.update(QMP_ALIASES)
    out = unknown
    for entry in names:
        out |= 1 << table[entry.split(":")[0]]  # a name QEMU knows and we do not fails here
    return out


def _qmp_features(part: dict) -> int:
    return _bits(part.get("dev-features", []) + part.get("transports", []), part.get("unknown-dev-features", 0))


@pytest.mark.qemu
@pytest.mark.parametrize("modern_only", [True, False], ids=["modern", "transitional"])
@pytest.mark.parametrize("driver", DEVICES)
def test_what_the_kit_shows_is_what_qemu_reports_of_itself(driver: str, modern_only: bool) -> None:
    with _machine(driver, modern_only).start() as src:
        fn = _virtio_fn(src)
        v = fn.virtio
        assert v.transitional is not modern_only  # modern-only ids are 0x1040 + type (§4.1.2.1)
        (path,) = [d["path"] for d in src.qmp.execute("x-query-virtio")]
        info = v.to_dict()
        qmp = src.qmp.execute("x-query-virtio-status", path=path)
        assert info["device_type"] == qmp["device-id"]
        assert set(info["device_status_names"]) == {s.split(":")[0].removeprefix("VIRTIO_CONFIG_S_")
                                                    for s in qmp["status"]["statuses"]}
        assert info["num_queues"] == qmp["num-vqs"]
        assert info["queue_select"] == qmp["queue-sel"]  # our selects were put back
        host = _qmp_features(qmp["host-features"])
        legacy_only = LEGACY_ONLY[None] | LEGACY_ONLY.get(info["device_type"], 0)
        assert info["features"]["device"] == host & ~legacy_only
        assert info["features"]["driver"] == _qmp_features(qmp["guest-features"])
        for q in info["queues"]:
            qs = src.qmp.execute("x-query-virtio-queue-status", path=path, queue=q["index"])
            assert (q["size"], q["desc"], q["driver"], q["device"]) == (
                qs["vring-num"], qs["vring-desc"], qs["vring-avail"], qs["vring-used"])
        if v.transitional:  # the legacy interface shows the same device: its 32 feature bits include legacy ones
            legacy = v.legacy()
            assert legacy.device_features == host & 0xFFFF_FFFF
            assert legacy.common["device_status"] == info["device_status"]
            assert [q.size for q in legacy.queues] == [q["size"] for q in info["queues"]]


@pytest.mark.qemu
def test_the_isr_is_read_only_when_asked_and_then_clears() -> None:
    """§4.1.4.5: reading the ISR status clears it.  QEMU reports the ISR over QMP without touching it."""
    with _machine("virtio-net-pci", True).start() as src:
        fn = _virtio_fn(src)
        (path,) = [d["path"] for d in src.qmp.execute("x-query-virtio")]
        src.trigger(fn.address, "config")  # MSI-X is disabled: the device sets the ISR and raises INTx
        isr = src.qmp.execute("x-query-virtio-status", path=path)["isr"]
        assert isr & V.VIRTIO_PCI_ISR_CONFIG
        info = fn.virtio.to_dict()
        assert info["isr"] is None
        assert src.qmp.execute("x-query-virtio-status", path=path)["isr"] == isr  # untouched by the model
        assert fn.virtio.read_isr() == isr
        assert src.qmp.execute("x-query-virtio-status", path=path)["isr"] == 0


@pytest.mark.qemu
def test_the_pci_cfg_window_reaches_the_same_structures() -> None:
    """§4.1.4.9: the PCI_CFG access capability reads the common configuration through config space."""
    with _machine("virtio-net-pci", True).start() as src:
        fn = _virtio_fn(src)
        through_bars = fn.virtio.snapshot()
        through_cfg = Virtio(fn, pci_cfg=True).snapshot()
        assert through_cfg.common == through_bars.common
        assert through_cfg.queues == through_bars.queues
        assert through_cfg.device_config == through_bars.device_config


def _scenario(src) -> list:
    """The same steps on QEMU and on the simulator; what each step reads back."""
    fn = _virtio_fn(src)
    v = fn.virtio
    size = fn.msix.size
    fn.msix.enable()
    out = [("start", _state(v))]
    out.append(("queue 0 past the table", v.set_queue_vector(0, size)))
    out.append(("queue 0 last entry", v.set_queue_vector(0, size - 1)))
    out.append(("config 0x7ff", v.set_config_vector(0x7FF)))
    out.append(("config 0", v.set_config_vector(0)))
    out.append(("legacy", [q.msix_vector for q in v.legacy().queues] if v.transitional else None))
    out.append(("after", _state(v)))
    out.append(("reset", v.reset()))
    out.append(("after reset", _state(v)))
    return out


def _state(v) -> dict:
    s = v.snapshot()
    return {"status": s.common["device_status"], "msix_config": s.common["msix_config"],
            "queue_select": s.common["queue_select"],
            "queues": [(q.size, q.enable, q.msix_vector, q.notify_off) for q in s.queues]}


@pytest.mark.qemu
@pytest.mark.parametrize("transitional", [False, True], ids=["modern", "transitional"])
def test_simulator_and_qemu_agree_on_vectors_refusals_and_reset(transitional: bool) -> None:
    """§4.1.5.1.2: a vector the device cannot map reads back NO_VECTOR; §4.1.4.3.1 / §2.4: writing 0 to
    device_status resets the device, which unmaps every event (all vectors NO_VECTOR)."""
    with _machine("virtio-net-pci", not transitional).start() as src:
        qemu = _scenario(src)
    sim = _scenario(pciexplore.open("sim:virtio-net,driver" + (",transitional" if transitional else "")))
    assert sim == qemu
    steps = dict(qemu)
    assert steps["queue 0 past the table"] == NO_VECTOR  # refused
    assert steps["queue 0 last entry"] == 3 and steps["config 0x7ff"] == NO_VECTOR
    assert steps["after"]["queues"][0][2] == 3 and steps["after"]["queue_select"] == steps["start"]["queue_select"]
    assert steps["after reset"]["msix_config"] == NO_VECTOR
    assert {q[2] for q in steps["after reset"]["queues"]} == {NO_VECTOR}
    assert steps["after reset"]["status"] == 0
    if transitional:  # §4.1.4.10: with MSI-X enabled the legacy layout shows the same vectors
        assert steps["legacy"] == [3, 2, 3]


def test_sim_queue_chain_and_a_read_only_view() -> None:
    src = pciexplore.open("sim:virtio-net,driver")
    fn = _virtio_fn(src)
    df = fn.virtio.queues
    table = fn.msix.table
    for _, row in df.iterrows():  # queue -> vector -> the MSI-X entry it names, as the MSI-X model reads it
        e = table.loc[row["msix_vector"]]
        assert (row["address"], row["data"], row["masked"], row["pending"]) == (
            e["address"], e["data"], e["masked"], e["pending"])
    # a source that must not be written: only the queue queue_select names is read, the rest said
    ro = Virtio(fn, select=False)
    writes = []
    src.write_bar = lambda *a: writes.append(a)  # any write would land here
    snap = ro.snapshot()
    assert writes == []
    sel = snap.common["queue_select"]
    assert [q.msix_vector for q in snap.queues] == [3 if i == sel else None for i in range(3)]
    assert snap.device_features is None and any("select" in u for u in snap.unread)


def test_sim_queue_interrupts_follow_the_vector() -> None:
    src = pciexplore.open("sim:virtio-net,driver")
    fn = _virtio_fn(src)
    src.trigger(fn.address, "ctrl")
    assert [d.vector for d in src.deliveries()] == [3]
    fn.virtio.set_queue_vector(2, NO_VECTOR)  # unmapped: with MSI-X on nothing is signalled, not even INTx
    src.trigger(fn.address, "ctrl")
    assert len(src.deliveries()) == 1 and not fn.read(0x06, 2) & 0x8


def _checks(src) -> set[str]:
    return {x.check for x in diagnose(src)}


def test_doctor_virtio_rules() -> None:
    src = pciexplore.open("sim:virtio-net,driver")
    fn = _virtio_fn(src)
    v = fn.virtio
    assert _checks(src) == set()  # a complete driver set-up
    v.set_queue_vector(1, 0x40)
    assert "virtio_vector_refused" in _checks(src)
    v.set_queue_vector(1, 3)
    # allowed: info only; moved after DRIVER_OK, so the delivery rule (tests/test_delivery.py) names it too
    assert {"virtio_shared_vector", "irqfd_vector_after_driver_ok"} == _checks(src)
    v.set_config_vector(NO_VECTOR)
    assert "virtio_config_no_vector" in _checks(src)
    fn.msix.mask(3)
    assert "virtio_vector_masked" in _checks(src)
    v.reset()
    v.set_status(0x0F)  # DRIVER_OK straight after reset: no vector at all
    assert "virtio_driver_ok_before_vectors" in _checks(src)
    fn.msix.disable()
    v.set_queue_vector(0, 1)
    assert "virtio_vectors_while_msix_disabled" in _checks(src)


def test_cli_json_and_text(capsys) -> None:
    assert main(["virtio", "--json", "sim:virtio-net,driver+nic"]) == 0
    (info,) = json.loads(capsys.readouterr().out)
    v = info["virtio"]
    assert (info["vendor_id"], info["device_id"], v["device_type"]) == (0x1AF4, 0x1041, 1)
    assert [q["msix_vector"] for q in v["queues"]] == [1, 2, 3] and v["msix_config"] == 0
    assert "VIRTIO_F_VERSION_1" in v["features"]["driver_names"] and v["isr"] is None
    assert main(["virtio", "sim:virtio-net,transitional"]) == 0
    out = capsys.readouterr().out
    assert "msix_config NO_VECTOR" in out and "[1af4:1000] virtio net (modern, transitional)" in out


@pytest.mark.lspci
def test_lspci_reads_the_simulated_virtio_function(tmp_path) -> None:
    path = tmp_path / "virtio.lspci"
    text = lspci_vvv(pciexplore.open("sim:virtio-net,transitional"), path)
    assert "Virtio network device" in text and "Region 0: I/O ports at c000" in text
    assert "[50] Vendor Specific Information: VirtIO: CommonCfg" in text
    assert "BAR=4 offset=00003000 size=0000000c multiplier=00000004" in text
    ours = subprocess.run([sys.executable, "-m", "pciexplore", "show", "-vvv", str(path)], capture_output=True, text=True,
                          check=True).stdout
    assert ours == text


def _interrupts(src) -> list:
    """Queue and configuration interrupts through the vectors, the same steps on QEMU and the simulator."""
    fn = _virtio_fn(src)
    v, m = fn.virtio, fn.msix
    m.enable()
    for vec in range(m.size):
        m.set_message(vec, 0xFEE00000, 0x4030 + vec)
        m.unmask(vec)
    seen = len(src.deliveries())

    def intx() -> bool:  # PCI_STATUS_INTERRUPT, read afresh
        return bool(src.read_config(fn.address)[0x06] & 0x8)

    def fire(cause: str) -> list:
        nonlocal seen
        src.trigger(fn.address, cause)
        new = [(d.vector, d.data) for d in src.deliveries()[seen:]]
        seen = len(src.deliveries())
        return new

    out = [("config", fire("config")), ("ctrl", fire("ctrl"))]
    v.set_queue_vector(2, 1)  # the control queue now shares vector 1 with the transmit queue
    out.append(("ctrl on 1", fire("ctrl")))
    v.set_queue_vector(2, NO_VECTOR)  # §4.1.5.1.2: unmapped, and with MSI-X on there is no INTx either
    out.append(("ctrl unmapped", (fire("ctrl"), intx())))
    m.mask(0)
    out.append(("config masked", (fire("config"), m.pending(0))))
    m.disable()  # §4.1.4.5: without MSI-X the device sets the ISR bit and raises INTx
    v.set_queue_vector(2, 3)
    out.append(("isr so far", v.read_isr()))
    out.append(("ctrl INTx", (fire("ctrl"), intx(), v.read_isr(), intx())))
    return out


@pytest.mark.qemu
def test_simulator_and_qemu_signal_the_same_vectors() -> None:
    with _machine("virtio-net-pci", True).start() as src:
        qemu = _interrupts(src)
    sim = _interrupts(pciexplore.open("sim:virtio-net,driver"))
    assert sim == qemu
    steps = dict(qemu)
    assert steps["config"] == [(0, 0x4030)] and steps["ctrl"] == [(3, 0x4033)] and steps["ctrl on 1"] == [(1, 0x4031)]
    assert steps["ctrl unmapped"] == ([], False)
    assert steps["config masked"] == ([], True)  # a masked vector only sets its pending bit
    # QEMU sets ISR bits with MSI-X on too (a configuration change sets both, as virtio_notify_config does)
    assert steps["isr so far"] == V.VIRTIO_PCI_ISR_QUEUE | V.VIRTIO_PCI_ISR_CONFIG
    assert steps["ctrl INTx"] == ([], True, V.VIRTIO_PCI_ISR_QUEUE, False)  # reading the ISR deasserts INTx


def test_virtio_tab_shows_queues_and_picks_their_msix_entry() -> None:
    from pciexplore.widgets.explorer import Explorer
    from pciexplore.widgets.msix import HIGHLIGHT

    src = pciexplore.open("sim:virtio-net,driver+nic")
    ex = Explorer(src)
    ex.show(src.function("00:02.0"))
    view = ex.virtio
    assert view is not None and ex.tabs.get_title(3) == "Virtio"
    assert view.table.value.count("pcx-virtio-queue'") == 3 and "0xfee01000 &larr; 0x00004024" in view.table.value
    assert view.pick(2) == 3  # queue 2 -> vector 3 (its queue_msix_vector)
    assert HIGHLIGHT in ex.msix.row_of(3).box._dom_classes and HIGHLIGHT not in ex.msix.row_of(1).box._dom_classes
    ex.msix.page_size = 2  # (re-paged: rows now show other vectors) the highlight follows vector 3, not a row
    ex.msix.show_page(0)
    assert not any(HIGHLIGHT in r.box._dom_classes for r in ex.msix.rows if r.vector != 3)
    fn = src.function("00:02.0")
    fn.virtio.set_queue_vector(2, NO_VECTOR)
    view.refresh()
    assert view.pick(2) is None and "no MSI-X entry" in view.table.value
    ex.show(src.function("00:03.0"))
    assert ex.virtio is None


def _without_reads(info: dict) -> dict:
    return {k: v for k, v in info.items() if k != "unread"}


@pytest.mark.qemu
@pytest.mark.parametrize("modern_only", [True, False], ids=["modern", "transitional"])
def test_a_capture_of_qemu_shows_what_qemu_showed(tmp_path, modern_only: bool) -> None:
    """The capture keeps each queue's and feature half's registers as their selects showed them, read
    register by register (QEMU answers a wide read of the common configuration with its first register
    only), and never the ISR."""
    from pciexplore.capture.take import take

    with _machine("virtio-net-pci", modern_only).start() as src:
        fn = _virtio_fn(src)
        live = fn.virtio.to_dict()
        path = take(src).save(tmp_path / "virtio.json")
    cap = pciexplore.open(path)
    captured = cap.function(fn.address)
    assert _without_reads(captured.virtio.to_dict()) == _without_reads(live)
    whats = {w.what for w in cap.windows(fn.address)}
    assert {"virtio-common", "virtio-queue:0", "virtio-queue:2", "virtio-feature:1", "virtio-device"} <= whats
    isr = captured.virtio.structure(V.VIRTIO_PCI_CAP_ISR_CFG)
    assert not any(w.bar == isr.bar and w.offset <= isr.offset < w.end for w in cap.windows(fn.address))


def test_diff_names_virtio_fields(tmp_path) -> None:
    from pciexplore.capture.take import take
    from pciexplore.diff import diff

    src = pciexplore.open("sim:virtio-net,driver")
    before = take(src).save(tmp_path / "a.json")
    v = _virtio_fn(src).virtio
    v.set_queue_vector(1, 0x40)  # refused: reads back NO_VECTOR
    v.set_status(0x0B)  # DRIVER_OK taken back
    lines = str(diff(before, take(src).save(tmp_path / "b.json"))).splitlines()
    assert "00:02.0 queue 1 msix_vector: 0x2 → 0xffff" in lines
    assert "00:02.0 device_status DRIVER_OK: 1 → 0" in lines


def test_a_device_that_reads_all_ones_is_said_not_to_answer() -> None:
    """Memory decoding off: the BAR answers all ones (as the simulator's BARs do, PCIe Unsupported
    Request); num_queues 0xffff must not become 65535 queue selects."""
    src = pciexplore.open("sim:virtio-net,driver")
    fn = _virtio_fn(src)
    fn.write(0x04, bytes(2))
    (why, *_) = fn.virtio.to_dict()["unread"]
    assert "reads all ones" in why and "PCI_CFG" not in " ".join(fn.virtio.to_dict()["unread"])
    assert not any(x.check.startswith("virtio") for x in diagnose(src))


def _legacy_pitfall(src, fn, v) -> list:
    """A legacy driver's vector writes before and after enabling MSI-X (virtio 1.2 §4.1.4.10: the two
    vector registers exist only while MSI-X is enabled; before, offset 0x14 is the device configuration)."""
    from pciexplore.errors import InputError

    out = []
    with pytest.raises(InputError, match="MSI-X is disabled"):
        v.set_config_vector(0)  # the model refuses to do what the bug does
    src.write_bar(fn.address, 0, 0x14, bytes(2))  # what the bug does: "config vector 0" at I/O BAR 0 + 0x14
    # QEMU applies a configuration write over its copy of the configuration as the last read left it, zeros
    # when nothing read it yet: the whole MAC address goes
    out.append(("mac after the early write", v.snapshot().device_config["mac"]))
    out.append(("reset", v.reset()))  # QEMU's virtio_net_reset takes the MAC back from the NIC's configuration
    out.append(("mac after reset", v.snapshot().device_config["mac"]))  # this read loads the copy
    src.write_bar(fn.address, 0, 0x14, bytes(2))
    out.append(("mac after a read and the write", v.snapshot().device_config["mac"]))
    fn.msix.enable()
    out.append(("config vector", v.set_config_vector(0)))
    out.append(("queue 0 vector", v.set_queue_vector(0, 1)))
    out.append(("queue 1 past the table", v.set_queue_vector(1, fn.msix.size)))
    snap = v.snapshot()
    out.append(("queues", [(q.size, q.msix_vector) for q in snap.queues]))
    out.append(("mac now", snap.device_config["mac"]))  # the device configuration moved to 0x18
    return out


@pytest.mark.qemu
def test_legacy_vectors_exist_only_with_msix_enabled_on_qemu_and_the_simulator() -> None:
    m = Machine().add("virtio-net-pci", **{"disable-modern": "on", "disable-legacy": "off"})
    with m.start() as src:
        fn = _virtio_fn(src)
        assert fn.virtio.transport == "legacy" and fn.virtio.structures == []
        qemu = _legacy_pitfall(src, fn, fn.virtio)
        (rx,) = src.qmp.execute("query-rx-filter", name=src.qdev_id(fn.address))
        assert rx["main-mac"] == dict(qemu)["mac now"]  # QEMU's own word on the MAC the early write changed
    sim = pciexplore.open("sim:virtio-net,transitional")
    sfn = _virtio_fn(sim)
    assert _legacy_pitfall(sim, sfn, Virtio(sfn, legacy=True)) == qemu
    steps = dict(qemu)
    assert steps["mac after the early write"] == "00:00:00:00:00:00"
    assert steps["mac after reset"] == "52:54:00:12:34:56"
    assert steps["mac after a read and the write"] == "00:00:00:12:34:56"
    assert steps["config vector"] == 0 and steps["queue 0 vector"] == 1 and steps["queue 1 past the table"] == NO_VECTOR
    assert steps["queues"] == [(256, 1), (256, NO_VECTOR), (64, NO_VECTOR)]


def test_doctor_queue_rules_unmapped_unprogrammed_and_past_the_table(tmp_path) -> None:
    from pciexplore.capture.take import take

    src = pciexplore.open("sim:virtio-net,driver")
    fn = _virtio_fn(src)
    fn.virtio.set_queue_vector(0, NO_VECTOR)  # unmapped on purpose (accepted: no refusal)
    # (unmapped after DRIVER_OK: the delivery rule names it too, the irqfd route stays)
    assert {x.check for x in diagnose(src)} == {"virtio_queue_no_vector", "irqfd_vector_after_driver_ok"}
    fn.virtio.set_queue_vector(0, 1)
    fn.msix.set_message(2, 0, 0)  # queue 1's entry: address 0 is no interrupt
    found = [x for x in diagnose(src) if x.check == "virtio_vector_unprogrammed"]
    assert [(x.where, x.vector) for x in found] == [("queue 1 queue_msix_vector (common cfg 0x1a)", 2)]
    # a device that kept a vector it cannot signal (a bug QEMU and the simulator do not have): a capture
    # edited to say so, read-only, still judged from the queue windows it holds
    path = take(src).save(tmp_path / "c.json")
    doc = json.loads(path.read_text())
    for w in doc["functions"][0]["windows"]:
        if w["what"] == "virtio-queue:0":  # (queue 2 is the selected one: the common window has it)
            data = bytearray.fromhex(w["data"])
            data[2:4] = (0x40).to_bytes(2, "little")  # queue_msix_vector, 0x1a - 0x18
            w["data"] = data.hex()
    path.write_text(json.dumps(doc))
    checks = {x.check: x for x in diagnose(pciexplore.open(path))}
    assert checks["virtio_vector_past_table"].vector == 0x40 and "queue 0" in checks["virtio_vector_past_table"].where


@pytest.mark.lspci
def test_shared_memory_and_pci_cfg_capabilities(tmp_path) -> None:
    """struct virtio_pci_cap64 (cfg_type 8, §4.1.4.7) carries offset and length high DWORDs; lspci 3.9 calls
    the type <unknown> and our text must say exactly what it says."""
    from pciexplore.render.lspci import LspciOptions, render_source

    src = pciexplore.open("sim:virtio-net")
    cfg = bytearray(src.functions()[0].config)
    at = 0xE0  # turn the PCI_CFG capability into a shared-memory one: id 3, offset 0x1_0000_2000, length 2 GiB
    cfg[at + 3], cfg[at + 4], cfg[at + 5] = 8, 2, 3
    cfg[at + 8 : at + 24] = (0x2000).to_bytes(4, "little") + (0x8000_0000).to_bytes(4, "little") + \
        (1).to_bytes(4, "little") + bytes(4)
    raw = tmp_path / "shm.bin"
    raw.write_bytes(bytes(cfg))
    fn = pciexplore.open(raw).functions()[0]
    (shm,) = [s for s in fn.virtio.structures if s.cfg_type == 8]
    assert (shm.bar, shm.id, shm.offset, shm.length) == (2, 3, 0x1_0000_2000, 0x8000_0000)
    dump = tmp_path / "shm.lspci"
    theirs = lspci_vvv(pciexplore.open(raw), dump)
    ours = render_source(pciexplore.open(dump), LspciOptions(verbose=3))
    assert "[e0] Vendor Specific Information: VirtIO: <unknown>" in theirs and ours == theirs


def _doctor_story(src) -> list:
    fn = _virtio_fn(src)
    v, m = fn.virtio, fn.msix
    if not m.enabled:  # QEMU's start-up leaves MSI-X off; program it as the simulator's driver option does
        for vec in range(m.size):
            m.set_message(vec, 0xFEE00000 | (vec % 2) << 12, 0x4021 + vec)
            m.unmask(vec)
        m.enable()

    def seen() -> list:
        return sorted((x.check, x.where, x.vector) for x in diagnose(src) if x.check.startswith("virtio"))

    out = [("two vectors", seen())]
    v.set_queue_vector(0, 2)  # past a two-entry table
    out.append(("refused", seen()))
    v.reset()
    v.set_status(0x0F)
    out.append(("DRIVER_OK at once", seen()))
    return out


@pytest.mark.qemu
def test_doctor_says_the_same_of_qemu_and_the_simulator() -> None:
    """With two MSI-X vectors the start-up puts every queue on vector 1: sharing is allowed (§4.1.5.1.2,
    info only); a vector past the table is refused and the doctor says so; DRIVER_OK without any vector
    (§3.1.1: vectors are per-bus set-up, before DRIVER_OK) is an error."""
    m = Machine().add("virtio-net-pci", **{"disable-legacy": "on", "vectors": "2"})
    with m.start() as src:
        qemu = _doctor_story(src)
    assert _doctor_story(pciexplore.open("sim:virtio-net,driver,vectors=2")) == qemu
    steps = dict(qemu)
    assert steps["two vectors"] == [("virtio_shared_vector", "MSI-X entry 1", 1)]
    assert ("virtio_vector_refused", "queue 0 queue_msix_vector (common cfg 0x1a)", 2) in steps["refused"]
    assert [c for c, _, _ in steps["DRIVER_OK at once"]] == ["virtio_driver_ok_before_vectors"]

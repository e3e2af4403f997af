"""MSI-X widgets over the simulator (and read-only sources): clicks go to the model's verbs, and what the
widgets then show is checked against the device's own bytes (table, PBA, Message Control) and the
PCIe rules: an event on a masked vector sets its PBA bit and sends nothing; unmasking sends it once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("ipywidgets")

from conftest import corpus_file  # noqa: E402

import pciexplore  # noqa: E402
from pciexplore.widgets import Explorer, InterruptPlot, MsixTableView, PbaGrid, Step  # noqa: E402


def device_bytes(fn):
    """(vector control dwords, PBA bits, Message Control) read from the device, not through the model."""
    cap = fn.cap("msix")
    table, pba = cap.get("PCI_MSIX_TABLE"), cap.get("PCI_MSIX_PBA")
    n = cap.get("PCI_MSIX_FLAGS", "PCI_MSIX_FLAGS_QSIZE") + 1
    src = fn.source
    raw = src.read_bar(fn.address, table & 7, table & ~7, 16 * n)
    ctrl = [int.from_bytes(raw[16 * v + 12:16 * v + 16], "little") for v in range(n)]
    pbits = int.from_bytes(src.read_bar(fn.address, pba & 7, pba & ~7, (n + 63) // 64 * 8), "little")
    flags = int.from_bytes(src.read_config(fn.address)[cap.offset + 2:cap.offset + 4], "little")
    return ctrl, [bool(pbits >> v & 1) for v in range(n)], flags


@pytest.fixture
def nic():
    src = pciexplore.open("sim:nic,driver")
    return src, src.functions()[0]


def lit(row) -> bool:
    return "pcx-lit" in row.pending.value


def test_rows_show_the_device_table(nic):
    src, fn = nic
    view = MsixTableView(fn)
    ctrl, pending, flags = device_bytes(fn)
    assert view.enable.value == bool(flags & 0x8000) and view.function_mask.value == bool(flags & 0x4000)
    raw = src.read_bar(fn.address, fn.cap("msix").get("PCI_MSIX_TABLE") & 7, 0, 16)
    address, data = int.from_bytes(raw[:8], "little"), int.from_bytes(raw[8:12], "little")
    assert f"0x{address:016x} &larr; 0x{data:08x}" in view.rows[0].message.value
    for r in view.rows:
        if r.vector is not None:
            assert r.mask.value == bool(ctrl[r.vector] & 1)
            assert lit(r) == pending[r.vector]


def test_mask_trigger_pending_unmask_follow_the_spec(nic):
    src, fn = nic
    view = MsixTableView(fn)
    r = view.row_of(2)
    r.mask.value = True  # a click on the toggle
    ctrl, pending, _ = device_bytes(fn)
    assert ctrl[2] & 1 and r.mask.description == "masked"
    r.trigger.click()
    ctrl, pending, _ = device_bytes(fn)
    assert pending[2] and lit(r) and src.deliveries() == []
    assert "pcx-lit" in view.pba.value and "1 of 5 bits set" in view.pba.value
    r.mask.value = False
    ctrl, pending, _ = device_bytes(fn)
    assert not pending[2] and not lit(r)
    (d,) = src.deliveries()
    assert d.vector == 2 and f"0x{d.address:x} &larr; 0x{d.data:08x}" in view.delivered.value


def test_function_mask_and_enable_switches_write_message_control(nic):
    src, fn = nic
    view = MsixTableView(fn)
    view.function_mask.value = True
    assert device_bytes(fn)[2] & 0x4000  # PCI_MSIX_FLAGS_MASKALL is bit 14
    view.row_of(0).trigger.click()
    assert device_bytes(fn)[1][0] and src.deliveries() == []  # masked by the function: pending only
    view.function_mask.value = False
    assert not device_bytes(fn)[2] & 0x4000 and len(src.deliveries()) == 1
    view.enable.value = False
    assert not device_bytes(fn)[2] & 0x8000
    # MSI-X disabled: every vector counts as masked, and every row says so
    assert all(r.mask.icon == "lock" and "still masks" in r.mask.tooltip or r.mask.value
               for r in view.rows if r.vector is not None)


def test_2048_vectors_paginate_and_refresh_sends_only_changes():
    src = pciexplore.open("sim:nic,vectors=2048,driver")
    fn = src.functions()[0]
    view = MsixTableView(fn, page_size=32)
    assert view.pages == 64
    r = view.row_of(2047)
    assert view.page == 63 and r.vector == 2047 and "vectors 2016&ndash;2047 of 2048" in view.where.value
    assert view.refresh() == 0  # nothing changed: nothing sent
    before = view.updates
    fn.msix.mask(2047)  # verbs of the model, not clicks: the view follows the function's announcements
    fn.msix.trigger(2047)
    sent = view.updates - before
    # mask: the toggle, its label, style, icon and tooltip, the log; trigger: the pending dot, the PBA grid,
    # the log, the summary: a handful of values, not 32 rows
    assert 0 < sent <= 12, sent
    assert lit(r) and r.mask.value
    assert view.refresh() == 0  # it was already up to date
    assert view.row_of(0).vector == 0 and view.page == 0


def test_a_mask_click_sends_each_changed_widget_once(nic, monkeypatch):
    """A click on a mask button changes its label, style, icon and tooltip: the page gets one update message
    for it carrying all of them (ipywidgets' protocol: an update holds any number of traits), not one per
    trait, and no other widget gets two."""
    import ipywidgets

    _, fn = nic
    view = MsixTableView(fn)
    button = view.row_of(1).mask
    sent = []
    monkeypatch.setattr(ipywidgets.Widget, "_send", lambda self, msg, buffers=None: sent.append((self, msg)))
    button.set_state({"value": not button.value})  # what ipywidgets does with the browser's click
    updates = [(widget, msg["state"]) for widget, msg in sent if msg["method"] == "update"]
    mine = [state for widget, state in updates if widget is button]
    assert len(mine) == 1 and {"description", "button_style", "icon", "tooltip"} <= set(mine[0]), mine
    widgets = [widget for widget, _ in updates]
    assert len(widgets) == len(set(map(id, widgets))), updates
    assert device_bytes(fn)[0][1] & 1 == button.value  # and the device holds what the button says


def test_showing_an_msix_function_does_not_import_pandas():
    """The explorer's pick of an MSI-X function reads the table as arrays: pandas (a second of imports)
    is for the DataFrame API, not for drawing rows."""
    import subprocess
    import sys

    code = ("import sys, pciexplore\nfrom pciexplore.widgets import Explorer\n"
            "src = pciexplore.open('sim:nic,vectors=64,driver')\nex = Explorer(src)\n"
            "ex.browser.select(src.functions()[0])\nassert ex.msix is not None and ex.msix.rows[0].vector == 0\n"
            "print('pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_read_only_source_disables_controls_and_says_why(corpus):
    fn = pciexplore.open(corpus_file("vm/virtio-msix-only-vm.lspci")).function("00:03.0")
    view = MsixTableView(fn)
    for control in (view.enable, view.function_mask, view.rows[0].mask):
        assert control.disabled and "read-only" in control.tooltip
    assert view.rows[0].trigger.disabled and "cannot make the device raise" in view.rows[0].trigger.tooltip
    assert "cannot read BAR 0" in view.status.value
    assert "read-only" in view.refused.value and "cannot make the device raise" in view.refused.value
    assert all(r.box.layout.display == "none" for r in view.rows)
    assert view.paging.layout.display == "none"  # no empty arrows: no page to turn, the status says why


def test_a_refused_verb_is_one_line_not_a_traceback(corpus):
    fn = pciexplore.open(corpus_file("vm/virtio-msix-only-vm.lspci")).function("00:03.0")
    step = Step("Enable", fn.msix.enable, log=fn.msix.log)
    step.press()
    assert "#b00020" in step.status.value and "dump source cannot" in step.status.value


def test_step_tells_what_the_verb_did(nic):
    src, fn = nic
    pba = PbaGrid(fn)
    steps = [Step("mask 1", fn.msix.mask, 1, log=fn.msix.log),
             Step("trigger 1", fn.msix.trigger, 1, log=fn.msix.log)]
    steps[0].press()
    lines = steps[1].press()
    assert len(lines) == 1 and "1" in lines[0]
    assert "<title>vector 1: pending</title>" in pba.value  # the live grid followed the verbs by itself


def test_each_step_keeps_the_state_of_its_moment_while_live_views_follow(nic):
    """What Run All does to a notebook: every step runs, then the reader looks.  Each step's snapshot
    must still show what that step left (PCIe: the masked vector's event is pending), while the live
    table and PBA show the device as it is at the end (unmasked: the message went out, the bit cleared)."""
    src, fn = nic
    live, pba = MsixTableView(fn), PbaGrid(fn)
    mask, trigger, unmask = (Step("mask 1", fn.msix.mask, 1, log=fn.msix.log),
                             Step("trigger 1", fn.msix.trigger, 1, log=fn.msix.log),
                             Step("unmask 1", fn.msix.unmask, 1, log=fn.msix.log))
    for step in (mask, trigger, unmask):
        step.press()
    _, pending, _ = device_bytes(fn)
    assert not pending[1] and len(src.deliveries()) == 1  # the device at the end
    assert "<title>vector 1: pending</title>" in trigger.state.value and "PBA: 1 of" in trigger.state.value
    assert "<title>vector 1: pending</title>" not in unmask.state.value and "1 message delivered" in unmask.state.value
    assert "fa-lock'></i> masked" in trigger.state.value.split("<b>#1</b>")[1].split("</tr>")[0]
    assert not lit(live.row_of(1)) and "PBA: 0 of" in pba.value and "PBA: 0 of" in live.pba.value


def test_explorer_marks_the_captures_notes(corpus):
    data = Path(__file__).resolve().parents[1] / "data" / "default.json"
    if not data.exists():
        pytest.skip("data/default.json not bundled")
    src = pciexplore.open(data)
    ex = Explorer(src)
    fn = src.function("00:03.0")
    ex.browser.select(fn)
    notes = [a for a in src.notes(fn) if a.bar is None]
    assert notes
    marked = {int(o) for o in re.findall(r"class='[^']*ann[^']*' title='[^']*' data-offset='(\d+)'", ex.hexview.value)}
    assert marked == {o for a in notes for o in range(a.offset, a.offset + a.length)}
    assert ex.msix is not None and ex.msix.enable.disabled


def test_interrupt_plot_draws_increments_between_samples():
    counts = iter([{"q0": 10, "q1": 0}, {"q0": 15, "q1": 0}, {"q0": 15, "q1": 7}])
    plot = InterruptPlot(lambda: next(counts), window=10)
    for _ in range(3):
        plot.poll()
    assert plot.deltas() == {"q0": [5, 0], "q1": [0, 7]}
    assert plot.svg.value.count("<polyline") == 2 and "q1: 7" in plot.svg.value


def _sources(tmp: Path) -> dict[str, str]:
    raw = tmp / "nic.bin"
    raw.write_bytes(pciexplore.open("sim:nic").functions()[0].config[:256])
    out = {"dump": str(corpus_file("qemu/q35-e1000e-nvme-virtio.lspci")), "raw": str(raw), "sim": "sim:nic+nvme",
           "sysfs": "sysfs"}
    data = Path(__file__).resolve().parents[1] / "data" / "default.json"
    if data.exists():
        out["capture"] = str(data)
    return out


@pytest.mark.parametrize("kind", ["dump", "raw", "sim", "sysfs", "capture"])
def test_explorer_shows_every_function_of_every_source(tmp_path, kind, corpus):
    spec = _sources(tmp_path).get(kind)
    if spec is None:
        pytest.skip(f"no {kind} source here")
    if kind == "sysfs" and not Path("/sys/bus/pci/devices").is_dir():
        pytest.skip("no /sys/bus/pci on this machine")
    src = pciexplore.open(spec)
    ex = Explorer(src)
    for fn in src.functions():
        ex.browser.select(fn)
        assert ex.chain.function is fn and ex.hexview.function is fn
        assert len(ex.chain.links) == 1 + len(fn.capabilities)
        if fn.msix is None:
            assert ex.msix is None
        else:
            assert ex.msix.function is fn
            # writable sources offer the switches; read-only ones disable them and say why
            assert ex.msix.enable.disabled == (not src.writable)


@pytest.mark.qemu
def test_explorer_on_qemu_triggers_a_real_device_model():
    src = pciexplore.open("qemu:e1000e")
    try:
        fn = next(f for f in src.functions() if f.msix is not None)
        view = Explorer(src)
        view.browser.select(fn)
        assert view.msix is not None and not view.msix.enable.disabled
        causes = src.triggers(fn.address)
        assert causes  # a QEMU device model can raise interrupts
        for r in view.msix.rows:
            if r.vector is not None:  # a trigger button is offered exactly where the device can raise it
                assert r.trigger.disabled == (f"vector:{r.vector}" not in causes)
    finally:
        src.close()


def test_dashboard_refuses_bad_input_in_one_line(capsys):
    from pciexplore.cli import main

    assert main(["dashboard", "/no/such/dump.lspci", "--no-browser"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such file" in err[0]


def test_interrupt_plot_of_a_live_function_follows_proc_interrupts():
    fns = [f for f in pciexplore.open() if f.kernel and f.kernel.msi_irqs] if Path("/sys/bus/pci").is_dir() else []
    if not fns:
        pytest.skip("no function with MSI/MSI-X IRQs on this host")
    fn = fns[0]
    plot = InterruptPlot.of_function(fn)
    counts = plot.poll()
    # /proc/interrupts: "IRQ: counts... PCI-MSIX-<bdf> <entry>-edge <handler>"; a global MSI domain
    # ("PCI-MSI 524288-edge") carries the entry in the hardware IRQ's low 11 bits
    header, *lines = Path("/proc/interrupts").read_text().splitlines()
    cpus = len(header.split())
    want = {}
    for parts in map(str.split, lines):
        if parts and parts[0].rstrip(":") in {str(i) for i in fn.kernel.msi_irqs}:
            chip, hw = parts[1 + cpus], re.match(r"(\d+)-", parts[2 + cpus])
            entry = None if hw is None else int(hw.group(1)) if re.search(r"MSIX?-[0-9a-f]{4}:", chip) \
                else int(hw.group(1)) & 0x7FF
            want[parts[-1] if entry is None else f"#{entry} {parts[-1]}"] = sum(map(int, parts[1:1 + cpus]))
    assert set(counts) == set(want)
    assert all(counts[k] <= want[k] for k in want)  # read before, and counters only grow


def test_explorer_watches_interrupts_only_on_the_live_host():
    ex = Explorer(pciexplore.open("sim:nic"))
    assert ex.plot is None and "not this host's live kernel" in ex.irq_box.children[0].value.replace("&#x27;", "'")
    live = pciexplore.open()
    fns = [f for f in live if f.kernel and f.kernel.msi_irqs]
    if not fns:
        pytest.skip("no function with MSI/MSI-X IRQs on this host")
    ex = Explorer(live)
    ex.browser.select(fns[0])
    assert ex.plot is not None and len(ex.plot.counts) == 1
    assert len(ex.plot.counts[0]) == len(fns[0].kernel.msi_irqs)  # a line per IRQ the kernel gave it
    ex.show(fns[0])  # showing another (or the same) function stops the old plot's sampling


def test_a_message_to_address_zero_is_shown_as_no_interrupt():
    """An unprogrammed entry (address 0) that is unmasked and fires makes the device write to memory
    address 0 (QEMU does so too: tests/test_qemu_msix.py); the delivery list must not call it an interrupt."""
    src = pciexplore.open("sim:nic")
    fn = src.functions()[0]
    command = int.from_bytes(fn.config[4:6], "little")
    src.write_config(fn.address, 4, (command | 0x6).to_bytes(2, "little"))  # Memory Space, Bus Master
    m = fn.msix
    m.enable()
    m.unmask(2)
    view = MsixTableView(fn)
    view.rows[2].trigger.click()
    sent = src.deliveries()
    assert [(d.vector, d.address) for d in sent] == [(2, 0)]
    assert "not an interrupt" in view.delivered.value and "1 of them not interrupts" in view.delivered.value


def test_command_register_program_and_go_to_controls_reach_the_device():
    """The controls a person needs to make a fresh device deliver anything, all through the page: Bus
    Master and Memory Space (PCI_COMMAND bits 2 and 1), a vector's message from APIC ID and CPU vector
    (Intel SDM §11.11: address 0xfee00000 | APIC ID << 12, data = vector | delivery mode << 8), go to N."""
    src = pciexplore.open("sim:nic,vectors=64")
    fn = src.functions()[0]
    view = MsixTableView(fn, page_size=16)
    assert not view.master.value and view.master.icon == "square"
    view.master.value = True
    view.memory.value = True
    assert src.read_config(fn.address)[4] & 0x06 == 0x06 and view.master.button_style == "success"
    view.program_vector.value, view.program_apic.value, view.program_cpu_vector.value = 37, 3, "0x41"
    view.program_mode.value = 1
    view.program.click()
    cap = fn.cap("msix")
    table = cap.get("PCI_MSIX_TABLE")
    raw = src.read_bar(fn.address, table & 7, (table & ~7) + 16 * 37, 12)
    assert int.from_bytes(raw[:8], "little") == 0xFEE03000 and int.from_bytes(raw[8:], "little") == 0x141
    view.program_cpu_vector.value = "0x05"  # an exception vector: refused in one line, nothing written
    view.program.click()
    assert "0x10 to 0xfe" in view.status.value
    assert src.read_bar(fn.address, table & 7, (table & ~7) + 16 * 37, 12) == raw
    view.goto.value = 37
    assert view.page == 2 and any(r.vector == 37 and "0x00000000fee03000" in r.message.value for r in view.rows)
    # and with those, the first delivery: enable, unmask 37, trigger
    fn.msix.enable()
    fn.msix.unmask(37)
    fn.msix.trigger(37)
    assert [(d.vector, d.address, d.data) for d in src.deliveries()] == [(37, 0xFEE03000, 0x141)]
    view.master.value = False
    assert not src.read_config(fn.address)[4] & 0x04 and view.master.icon == "square"

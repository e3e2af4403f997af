"""Every notebook runs top to bottom, headless (nbclient), with no root and no hardware; the QEMU one is
skipped only where qemu-system-x86_64 is absent.  What a notebook prints at its key steps is checked
against the rules it teaches (PCIe MSI-X: masked -> pending, unmask -> one message, PBA bit cleared)."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.fixture(autouse=True)
def _kernel_temp_dir(tmp_path, monkeypatch):
    """Files a notebook makes in its temporary directory (05 saves captures) stay in the test's."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))


def execute(name: str):
    """Execute notebooks/NAME.ipynb in its own directory, top to bottom as Run All does; the notebook with
    its outputs and the widgets' last state."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=True,
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    return nb


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """`executed(NAME)`: notebooks/NAME.ipynb executed once for the module (its files in a temporary directory
    of its own): the tests that read the same Run All share it instead of running it again."""
    done: dict[str, object] = {}

    def get(name: str):
        if name not in done:
            with pytest.MonkeyPatch.context() as env:
                env.setenv("TMPDIR", str(tmp_path_factory.mktemp(name)))
                done[name] = execute(name)
        return done[name]

    return get


def rendered(nb, cell_source: str) -> str:
    """What the (first) code cell containing `cell_source` shows after the whole notebook ran: its HTML
    and text outputs, and for each widget the HTML values of it and its children as they were left."""
    widgets = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})

    def walk(model_id: str) -> list[str]:
        state = widgets.get(model_id, {}).get("state", {})
        found = [state[k] for k in ("value", "description") if isinstance(state.get(k), str)]
        for child in state.get("children", []):
            found += walk(child.removeprefix("IPY_MODEL_"))
        return found

    cell = next(c for c in nb.cells if c.cell_type == "code" and cell_source in c.source)
    parts = []
    for o in cell.get("outputs", []):
        data = o.get("data", {})
        parts += [o.get("text", ""), data.get("text/html", ""), data.get("text/plain", "")]
        view = data.get("application/vnd.jupyter.widget-view+json")
        if view:
            parts += walk(view["model_id"])
    return "\n".join(parts)


def run(name: str, nb=None) -> list[str]:
    """Execute notebooks/NAME.ipynb in its own directory (or take `nb`, executed already); returns each code
    cell's text output."""
    nb = nb or execute(name)
    out = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        text = []
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error":
                raise AssertionError(f"{name}: {o['ename']}: {o['evalue']}")
            text.append(o.get("text", "") + json.dumps(o.get("data", {}).get("text/plain", "")))
        out.append("".join(text))
    return out


def test_notebooks_are_stored_without_outputs():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), path.name
    assert len(list(NOTEBOOKS.glob("*.ipynb"))) == 7


@pytest.mark.lspci
def test_01_tour(tmp_path):
    """The chain the tour walks and the vector count it prints are what lspci reads from the same bytes; the
    MSI-X table it shows is the capture's bytes at the BAR offsets lspci names, read as the spec lays an
    entry out (PCI Local Bus 3.0 section 6.8.2.6: address, upper address, data, vector control)."""
    import struct
    import subprocess
    import sys

    nb = execute("01-tour")
    out = "\n".join(run("01-tour", nb))
    dump = tmp_path / "default.lspci"
    subprocess.run([sys.executable, "-m", "pciexplore", "export", "--lspci", str(dump),
                    str(NOTEBOOKS.parent / "data" / "default.json")], check=True, cwd=NOTEBOOKS.parent)
    lspci = subprocess.run(["lspci", "-F", str(dump), "-vvv", "-s", "00:03.0"], capture_output=True, text=True,
                           check=True).stdout
    offsets = re.findall(r"Capabilities: \[([0-9a-f]+)\]", lspci)
    walked = re.findall(r"^\[([0-9a-f]+)\] id 0x", out, re.M)
    assert walked and walked == offsets
    count = re.search(r"MSI-X: Enable\+ Count=(\d+)", lspci)
    assert count and f"vectors: {count[1]}" in out
    table_at = re.search(r"Vector table: BAR=(\d) offset=([0-9a-f]+)", lspci)
    pba_at = re.search(r"PBA: BAR=(\d) offset=([0-9a-f]+)", lspci)
    capture = json.loads((NOTEBOOKS.parent / "data" / "default.json").read_text())
    windows = next(f for f in capture["functions"] if f["address"] == "0000:00:03.0")["windows"]

    def window(bar: str, offset: str) -> bytes:
        return bytes.fromhex(next(w["data"] for w in windows if w["bar"] == int(bar) and w["offset"] == int(offset, 16)))

    table, pba = window(*table_at.groups()), window(*pba_at.groups())
    shown = rendered(nb, "snapshot(fn.msix)")
    rows = re.findall(r"<tr class='pcx-snap-row'>(.*?)</tr>", shown)
    assert len(rows) == int(count[1])
    for v, row in enumerate(rows):
        low, high, data, ctrl = struct.unpack_from("<IIII", table, 16 * v)
        assert f"0x{high << 32 | low:016x} &larr; 0x{data:08x}" in row, (v, row)
        assert ("</i> masked" in row) == bool(ctrl & 1), (v, row)  # PCI_MSIX_ENTRY_CTRL_MASKBIT
    pending = sum(bin(b).count("1") for b in pba[: -(-int(count[1]) // 8)])
    assert f"PBA: {pending} of {count[1]} bits set" in shown


def test_02_after_run_all_each_step_shows_its_own_moment(executed):
    """Run All, then read the page: the snapshot of each step says what its text says (PCIe: masked ->
    pending, unmask -> one message and the bit cleared), while the live table at the end shows the final,
    disabled state."""
    nb = executed("02-msix-explained")
    trigger_1 = rendered(nb, 'Step("trigger vector 1", msix.trigger, 1, log=msix.log)\nstep.press()\nprint("pending:"')
    assert "Function Mask <b>set</b>" in trigger_1 and "<title>vector 1: pending</title>" in trigger_1
    assert "PBA: 1 of 5 bits set" in trigger_1 and "0 messages delivered" in trigger_1
    step6 = rendered(nb, 'Step("mask vector 2"')
    # three steps in one cell: mask (nothing pending), trigger (bit 2 pending), unmask (sent, cleared)
    snaps = [p for p in step6.split("\n") if "state after this step" in p]
    assert len(snaps) == 3
    assert "<title>vector 2: pending</title>" in snaps[1] and "PBA: 1 of 5 bits set" in snaps[1]
    assert "<title>vector 2: pending</title>" not in snaps[2] and "PBA: 0 of 5 bits set" in snaps[2]
    live = rendered(nb, "MsixTableView(fn)")
    assert "MSI-X @0xb0" in live and "\nEnable: off\n" in live and "PBA: 0 of 5 bits set" in live


def test_02_msix_explained(executed):
    out = "\n".join(run("02-msix-explained", executed("02-msix-explained")))
    assert "pending: True | messages delivered: 0" in out  # masked by Function Mask: pending, nothing sent
    # Bus Master off: the message cannot leave the device and QEMU's msix.c clears the pending bit anyway
    assert "after Function Mask off: pending = False | messages delivered: 0" in out
    assert "PCI_COMMAND_MASTER = 1" in out
    assert "after trigger: pending = True" in out
    assert "after unmask:  pending = False" in out
    assert "PBA bit 2 cleared" in out


def test_03_live_host():
    out = "\n".join(run("03-live-host"))
    assert "config bytes" in out
    # the interrupt path: one line per IRQ the kernel lists in msi_irqs/
    irqs = sorted(int(p.name) for p in Path("/sys/bus/pci/devices").glob("*/msi_irqs/*"))
    assert sorted(int(m) for m in re.findall(r"→ IRQ (\d+) →", out)) == irqs
    m = re.search(r"^counts (\S+) (\{.*\})$", out, re.M)
    if m is None:
        assert not list(Path("/sys/bus/pci/devices").glob("*/msi_irqs/*")), "the notebook plots the counts"
        return  # no function with MSI/MSI-X IRQs here (a container): nothing to count
    counts = ast.literal_eval(m.group(2))
    # the counters of /proc/interrupts: the same handler names, and counts only grow
    header, *lines = Path("/proc/interrupts").read_text().splitlines()
    cpus = len(header.split())
    proc = {parts[-1]: sum(int(n) for n in parts[1:1 + cpus])
            for parts in map(str.split, lines) if parts and parts[0].rstrip(":").isdigit()}
    named = {label.split(" ", 1)[1]: n for label, n in counts.items()}  # "#1 virtio2-input.0" -> handler
    assert named and set(named) <= set(proc)
    assert all(named[name] <= proc[name] for name in named)


@pytest.mark.qemu
def test_04_qemu_lab(executed):
    out = "\n".join(run("04-qemu-lab", executed("04-qemu-lab")))
    # the same hermit writes: the emulated path sends the new message, the irqfd route the old, empty one
    assert "sim:virtio-net,delivery=emulated: <Delivery #0: 0xfee00000 ← 0x31" in out
    assert re.search(r"sim:virtio-net,delivery=irqfd: <Delivery #0: 0x0 ← 0x0 .*via irqfd route of vector 1 "
                     r"\(built at DRIVER_OK\) NOT AN INTERRUPT", out)
    # QEMU's own emulated path sends what the simulator's emulated mode sends, event for event
    for cause in ("ctrl", "config"):
        qemu = re.search(cause + r": QEMU <Delivery #\d+: (\S+ ← \S+) .*\(vector (\d+)\)", out)
        sim = re.search(cause + r": sim  <Delivery #\d+: (\S+ ← \S+) .*\(vector (\d+)\)", out)
        assert qemu and sim and qemu.groups() == sim.groups(), cause
    assert "via irqfd route of vector 1 (refreshed on unmask)" in out


def _markdown_before(nb, cell_source: str) -> str:
    i = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and cell_source in c.source)
    return next(c.source for c in reversed(nb.cells[:i]) if c.cell_type == "markdown")


@pytest.mark.qemu
def test_04_after_run_all_the_lost_write_shows_under_the_text_that_promises_it(executed):
    nb = executed("04-qemu-lab")
    promise = _markdown_before(nb, "replay(irqfd.timeline())")
    assert "written while unmasked after DRIVER_OK" in promise and "irqfd" in promise
    lost = rendered(nb, "replay(irqfd.timeline())")
    m = re.search(r"<b>lost</b>: entry 1 address and data written while unmasked after DRIVER_OK \(steps (\d+), "
                  r"(\d+)\): the emulated path sends the new message 0xfee00000 ← 0x31, the irqfd route still holds "
                  r"the old one 0x0 ← 0x0", lost)
    assert m and "<b>lost</b>: entry 2 address and data" in lost
    # the steps it names are the entry-1 writes the steps table shows after DRIVER_OK
    table = rendered(nb, "steps.loc[driver_ok:]")
    for step, register in zip(m.groups(), ("PCI_MSIX_ENTRY_LOWER_ADDR", "PCI_MSIX_ENTRY_DATA"), strict=True):
        assert re.search(rf"<th>{step}</th>\s*<td>msix-table</td>\s*<td>{register}</td>\s*<td>1</td>", table)
    doctor = rendered(nb, "doctor = DoctorPanel(irqfd)")
    assert doctor.count("works emulated, breaks under irqfd/vhost") == 2 and f"(steps {m[1]}, {m[2]})" in doctor
    assert "mask the entry, write its address and data, unmask it" in doctor and "try vhost=off" in doctor
    fixed = rendered(nb, 'play(fixed, "00:02.0", "hermit-fixed")')
    assert "0xfee00000 ← 0x31" in fixed and "refreshed on unmask" in fixed and "No findings" in fixed
    held = rendered(nb, "ff.msix.mask(1)")
    assert "held in the masked notifier" in held and "PBA read: queue 0's held event set vector 1's pending bit" in held
    assert "<title>vector 1: pending</title>" in held
    live = rendered(nb, "MsixTableView(ff)")  # the live table is on an open source: its controls work
    assert "was closed" not in live and "\nFunction Mask: clear\n" in live


def test_05_annotate_and_share():
    out = "\n".join(run("05-annotate-and-share"))
    assert "nic.json" in out and "nic.html" in out
    assert "MASKALL" in out or "Function Mask" in out


def test_06_fleet():
    pytest.importorskip("duckdb")
    out = "\n".join(run("06-fleet"))
    # the broken capture is skipped and named, the 300 others built; every fault put in is found
    assert re.search(r"skipped \S+broken\.json - broken JSON", out)
    assert "300 captures, 2700 functions written" in out and "(1 skipped)" in out
    m = re.search(r"faults put in: (\d+) \| missed by the questions: \[\]", out)
    assert m and int(m.group(1)) > 10


def test_07_where_does_an_interrupt_go():
    """Run All, then read each picture: INTx follows Status.Interrupt and INTx Disable (PCI 3.0 §6.2.2-3)
    and the ISR read clears it (virtio 1.2 §4.1.4.5); the MSI data carries the vector in its low bits;
    the MSI-X delivery decodes, by the SDM's bit positions, to the APIC ID and vector the text names;
    the host section names IRQs exactly as this machine's /proc/interrupts does."""
    nb = execute("07-where-does-an-interrupt-go")
    stopped = rendered(nb, 'src.trigger(fn.address, "rx0")')
    assert "after the event: Status.Interrupt 1, INTx Disable 1: pin not asserted" in stopped
    assert "stops here: INTx Disable set" in stopped and "Interrupt Line: 11 (OS note)" in stopped
    driven = rendered(nb, 'fn.set("PCI_COMMAND_INTX_DISABLE", 0)')
    assert "Status.Interrupt 1, INTx Disable 0: pin asserted" in driven and "stops here" not in driven
    cleared = rendered(nb, "isr = v.read_isr()")
    assert "ISR read: 0x01 (bit 0: a queue) -> Status.Interrupt 0, INTx Disable 0" in cleared
    assert "stops here: nothing pending" in cleared
    shared = rendered(nb, "pair = pciexplore.open(")
    assert "0000:00:02.0: ISR 0x00 -> IRQ_NONE" in shared and "0000:00:03.0: ISR 0x01 -> IRQ_HANDLED" in shared

    msi = rendered(nb, "m.set_message(")
    m = re.search(r"<Delivery #\d+: (0x[0-9a-f]+) ← (0x[0-9a-f]+)", msi)
    assert m and int(m[2], 16) & 0xFF == 0x42 and (int(m[1], 16) >> 12) & 0xFF == 1  # base 0x40 | vector 2
    assert "LAPIC 1" in msi and "data low bits = vector 2" in msi

    claim = next(c.source for c in nb.cells if c.cell_type == "markdown" and "Trigger vector 3" in c.source)
    said = re.search(r"APIC ID (\d+), vector (0x[0-9a-f]+)", claim)
    delivered = rendered(nb, "mx.trigger(3)\nsent =")
    m = re.search(r"<Delivery #\d+: (0x[0-9a-f]+) ← (0x[0-9a-f]+)", delivered)
    address, data = int(m[1], 16), int(m[2], 16)
    # SDM vol. 3 §11.11: destination ID in address bits 19:12, vector in data bits 7:0
    assert said and ((address >> 12) & 0xFF, data & 0xFF) == (int(said[1]), int(said[2], 16))
    assert f"LAPIC {said[1]}" in delivered and f"vector {said[2]}, fixed, edge" in delivered
    assert "stops here: masked: PBA bit set" in rendered(nb, "mx.mask(3)\nmx.trigger(3)")
    fmask = rendered(nb, "mx.mask_all()")
    assert "['Function Mask set']" in fmask and "PBA bit 3 cleared" in fmask and "stops here" not in fmask.split(
        "PBA bit 3 cleared")[1]

    vm = rendered(nb, "journey.in_a_vm(g, 1)")
    entry = re.search(r"<MSI-X vector 1: (0x[0-9a-f]+) ← 0x0*([0-9a-f]+) unmasked", vm)
    assert entry and vm.count(f"{entry[1]} ← 0x{entry[2]}") >= 2  # the entry QEMU reads and the route's copy
    assert "KVM MSI route" in vm and "irqfd_wakeup" in vm
    posted = rendered(nb, "journey.posted(g, 1)")
    assert "cannot show this live" in posted and "no VM exit" in posted
    assert "remappable: IRTE index 7 (handle 5, subhandle 2)" in rendered(nb, "remappable = 0xFEE00000")

    host = rendered(nb, "interrupts = kernel.read_interrupts()")
    header, *lines = Path("/proc/interrupts").read_text().splitlines()
    chips = {p[0].rstrip(":"): p for p in map(str.split, lines) if p and p[0].rstrip(":").isdigit()}
    m = re.search(r"^IRQ (\d+): (\S+), entry (\d+), \w+, handler '([^']*)'", host, re.M)
    if m is None:
        assert "no MSI/MSI-X interrupts on this machine" in host
        assert not any("PCI-MSI" in " ".join(p) for p in chips.values())
        return
    line = chips[m[1]]
    assert m[2] in line and line[-1] == m[4].split()[-1]  # the chip and the handler /proc/interrupts names
    assert f"→ IRQ {m[1]} →" in rendered(nb, "paths = interrupt_paths(")

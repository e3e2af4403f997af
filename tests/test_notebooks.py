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
    assert len(list(NOTEBOOKS.glob("*.ipynb"))) == 6


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


def test_02_after_run_all_each_step_shows_its_own_moment():
    """Run All, then read the page: the snapshot of each step says what its text says (PCIe: masked ->
    pending, unmask -> one message and the bit cleared), while the live table at the end shows the final,
    disabled state."""
    nb = execute("02-msix-explained")
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


def test_02_msix_explained():
    out = "\n".join(run("02-msix-explained"))
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
def test_04_qemu_lab():
    out = "\n".join(run("04-qemu-lab"))
    assert re.search(r"qemu:virtio-net-pci delivered: 1 \| pending: \[\]", out)
    assert re.search(r"qemu:virtio-net-pci delivered: 0 \| pending: \[0\]", out)
    assert "PCI_MSIX_FLAGS_MASKALL" in out


@pytest.mark.qemu
def test_04_after_run_all_the_doctor_names_the_forgotten_step_where_the_text_says():
    nb = execute("04-qemu-lab")
    finding = rendered(nb, "doctor = DoctorPanel(bad)")
    assert "PCI_MSIX_FLAGS_MASKALL" in finding and "No findings" not in finding
    masked = rendered(nb, "snapshot(fb.msix)\n")
    assert "Function Mask <b>set</b>" in masked and "<title>vector 0: pending</title>" in masked
    fixed = rendered(nb, "fixed = DoctorPanel(bad)")
    assert "No findings" in fixed
    live = rendered(nb, "MsixTableView(fb)")  # the live table is on an open source: its controls work
    assert "was closed" not in live and "\nFunction Mask: clear\n" in live and "\nEnable: off\n" not in live


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

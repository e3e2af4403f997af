"""Widgets as views: what they show is checked against lspci's own text for the same dump (tree,
capability offsets, hex bytes, flag values) and the spec's layout (which bytes a field lives in)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("ipywidgets")

from conftest import corpus_dumps, corpus_file  # noqa: E402

import pciexplore  # noqa: E402
from pciexplore.widgets import CapabilityChain, DeviceBrowser, HexView  # noqa: E402
from pciexplore.widgets.browser import tree_rows  # noqa: E402

VM = "vm/virtio-msix-only-vm.lspci"


def lspci(*args: str) -> str:
    return subprocess.run(["lspci", *args], capture_output=True, text=True, check=True).stdout


@pytest.mark.lspci
@pytest.mark.parametrize("dump", ["pciutils-tests/tree-fsl-p2020.lspci",
                                  "qemu/q35-e1000e-nvme-virtio.lspci"], ids=lambda p: p.split("/")[1])
def test_tree_puts_each_function_behind_the_bridge_lspci_t_shows(dump):
    # lspci -t draws "DD.F-[BB]----DD.F": the bridge DD.F forwards to bus BB, where the next function sits
    dump = corpus_file(dump)
    text = lspci("-t", "-F", str(dump))
    expected = {}
    for line in text.splitlines():
        domain = re.search(r"\[([0-9a-f]{4}):[0-9a-f]{2}\]", line)
        dom = domain.group(1) if domain else "0000"
        for bridge, bus, child in re.findall(r"([0-9a-f]{2}\.\d)-\[([0-9a-f]{2})\]-+([0-9a-f]{2}\.\d)", line):
            expected[f"{dom}:{bus}:{child}"] = bridge
    assert expected, "the reference shows bridges with functions behind them"
    rows = tree_rows(pciexplore.open(dump).functions())
    parents = {}
    stack: list = []
    for depth, fn in rows:
        del stack[depth:]
        parents[str(fn.address)] = stack[-1] if stack else None
        stack.append(fn)
    for child, bridge in expected.items():
        parent = parents[child]
        assert parent is not None, f"{child} should be behind {bridge}"
        assert f"{parent.address.device:02x}.{parent.address.function}" == bridge
        assert [d for d, f in rows if str(f.address) == child][0] == [d for d, f in rows if f is parent][0] + 1


@pytest.mark.parametrize("dump", corpus_dumps(), ids=lambda p: p.name)
def test_tree_lists_every_function_once(dump):
    fns = pciexplore.open(dump).functions()
    assert sorted(id(f) for _, f in tree_rows(fns)) == sorted(id(f) for f in fns)


def test_filter_keeps_matches_and_the_bridges_above_them(corpus):
    src = pciexplore.open(corpus_file("pciutils-tests/tree-fsl-p2020.lspci"))
    b = DeviceBrowser(src)
    assert len(b.tree.options) == len(src.functions())
    b.filter.value = "168c:003c"  # the QCA988x behind the bridge on bus 04
    shown = [fn for _, fn in b.tree.options]
    assert [str(f.address) for f in shown] == ["0000:04:00.0", "0000:05:00.0"]
    assert "2 of 6 functions shown" in b.count.value
    b.filter.value = "no such thing"
    assert b.tree.options == ()
    b.filter.value = ""
    assert len(b.tree.options) == 6
    one = DeviceBrowser(pciexplore.open("sim:nic"))
    assert "1 of 1 function shown" in one.count.value


def test_selecting_a_function_calls_back(corpus):
    src = pciexplore.open(corpus_file(VM))
    b = DeviceBrowser(src)
    seen = []
    b.on_select(seen.append)
    b.select(src.functions()[3])
    assert seen == [src.functions()[3]]


@pytest.mark.lspci
@pytest.mark.parametrize("dump", corpus_dumps()[:40], ids=lambda p: p.name)
def test_chain_links_are_lspcis_capabilities(dump):
    src = pciexplore.open(dump)
    text = lspci("-vvv", "-F", str(dump))
    blocks = re.split(r"\n(?=\S)", text.strip())
    for fn, block in zip(src.functions(), blocks, strict=False):
        offsets = [int(o, 16) for o in re.findall(r"^\tCapabilities: \[([0-9a-f]+)(?: v\d+)?\]", block, re.M)]
        if "<chain" in block or "<access denied>" in block:
            continue  # lspci prints a broken chain as text, not as a capability
        chain = CapabilityChain(fn)
        linked = [int(re.match(r"\[([0-9a-f]+)\]", b.description).group(1), 16) for b in chain.links[1:]]
        assert linked == offsets, fn


@pytest.mark.lspci
def test_hex_view_shows_the_bytes_lspci_dumps(corpus):
    src = pciexplore.open(corpus_file(VM))
    for fn in src.functions():
        view = HexView(fn)
        dump = lspci("-xxxx", "-F", str(corpus_file(VM)), "-s", fn.address.short)
        want = {}
        for line in dump.splitlines():
            m = re.match(r"^([0-9a-f]{2,3}): ((?:[0-9a-f]{2} ?){16})$", line)
            if m:
                base = int(m.group(1), 16)
                want.update({base + i: b for i, b in enumerate(m.group(2).split())})
        got = dict((int(o), b) for o, b in re.findall(r"data-offset='(\d+)'>([0-9a-f]{2})<", view.value))
        assert len(got) >= 256
        assert {o: b for o, b in want.items() if o in got} == got


@pytest.mark.lspci
def test_msix_link_highlights_the_capability_and_its_enable_bit(corpus):
    src = pciexplore.open(corpus_file(VM))
    fn = src.function("00:03.0")
    hexview = HexView()
    chain = CapabilityChain(fn, hexview)
    msix = next(b for b in chain.blocks if getattr(b, "key", "") == "msix")
    chain.select(msix)
    # PCI Local Bus 3.0 §6.8.2: the MSI-X capability is 12 bytes (header, Message Control, table, PBA)
    assert hexview.selection == (0x98, 12)
    marked = [int(o) for o in re.findall(r"class='sel' title='[^']*' data-offset='(\d+)'", hexview.value)]
    assert marked == list(range(0x98, 0x98 + 12))
    enable = next(v for label, v in chain.register.options if label.endswith(" PCI_MSIX_FLAGS_ENABLE"))
    chain.register.value = enable
    # Message Control is at +2, Enable is bit 15: the byte at +3
    assert re.findall(r"class='fld' title='[^']*' data-offset='(\d+)'", hexview.value) == [str(0x98 + 3)]
    # lspci says "MSI-X: Enable+ Count=3 Masked-": the field table says the same
    line = re.search(r"MSI-X: Enable([+-]) Count=(\d+) Masked([+-])",
                     lspci("-vvv", "-F", str(corpus_file(VM)), "-s", "00:03.0"))
    assert f"<code>Enable{line.group(1)}</code>" in chain.fields.value
    assert f"<code>Masked{line.group(3)}</code>" in chain.fields.value
    qsize = re.search(r"PCI_MSIX_FLAGS_QSIZE</td><td>bits 10:0</td><td><code>(0x[0-9a-f]+)", chain.fields.value)
    assert int(qsize.group(1), 16) + 1 == int(line.group(2))  # QSIZE is N-1 encoded


def test_field_tooltips_come_from_the_declarations(corpus):
    from pciexplore.regs.caps.msix import MSIX

    fn = pciexplore.open(corpus_file(VM)).function("00:03.0")
    chain = CapabilityChain(fn)
    chain.select(fn.cap("msix"))
    doc = MSIX.register("PCI_MSIX_FLAGS").field("PCI_MSIX_FLAGS_MASKALL").doc
    assert doc and f"title='Masked - {doc}'" in chain.fields.value


def test_hex_view_marks_annotations_escaped(corpus):
    fn = pciexplore.open(corpus_file(VM)).function("00:03.0")
    view = HexView(fn)
    view.annotate([(0x9A, 2, "Function Mask lives here <script>alert(1)</script>")])
    cells = re.findall(r"class='ann' title='([^']*)' data-offset='(\d+)'", view.value)
    assert [int(o) for _, o in cells] == [0x9A, 0x9B]
    assert "<script>" not in view.value and "&lt;script&gt;" in cells[0][0]


def test_unreadable_extended_space_and_short_dumps_render(tmp_path):
    # a 64-byte `lspci -x` dump is legal input: the view shows 4 rows and the chain has only the header
    short = tmp_path / "short.lspci"
    short.write_text("00:00.0 Host bridge: x\n" + "".join(
        f"{r * 16:02x}: " + " ".join("00" for _ in range(16)) + "\n" for r in range(4)))
    fn = pciexplore.open(short).functions()[0]
    assert len(re.findall(r"data-offset=", HexView(fn).value)) == 64
    assert len(CapabilityChain(fn).links) == 1


def test_every_view_of_a_function_follows_a_write_made_through_the_source():
    """One announcement, many views: a config write made straight through the source (not a widget,
    not a model verb) is shown by the hex view, the field table and the doctor without any refresh call."""
    from pciexplore.widgets import DoctorPanel, Explorer

    src = pciexplore.open("sim:nic,driver")
    fn = src.functions()[0]
    explorer, doctor = Explorer(src), DoctorPanel(src)
    chain = explorer.chain
    chain.select(fn.cap("msix"))
    assert not any(f.check == "msix_function_masked" for f in doctor.findings)
    at = fn.cap("msix").offset + 3  # Message Control high byte: bit 14 of the register is bit 6 here
    old = fn.config[at]
    src.write_config(fn.address, at, bytes([old | 0x40]))  # PCI_MSIX_FLAGS_MASKALL
    assert f"data-offset='{at}'>{old | 0x40:02x}</td>" in explorer.hexview.value
    assert re.search(r"PCI_MSIX_FLAGS_MASKALL</td><td>bit 14</td><td><code>Masked\+", chain.fields.value)
    assert any(f.check == "msix_function_masked" for f in doctor.findings)
    assert explorer.msix.function_mask.description == "Function Mask: set"


def test_explorer_has_a_doctor_tab_for_the_function_and_lets_go_of_the_views_it_replaces():
    from pciexplore.doctor import diagnose
    from pciexplore.widgets import Explorer

    src = pciexplore.open("sim:nic")  # as firmware leaves it: MSI-X offered, nothing set up
    fn = src.functions()[0]
    explorer = Explorer(src)
    titles = [explorer.tabs.get_title(i) for i in range(len(explorer.tabs.children))]
    assert titles[-1] == "Doctor"
    expected = [f.check for f in diagnose(src, str(fn.address))]
    assert [f.check for f in explorer.doctor.findings] == expected
    for _ in range(5):  # picking the function again and again must not pile up observers
        explorer.show(fn)
    alive = [r for r in fn._observers if r() is not None]
    assert len(alive) == 4, alive  # field table, hex view, MSI-X table and doctor: not four more per pick


def test_annotate_from_the_page_saves_the_capture_and_marks_the_bytes(tmp_path):
    """Pick a field in the chain, write a note, save: the capture file on disk (read back by the capture
    reader, not by the widget) holds the note on that field's bytes, and the hex view underlines them."""
    import shutil

    from pciexplore.widgets import Explorer

    path = tmp_path / "bug.json"
    shutil.copy(Path(__file__).resolve().parents[1] / "data" / "default.json", path)
    src = pciexplore.open(path)
    explorer = Explorer(src)
    fn = src.function("00:03.0")
    explorer.browser.select(fn)
    chain = explorer.chain
    chain.select(fn.cap("msix"))
    chain.register.value = next(v for label, v in chain.register.options if label.endswith("PCI_MSIX_FLAGS_MASKALL"))
    panel = explorer.notes
    assert "PCI_MSIX_FLAGS_MASKALL" in panel.where.value
    panel.text.value = "seen set after suspend on host B <script>"
    panel.tags.value = "msix, suspend"
    panel.save.click()
    assert "saved to" in panel.status.value, panel.status.value
    again = pciexplore.open(path)
    notes = [a for a in again.notes(again.function("00:03.0")) if a.text.startswith("seen set after suspend")]
    assert len(notes) == 1 and notes[0].tags == ["msix", "suspend"] and notes[0].offset == fn.cap("msix").offset + 3
    assert f"data-offset='{notes[0].offset}'" in explorer.hexview.value
    marked = re.search(rf"<td class='[^']*ann[^']*' title='([^']*)' data-offset='{notes[0].offset}'", explorer.hexview.value)
    assert marked and "&lt;script&gt;" in marked[1]
    panel.bytes.value = "0x9a+zz"  # a bad range: one line, nothing saved
    before = path.read_bytes()
    panel.text.value = "x"
    panel.save.click()
    assert "OFFSET+LENGTH" in panel.status.value and path.read_bytes() == before


def test_annotate_panel_on_a_source_without_notes_says_how():
    from pciexplore.widgets import Explorer

    explorer = Explorer(pciexplore.open("sim:nic"))
    assert explorer.notes.save.disabled and "capture it first" in explorer.notes.save.tooltip

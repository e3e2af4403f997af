"""The interrupt-path pictures (render/hops.py) and what each path says (msi/journey.py).

Pictures: the SVG is well-formed, names every hop and lane, keeps every box inside its viewBox and
every line of text inside its box, and the width estimate is never below what the real fonts measure
(DejaVu Sans and Liberation Sans, read with fontTools from the font files).  Paths: the simulator's
registers decide where an interrupt stops, as the PCI and MSI-X rules say, and the decoded destination
is the one the SDM's bit positions give."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import pciexplore
from pciexplore.msi import journey, x86
from pciexplore.render import hops as H

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def all_journeys() -> list[journey.Journey]:
    """One of each picture, in the states the notebook shows (stopped and delivered)."""
    intx = pciexplore.open("sim:virtio-net,driver,msix=0")
    fi = intx.functions()[0]
    out = [journey.intx(fi)]
    intx.trigger(fi.address, "rx0")
    out.append(journey.intx(fi))
    nic = pciexplore.open("sim:nic,driver")
    fn = nic.functions()[0]
    fn.msix.trigger(3)
    out.append(journey.msix(fn, 3))
    fn.msix.mask(3)
    fn.msix.trigger(3)
    out.append(journey.msix(fn, 3))
    msi = pciexplore.open("sim:nic,msix=0").functions()[0]
    msi.msi.set_message(*x86.message(1, 0x40))
    msi.msi.enable()
    out.append(journey.msi(msi, 0))
    guest = pciexplore.open("sim:virtio-net,driver").functions()[0]
    out += [journey.in_a_vm(guest, 1), journey.posted(guest, 1)]
    return out


def boxes(root: ET.Element):
    """(rect attributes, [text elements]) per hop group."""
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "pcx-hop":
            rect = g.find(f"{SVG}rect")
            yield {k: float(rect.get(k)) for k in ("x", "y", "width", "height")}, g.findall(f"{SVG}text")


@pytest.mark.parametrize("j", all_journeys(), ids=lambda j: j.title)
def test_every_hop_is_named_and_fits_its_box_and_the_viewbox(j):
    root = parse(j.svg())
    vb = [float(v) for v in root.get("viewBox").split()]
    assert vb[:2] == [0, 0] and vb[2] == float(root.get("width")) and vb[3] == float(root.get("height"))
    assert "max-width:100%" in root.get("style")  # scales down in a narrow page instead of being cut off
    found = list(boxes(root))
    assert len(found) == sum(len(lane.hops) for lane in j.lanes)
    titles = [texts[0].text for _, texts in found]
    assert titles == [h.title for lane in j.lanes for h in lane.hops]
    for rect, texts in found:
        assert rect["x"] >= 0 and rect["y"] >= 0
        assert rect["x"] + rect["width"] <= vb[2] and rect["y"] + rect["height"] <= vb[3]
        for t in texts:
            size = float(t.get("font-size"))
            left, baseline = float(t.get("x")), float(t.get("y"))
            width = H.text_width(t.text, size, t.get("font-weight") == "bold")
            assert left + width <= rect["x"] + rect["width"] - 4, t.text  # padding left on the right
            assert rect["y"] + size <= baseline <= rect["y"] + rect["height"] - 3, t.text
    labels = [t for t in root.iter(f"{SVG}text") if t.get("class") in ("pcx-lane-label", "pcx-lane-note")]
    assert [t.text for t in labels] == [s for lane in j.lanes for s in (lane.label, lane.note) if s]
    for t in labels:  # a long lane label widens the picture rather than running off its edge
        bold = t.get("font-weight") == "bold"
        assert float(t.get("x")) + H.text_width(t.text, float(t.get("font-size")), bold) <= vb[2], t.text


def test_a_long_lane_wraps_instead_of_growing_past_max_width():
    lane = H.Lane("long", tuple(H.Hop(f"hop number {i}", ("a line of some length",)) for i in range(9)))
    root = parse(H.svg([lane], max_width=600))
    assert float(root.get("width")) <= 600
    ys = sorted({r["y"] for r, _ in boxes(root)})
    assert len(ys) > 1  # more than one line
    assert root.find(f"{SVG}g/{SVG}polyline") is not None  # the elbow that joins the lines


def test_a_wrapped_lane_spreads_its_boxes_evenly_over_its_lines():
    lane = H.Lane("five", tuple(H.Hop("x" * 12) for _ in range(5)))  # 5 equal boxes, 4 fit on a line
    one = H.text_width("x" * 12, H.TITLE_SIZE, True) + 2 * H.PAD_X
    root = parse(H.svg([lane], max_width=4 * one + 3 * H.MIN_GAP + 2 * H.MARGIN + 1))
    rows = [r["y"] for r, _ in boxes(root)]
    assert [rows.count(y) for y in sorted(set(rows))] == [3, 2]


def test_a_stop_is_written_and_double_bordered_and_the_rest_faded():
    lane = H.Lane("x", (H.Hop("a"), H.Hop("b", stop="masked"), H.Hop("c", seen=H.PICTURE)))
    root = parse(H.svg([lane]))
    groups = [g for g in root.iter(f"{SVG}g") if g.get("class") == "pcx-hop"]
    assert [len(g.findall(f"{SVG}rect")) for g in groups] == [1, 2, 1]  # the stop's inner border
    assert any(t.text == "stops here: masked" for t in groups[1].iter(f"{SVG}text"))
    assert [g.get("opacity") for g in groups] == [None, None, "0.55"]
    assert groups[2].find(f"{SVG}rect").get("stroke-dasharray")  # a picture: dashed, not only coloured
    assert groups[0].find(f"{SVG}rect").get("stroke-dasharray") is None


def test_text_is_escaped():
    root = parse(H.svg([H.Lane("<lane>", (H.Hop("a & b", ("<c>",)),))]))
    assert [t.text for t in root.iter(f"{SVG}text")][:3] == ["<lane>", "a & b", "<c>"]


FONTS = {("DejaVu Sans", False): "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
         ("DejaVu Sans", True): "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
         ("Liberation Sans", False): "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
         ("Liberation Sans", True): "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf"}


@pytest.mark.parametrize(("family", "bold"), list(FONTS))
def test_the_width_estimate_is_at_least_what_the_font_measures(family, bold):
    """Every string the pictures draw, measured with the font's own advance widths (no kerning: wider)."""
    ttlib = pytest.importorskip("fontTools.ttLib")
    path = Path(FONTS[(family, bold)])
    if not path.exists():
        pytest.skip(f"{path} not installed")
    font = ttlib.TTFont(str(path))
    cmap, hmtx, upem = font.getBestCmap(), font["hmtx"], font["head"].unitsPerEm
    strings = {t.text for j in all_journeys() for t in parse(j.svg()).iter(f"{SVG}text")
               if (t.get("font-weight") == "bold") == bold and t.text}
    assert len(strings) > 30
    for s in strings:
        measured = sum(hmtx[cmap[ord(c)]][0] if ord(c) in cmap else upem for c in s) / upem * 13
        assert H.text_width(s, 13, bold) >= measured, (family, s)


def test_intx_follows_status_and_intx_disable():
    """PCI 3.0 §6.2.2-3: the pin is driven only with Interrupt Status 1 and Interrupt Disable 0; a
    virtio ISR read clears the status (virtio 1.2 §4.1.4.5)."""
    src = pciexplore.open("sim:virtio-net,driver,msix=0")
    fn = src.functions()[0]
    assert journey.intx(fn).stops() == ["nothing pending"]
    src.trigger(fn.address, "rx0")
    assert journey.intx(fn).stops() == ["INTx Disable set"]  # the driver option set it, as for MSI-X
    assert journey.intx_state(fn) == "Status.Interrupt 1, INTx Disable 1: pin not asserted"
    fn.set("PCI_COMMAND_INTX_DISABLE", 0)
    j = journey.intx(fn)
    assert j.stops() == [""] and "Status.Interrupt: 1" in j.svg() and "pin asserted" in j.text()
    assert fn.virtio.read_isr() == 1
    assert journey.intx(fn).stops() == ["nothing pending"]
    assert journey.intx_state(fn) == "Status.Interrupt 0, INTx Disable 0: pin not asserted"


def test_msix_stops_where_msix_notify_would_and_decodes_the_destination():
    src = pciexplore.open("sim:nic,driver")
    fn = src.functions()[0]
    fn.msix.trigger(3)
    sent = src.deliveries()[-1]
    j = journey.msix(fn, 3)
    assert j.stops() == [""]
    # SDM vol. 3 §11.11: destination ID in address bits 19:12, vector in data bits 7:0
    apic, vector = (sent.address >> 12) & 0xFF, sent.data & 0xFF
    assert (apic, vector) == (1, 0x24)
    hops = j.lanes[0].hops
    assert hops[3].title == f"LAPIC {apic}" and f"vector 0x{vector:02x}" in hops[3].lines[1]
    assert f"recorded: delivery #{sent.seq}" in hops[2].lines
    fn.msix.mask(3)
    fn.msix.trigger(3)
    masked = journey.msix(fn, 3)
    assert masked.stops() == ["masked: PBA bit set"]
    assert "nothing sent" in masked.lanes[0].hops[2].lines  # not the earlier delivery of the same message
    fn.msix.mask_all()
    assert journey.msix(fn, 3).stops() == ["Function Mask set"]
    fn.set("PCI_COMMAND_MASTER", 0)
    fn.msix.unmask_all()
    fn.msix.unmask(3)
    assert journey.msix(fn, 3).stops() == ["Bus Master off"]


def test_msi_data_carries_the_vector_in_its_low_bits():
    """PCI 3.0 §6.8.1.6: with N vectors enabled the function modifies the low log2(N) bits of the data."""
    src = pciexplore.open("sim:nic,msix=0")
    fn = src.functions()[0]
    fn.msi.set_message(*x86.message(1, 0x40))
    fn.msi.set_vectors(4)
    fn.msi.enable()
    assert journey.msi(fn, 2).stops() == ["Bus Master off"]
    fn.set("PCI_COMMAND_MASTER", 1)
    fn.msi.trigger(2)
    assert src.deliveries()[-1].data & 0xFF == 0x42
    j = journey.msi(fn, 2)
    assert j.stops() == [""] and "0xfee01000 ← 0x42" in j.text() and "LAPIC 1" in j.text()


def test_an_unprogrammed_entry_writes_memory_and_interrupts_no_cpu():
    """SDM §11.11: only writes to 0xFEExxxxx are interrupts; a fresh entry (address 0) is a plain write."""
    src = pciexplore.open("sim:nic")
    fn = src.functions()[0]
    fn.set("PCI_COMMAND_MASTER", 1)
    fn.msix.enable()
    fn.msix.unmask(0)
    fn.msix.trigger(0)
    j = journey.msix(fn, 0)
    assert j.stops() == ["not 0xFEExxxxx"] and j.lanes[0].hops[-1].title == "memory at 0x0"
    assert "LAPIC" not in j.text()


def test_a_remappable_message_goes_to_the_iommu_not_to_an_apic():
    lane_hops = journey._cpu_hops(0xFEE00000 | 5 << 5 | 1 << 4, 0)
    assert lane_hops[0].title == "IOMMU: IRTE 5" and lane_hops[0].seen == H.PICTURE


def test_the_vm_pictures_carry_the_guests_message_and_say_they_are_pictures():
    guest = pciexplore.open("sim:virtio-net,driver").functions()[0]
    e = guest.msix.entry(1)
    vm, post = journey.in_a_vm(guest, 1), journey.posted(guest, 1)
    message = f"0x{e.address:x} ← 0x{e.data:x}"
    assert [lane.label.split(":")[0] for lane in vm.lanes] == ["emulated", "irqfd set-up", "irqfd event"]
    assert all(message in lane.text() for lane in vm.lanes)  # the route is built from the entry
    assert [lane.label.split(":")[0] for lane in post.lanes] == ["posted (APICv)", "posted (VT-d)"]
    assert f"PIR bit 0x{e.data & 0xFF:02x}" in post.text()
    assert all(h.seen == H.PICTURE for lane in post.lanes for h in lane.hops)
    assert all("cannot show this live" in lane.note for lane in post.lanes)
    assert re.search(r"host vector 0xf2", post.text())  # POSTED_INTR_VECTOR, irq_vectors.h

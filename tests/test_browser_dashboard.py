"""The dashboard in real Chromium: `pciexplore dashboard sim:nic,driver` served by the test (Voilà, or
JupyterLab when Voilà is absent), then a person's clicks: mask a vector, trigger it, see its pending bit
light (PCIe: an event on a masked vector sets its PBA bit and sends nothing), unmask it and see the bit
clear and the message delivered.  Screenshots go to /tmp/pciexplore-screenshots/ (PCIEXPLORE_SCREENSHOTS=docs:
docs/screenshots/)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("playwright")
pytest.importorskip("voila")

from browser.layout import assert_every_tab_fits, pick_ethernet  # noqa: E402
from browser.session import chromium_page, dashboard, jupyterlab, lab_run_all, screenshot, serve  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

import pciexplore  # noqa: E402

pytestmark = pytest.mark.browser


def text(page, selector: str) -> str:
    return page.inner_text(selector).replace("\xa0", " ")  # ipywidgets' Select shows spaces as no-break


def row(page, vector: int):
    return page.locator(".pcx-row").filter(has=page.locator(f"text=#{vector}")).first


def test_mask_trigger_pending_unmask_in_the_dashboard(tmp_path):
    with dashboard("sim:nic,driver", tmp_path) as url, chromium_page() as page:
        page.goto(url)
        page.wait_for_selector(".pcx-explorer", timeout=90_000)
        # the device browser lists the simulated NIC; the chain shows its capabilities
        assert "Ethernet controller" in text(page, ".pcx-device-browser")
        assert page.locator(".pcx-chain .pcx-link").count() >= 5
        # select MSI-X in the chain and its Enable field: the hex view marks the byte holding bit 15 of
        # Message Control (capability offset + 3, PCI Local Bus 3.0 §6.8.2)
        page.locator(".pcx-chain .pcx-link", has_text="MSI-X").click()
        msix_at = int(page.locator(".pcx-chain .pcx-link", has_text="MSI-X").inner_text().strip()[1:3], 16)
        field = page.locator(".pcx-chain select")
        page.wait_for_function("Array.from(document.querySelectorAll('.pcx-chain select option'))"
                               ".some(o => o.text.endsWith('PCI_MSIX_FLAGS_ENABLE'))")
        labels = field.evaluate("e => Array.from(e.options).map(o => o.text)")
        field.select_option(label=next(o for o in labels if o.endswith("PCI_MSIX_FLAGS_ENABLE")))
        page.wait_for_selector(".pcx-hex td.fld")
        assert page.locator(".pcx-hex td.fld").get_attribute("data-offset") == str(msix_at + 3)
        assert page.locator(".pcx-hex td.sel").count() == 11  # the other 11 of the capability's 12 bytes
        # hovering a field name shows its declaration's words
        from pciexplore.regs.caps.msix import MSIX

        doc = MSIX.register("PCI_MSIX_FLAGS").field("PCI_MSIX_FLAGS_ENABLE").doc
        assert page.locator(".pcx-fields td", has_text="PCI_MSIX_FLAGS_ENABLE").get_attribute("title") == f"Enable - {doc}"
        # nothing is cut off: each function's line fits the list, and the field table (meaning column
        # included) fits beside the hex view instead of running under it
        fits = page.evaluate("""() => {
            const sel = document.querySelector('.pcx-device-browser select');
            const ctx = document.createElement('canvas').getContext('2d');
            ctx.font = getComputedStyle(sel).font;
            const widest = Math.max(...Array.from(sel.options).map(o => ctx.measureText(o.text).width));
            const box = document.querySelector('.pcx-fields').closest('.widget-html');
            const table = document.querySelector('.pcx-fields table').getBoundingClientRect();
            const hex = document.querySelector('.pcx-hex').getBoundingClientRect();
            return {widest, list: sel.clientWidth, scroll: box.scrollWidth, client: box.clientWidth,
                    tableRight: table.right, tableBottom: table.bottom, hexLeft: hex.left, hexTop: hex.top};
        }""")
        assert fits["widest"] < fits["list"], fits
        assert fits["scroll"] <= fits["client"], fits
        # beside the hex view where both fit, below it where they do not: never under it
        assert fits["tableRight"] <= fits["hexLeft"] or fits["tableBottom"] <= fits["hexTop"], fits
        screenshot(page, "dashboard-capabilities.png")
        page.get_by_role("tab", name="MSI-X").click()
        page.wait_for_selector(".pcx-msix .pcx-row")
        assert_no_button_text_cut(page)
        r1 = row(page, 1)
        assert r1.locator(".pcx-pending.pcx-lit").count() == 0
        r1.locator(".pcx-mask").click()  # driver left it unmasked: this masks it
        page.wait_for_selector(".pcx-log >> text=mask(1)")
        assert r1.locator(".pcx-mask").inner_text().strip() == "masked"
        r1.locator(".pcx-trigger").click()
        r1.locator(".pcx-pending.pcx-lit").wait_for()
        page.wait_for_selector(".pcx-log >> text=PBA bit 1 set, nothing sent")
        assert page.locator(".pcx-pba .pcx-bit.pcx-lit").count() == 1
        assert "0 messages delivered" in text(page, ".pcx-deliveries")
        screenshot(page, "dashboard-msix-pending.png")
        r1.locator(".pcx-mask").click()  # unmask: the pending message goes out once
        page.wait_for_selector(".pcx-log >> text=PBA bit 1 cleared")
        assert r1.locator(".pcx-pending.pcx-lit").count() == 0
        assert page.locator(".pcx-pba .pcx-bit.pcx-lit").count() == 0
        assert "1 message delivered" in text(page, ".pcx-deliveries")
        screenshot(page, "dashboard-msix-delivered.png")


def assert_no_button_text_cut(page) -> None:
    """Every visible button of the MSI-X view shows its whole label (ipywidgets cut long ones with an
    ellipsis: then the text overflows the button's box)."""
    cut = page.evaluate("""() => Array.from(document.querySelectorAll('.pcx-msix button'))
        .filter(b => b.offsetParent !== null && b.scrollWidth > b.clientWidth + 1)
        .map(b => [b.innerText, b.scrollWidth, b.clientWidth])""")
    assert cut == [], cut


def test_a_capture_cannot_be_written_and_the_page_says_why(tmp_path, corpus):
    dump = corpus / "vm" / "virtio-msix-only-vm.lspci"
    with dashboard(str(dump), tmp_path) as url, chromium_page() as page:
        page.goto(url)
        page.wait_for_selector(".pcx-explorer", timeout=90_000)
        page.locator(".pcx-device-browser select").select_option(label=page.locator(
            ".pcx-device-browser option", has_text="00:03.0").inner_text())
        page.get_by_role("tab", name="MSI-X").click()
        page.wait_for_selector(".pcx-msix")
        enable = page.locator(".pcx-msix button", has_text="Enable")
        assert enable.is_disabled()
        assert "read-only" in (enable.get_attribute("title") or "")
        assert "cannot read BAR 0" in text(page, ".pcx-msix")
        # no rows, so no paging: the arrows are not shown empty beside nothing (the status line says why)
        expect(page.locator(".pcx-msix button[title='next page']")).to_be_hidden()
        screenshot(page, "dashboard-readonly-dump.png")


def test_2048_vectors_page_to_the_last_and_light_its_pending_bit(tmp_path):
    with dashboard("sim:nic,vectors=2048,driver", tmp_path, "--page-size=32") as url, chromium_page() as page:
        page.goto(url)
        page.wait_for_selector(".pcx-explorer", timeout=90_000)
        page.get_by_role("tab", name="MSI-X").click()
        page.wait_for_selector(".pcx-msix .pcx-row")
        assert page.locator(".pcx-msix .pcx-row:visible").count() == 32
        nxt = page.locator(".pcx-msix button[title='next page']")
        for _ in range(63):
            nxt.click()
        page.wait_for_selector(".pcx-msix >> text=vectors 2016–2047 of 2048 (page 64/64)")
        expect(nxt).to_be_disabled()
        last = row(page, 2047)
        last.locator(".pcx-mask").click()
        page.wait_for_selector(".pcx-log >> text=mask(2047)")
        last.locator(".pcx-trigger").click()
        last.locator(".pcx-pending.pcx-lit").wait_for()
        expect(page.locator(".pcx-pba .pcx-bit.pcx-lit")).to_have_count(1)
        assert "PBA: 1 of 2048 bits set" in text(page, ".pcx-msix")
        screenshot(page, "dashboard-2048-vectors.png")


def test_dashboard_lab_fallback_renders_the_explorer_in_jupyterlab(tmp_path):
    argv = [sys.executable, "-m", "pciexplore", "dashboard", "sim:nic,driver", "--lab", "--no-browser"]
    with serve(argv, tmp_path) as (port, token), chromium_page() as page:
        lab_run_all(page, f"http://127.0.0.1:{port}/lab/tree/pciexplore-dashboard.ipynb?token={token}")
        page.wait_for_selector(".pcx-explorer", timeout=90_000)
        assert "82574L" in text(page, ".pcx-device-browser")
        assert page.locator(".pcx-chain .pcx-link").count() == 6  # header + PM, MSI, Express, MSI-X, AER


def test_live_host_interrupts_tab_plots_each_vector(tmp_path):
    fns = [f for f in pciexplore.open() if f.kernel and f.kernel.msi_irqs] if Path("/sys/bus/pci").is_dir() else []
    if not fns:
        pytest.skip("no function with MSI/MSI-X IRQs on this host")
    fn = fns[0]
    with dashboard("sysfs", tmp_path) as url, chromium_page() as page:
        page.goto(url)
        page.wait_for_selector(".pcx-explorer", timeout=90_000)
        select = page.locator(".pcx-device-browser select")
        labels = select.evaluate("e => Array.from(e.options).map(o => o.text)")
        select.select_option(label=next(o for o in labels if o.replace("\xa0", " ").startswith(fn.address.short)))
        page.get_by_role("tab", name="Interrupts").click()
        page.wait_for_selector(".pcx-irqplot svg")
        page.locator(".pcx-explorer button", has_text="sample").click()
        page.wait_for_selector(".pcx-irqplot >> text=2 samples")
        expect(page.locator(".pcx-irqplot polyline")).to_have_count(len(fn.kernel.msi_irqs))
        screenshot(page, "dashboard-live-interrupts.png")


def _kernels_of(token: str) -> int:
    """Kernels of the server holding this token (they inherit its JUPYTER_TOKEN)."""
    mark, n = f"JUPYTER_TOKEN={token}".encode(), 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"ipykernel_launcher" not in f.read():
                    continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                n += mark in f.read().split(b"\0")
        except OSError:
            continue
    return n


def test_visits_leave_no_kernel_behind_and_the_page_needs_no_network(tmp_path):
    """Five visits to the bundled capture with every request off 127.0.0.1 refused (no network): the
    page works, its Font Awesome icons draw, and once the pages are closed their kernels end, leaving
    the one preheated kernel that waits for the next visit."""
    from pciexplore.commands.dashboard import CULL_AFTER, CULL_EVERY

    data = Path(__file__).resolve().parents[1] / "data" / "default.json"
    outside: list[str] = []
    with dashboard(str(data), tmp_path) as url:
        token = url.split("token=", 1)[1]
        for _ in range(5):
            with chromium_page() as page:
                page.route(lambda u: not u.startswith("http://127.0.0.1"),
                           lambda route: (outside.append(route.request.url), route.abort()))
                page.goto(url)
                page.wait_for_selector(".pcx-explorer", timeout=120_000)
                page.locator(".pcx-device-browser select").select_option(label=page.locator(
                    ".pcx-device-browser option", has_text="00:03.0").inner_text())
                page.get_by_role("tab", name="MSI-X").click()
                icon = page.locator(".pcx-msix .fa-lock, .pcx-msix .fa-unlock").first
                icon.wait_for()
                loaded = page.evaluate("document.fonts.ready.then(() => Array.from(document.fonts)"
                                       ".filter(f => f.family.includes('Awesome') && f.status === 'loaded')"
                                       ".map(f => f.family))")
                assert loaded, "no Font Awesome face loaded from the server"
                assert icon.evaluate("e => getComputedStyle(e, '::before').content") not in ("none", "normal", '""')
        deadline = time.monotonic() + CULL_AFTER + 4 * CULL_EVERY + 30
        while _kernels_of(token) > 1 and time.monotonic() < deadline:
            time.sleep(2)
        assert _kernels_of(token) == 1  # the pool's preheated kernel, no kernel per visit
    assert outside == []


FIT_SOURCES = ["default.json", "sim:nic,driver", "qemu:e1000e"]


def fit_spec(source: str) -> str:
    if source.startswith("qemu:") and not Path("/usr/bin/qemu-system-x86_64").exists():
        pytest.skip("needs qemu-system-x86_64")
    return str(Path(__file__).resolve().parents[1] / "data" / source) if source.endswith(".json") else source


def shot_name(source: str) -> str:
    return source.split(",")[0].replace(":", "-")


@pytest.mark.parametrize("source", FIT_SOURCES)
def test_every_tab_fits_at_both_sizes(tmp_path, source):
    """What a person sees at 1280x800 and 1920x1080, in every tab of the explorer: no button or table
    cut, no two panels of a row on top of each other, no page wider than the window."""
    with dashboard(fit_spec(source), tmp_path) as url, chromium_page(1280, 800) as page:
        page.goto(url)
        page.wait_for_selector(".pcx-explorer", timeout=120_000)
        pick_ethernet(page)
        assert_every_tab_fits(page, source, f"fit-{shot_name(source)}")


@pytest.mark.parametrize("source", FIT_SOURCES)
def test_every_tab_fits_in_jupyterlab_with_the_file_browser_open(tmp_path, source):
    """The explorer in a notebook (the dashboard's own one-cell notebook) in JupyterLab with its file
    browser open, at both sizes, every tab: nothing cut, nothing overlapping, the explorer inside its
    output area and clear of the file browser."""
    from pciexplore.commands.dashboard import notebook

    root = tmp_path / "nb"
    root.mkdir()
    (root / "explorer.ipynb").write_text(json.dumps(notebook(fit_spec(source), 16)))
    with jupyterlab(root, tmp_path) as (base, token), chromium_page(1280, 800) as page:
        lab_run_all(page, f"{base}/lab/tree/explorer.ipynb?token={token}")
        page.wait_for_selector(".pcx-explorer", timeout=120_000)
        if not page.locator("#filebrowser").is_visible():
            page.locator(".jp-SideBar [data-id='filebrowser']").click()
        expect(page.locator("#filebrowser")).to_be_visible()
        pick_ethernet(page)
        assert_every_tab_fits(page, f"JupyterLab {source}", f"lab-{shot_name(source)}", beside=("#filebrowser",))


def test_interrupt_path_picture_marks_the_one_message_that_disagrees(tmp_path):
    """The interrupt path of a sysfs-like tree whose IRQ 53 message names APIC 1 while the kernel made it
    effective on CPU 0 (APIC 0), drawn in Chromium: five lanes of six boxes, exactly one box in the legend's
    "disagrees" colour (IRQ 53's CPU box), and the note saying why.  Its screenshot is docs/screenshots/irq-path.png."""
    from test_irq_path import nic_tree

    from pciexplore.msi.path import interrupt_paths
    from pciexplore.render.irqpath import paths_html

    devices, _ = nic_tree(tmp_path)
    with chromium_page(1100, 420) as page:
        page.set_content(f"<html><body style='font-family:sans-serif'>"
                         f"{paths_html(interrupt_paths(pciexplore.open(str(devices))))}</body></html>")
        seen = page.evaluate("""() => {
            const legend = Array.from(document.querySelectorAll('.pcx-irqpath span'))
                .find(s => s.textContent.includes('disagrees'));
            const probe = document.createElement('span');
            probe.style.color = legend.style.color;  // the same colour as an SVG stroke, normalised
            const colour = probe.style.color;
            const boxes = Array.from(document.querySelectorAll("svg[aria-label='interrupt paths'] g"))
                .filter(g => g.querySelector('rect'));
            const marked = boxes.filter(g => { const r = g.querySelector('rect');
                probe.style.color = r.getAttribute('stroke'); return probe.style.color === colour; });
            return {boxes: boxes.length, marked: marked.map(g => Array.from(g.querySelectorAll('text'))
                .map(t => t.textContent))};
        }""")
        assert seen["boxes"] == 30, seen  # 5 vectors x device, entry, message, CPU, IRQ, handler
        assert seen["marked"] == [["CPU 0 (APIC 0)", "msg \u2192 APIC 1"]], seen  # entry 3's, IRQ 53
        expect(page.get_by_text("IRQ 53: message goes to APIC 1")).to_be_visible()
        screenshot(page, "irq-path.png")

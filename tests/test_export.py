"""`export`: lspci -xxxx text that real `lspci -F` decodes exactly like the original, and a static HTML
report that is self-contained and runs nothing, whatever the annotations say (checked in Chromium)."""

from __future__ import annotations

import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import corpus_dumps

import pciexplore
from pciexplore.address import Address
from pciexplore.capture import open_capture, take
from pciexplore.commands.export import lspci_text
from pciexplore.render.html import render_html
from pciexplore.render.lspci import LspciOptions, render_source
from pciexplore.sources.fake_sysfs import build_tree

Q35 = "qemu/q35-e1000e-nvme-virtio.lspci"
E1000E = Address(0, 1, 0, 0)
REPEATED = "atheros-ath9k-ath10k-turris-x.lspci"  # lists 01:00.0 and 02:00.0 twice (two snapshots)


def _lspci(*args: str) -> str:
    return subprocess.run(["lspci", *args], capture_output=True, text=True, check=True).stdout


@pytest.mark.lspci
@pytest.mark.parametrize("dump", corpus_dumps(), ids=lambda p: p.name)
def test_lspci_reads_the_export_of_a_capture_as_the_original(dump, tmp_path):
    cap = open_capture(take(pciexplore.open(dump)).save(tmp_path / "c.json"))
    out = tmp_path / "export.lspci"
    out.write_text(lspci_text(cap))
    if dump.name == REPEATED:
        assert "01:00.0" in cap.metadata["extra"]["repeated"]  # said, not silently dropped
        pytest.skip("a capture holds each function once; this dump has two snapshots of each")
    reference = _lspci("-F", str(dump), "-vvv", "-nn")
    assert _lspci("-F", str(out), "-vvv", "-nn") == reference
    # and the capture itself, opened as a source, decodes to lspci's text of the original
    assert render_source(cap, LspciOptions(verbose=3, numeric=2)) == reference


@pytest.mark.lspci
def test_live_host_capture_exports_what_lspci_dumps(tmp_path):
    cap = open_capture(take(pciexplore.open("sysfs")).save(tmp_path / "live.json"))
    # the capture keeps the kernel's view (driver, ids), so it reads like live lspci, -k included
    assert render_source(cap, LspciOptions(verbose=3, numeric=2, kernel=True)) == _lspci("-vvv", "-nn", "-k")
    (tmp_path / "export.lspci").write_text(lspci_text(cap))
    (tmp_path / "lspci.lspci").write_text(_lspci("-xxxx"))
    assert _lspci("-F", str(tmp_path / "export.lspci"), "-vvv") == _lspci("-F", str(tmp_path / "lspci.lspci"), "-vvv")


# -- HTML -------------------------------------------------------------------------------------------------
EVIL = ("<script>window.__pwned = 1; document.title = 'pwned'</script>"
        "<img src=x onerror=\"window.__pwned = 2; document.title = 'pwned'\">"
        "<svg onload=\"window.__pwned = 3\"></svg><a href=\"javascript:window.__pwned=4\">click</a>"
        "\"'><iframe srcdoc=\"<script>parent.__pwned=5</script>\"></iframe><b>markup</b>")


def _fake_e1000e(corpus, tmp_path) -> Path:
    cfg = pciexplore.open(corpus / Q35).function(E1000E).config
    table = b"".join((0xFEE00000).to_bytes(4, "little") + bytes(4) + (0x4020 + n).to_bytes(4, "little")
                     + int(n == 2).to_bytes(4, "little") for n in range(5))
    bar3 = bytearray(0x4000)
    bar3[: len(table)] = table
    bar3[0x2000] = 0x10  # vector 4 pending
    return build_tree(tmp_path / "sys", [(E1000E, cfg)], bar_sizes={E1000E: {0: 0x20000, 1: 0x20000, 3: 0x4000}},
                      bar_contents={(E1000E, 3): bytes(bar3)})


@pytest.fixture
def evil_report(corpus, tmp_path) -> Path:
    cap = take(pciexplore.open(_fake_e1000e(corpus, tmp_path)), title="report " + EVIL, description=EVIL)
    cap.annotate(E1000E, "PCI_MSIX_FLAGS_MASKALL", EVIL, author=EVIL[:200], tags=["<script>x</script>", "msix"])
    cap.annotate(E1000E, (0, 32), "first entry " + EVIL, bar=3, author="eve")
    path = tmp_path / "report.html"
    path.write_text(render_html(open_capture(cap.save(tmp_path / "c.json"))), encoding="utf-8")
    return path


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs


def test_html_is_static_self_contained_and_complete(evil_report):
    text = evil_report.read_text()
    page = _Page()
    page.feed(text)
    assert not {"script", "img", "svg", "iframe", "object", "embed", "link"} & set(page.tags)
    assert not [k for k, _ in page.attrs if k.startswith("on") or k in ("src", "srcdoc")]
    assert all(v.startswith("#") for k, v in page.attrs if k == "href")  # only links inside the page
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    assert "&lt;script&gt;window.__pwned = 1" in text
    # what the report shows: lspci text, field table, highlighted note, MSI-X table with mask/pending
    assert "MSI-X: Enable- Count=5 Masked-" in text
    assert "PCI_MSIX_FLAGS_MASKALL" in text and 'class="note"' in text
    rows = re.findall(r"<tr><td>(\d)</td>.*?<td>(yes|no)</td>", text)
    assert rows == [("0", "no"), ("1", "no"), ("2", "no"), ("3", "no"), ("4", "yes")]
    assert text.count("Masked+") >= 1  # entry 2's Vector Control mask bit
    # Intel SDM 11.11: address 0xfee00000 is APIC 0, data 0x4022 vector 0x22 with fixed delivery
    assert "APIC 0 (physical), vector 0x22, fixed" in text


def _detect(browser, url: str) -> dict:
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(url)
    page.wait_for_timeout(300)
    found = {
        "pwned": page.evaluate("() => window.__pwned === undefined ? null : window.__pwned"),
        "title": page.title(),
        "scripts": page.evaluate("() => document.querySelectorAll('script, iframe, img, svg').length"),
        "text": page.evaluate("() => document.body.innerText"),
        "other_requests": [u for u in requests if u != url],
        "dialogs": dialogs,
    }
    page.close()
    return found


@pytest.mark.browser
def test_annotations_run_nothing_in_chromium(evil_report, tmp_path):
    from playwright.sync_api import sync_playwright

    control = tmp_path / "control.html"  # the same payload unescaped: proves the detection works
    control.write_text(f"<!DOCTYPE html><html><head><title>control</title></head><body>{EVIL}</body></html>")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            unsafe = _detect(browser, control.as_uri())
            report = _detect(browser, evil_report.as_uri())
        finally:
            browser.close()
    assert unsafe["pwned"] is not None and unsafe["scripts"] > 0
    assert report["pwned"] is None
    assert report["title"].startswith("report <script>window.__pwned = 1")  # shown as text, not run
    assert report["scripts"] == 0 and report["dialogs"] == []
    assert report["other_requests"] == []  # opened offline: nothing fetched but the page itself
    assert "<script>window.__pwned = 1; document.title = 'pwned'</script>" in report["text"]
    assert "first entry <script>" in report["text"]  # the BAR annotation is shown next to its entry


def test_cli_export_writes_both(corpus, tmp_path):
    from pciexplore.cli import main

    assert main(["export", str(corpus / Q35), "--lspci", str(tmp_path / "x.lspci"), "--html",
                 str(tmp_path / "x.html")]) == 0
    assert (tmp_path / "x.lspci").read_text().startswith("00:00.0 ")
    assert (tmp_path / "x.html").read_text().startswith("<!DOCTYPE html>")
    assert main(["export", str(corpus / Q35)]) == 1  # nothing asked: one-line error


def test_hex_links_lead_to_their_note(corpus, tmp_path):
    cap = take(pciexplore.open(_fake_e1000e(corpus, tmp_path)))
    cap.annotate(E1000E, (0, 16), "entry zero", bar=3)
    cap.annotate(E1000E, "PCI_COMMAND_MASTER", "bus master")
    text = render_html(cap)
    link = re.search(r'<td class="note" title="bus master"><a href="#([^"]+)">', text)
    assert link is not None
    item = re.search(rf'<li id="{link.group(1)}">(.*?)</li>', text)
    assert item is not None and "bus master" in item.group(1)


@pytest.mark.lspci
def test_every_captured_byte_is_exported_even_odd_lengths(corpus, tmp_path):
    # 100 bytes of a virtio function: its vendor capabilities at 0x40 and 0x50 lie past lspci's usual 64
    cfg = pciexplore.open(corpus / "vm" / "virtio-msix-only-vm.lspci").function("00:03.0").config[:100]
    (tmp_path / "cut.bin").write_bytes(cfg)
    (tmp_path / "cut.lspci").write_text(lspci_text(take(pciexplore.open(tmp_path / "cut.bin"))))
    text = _lspci("-F", str(tmp_path / "cut.lspci"), "-vvv", "-xxx")
    assert "Capabilities: [40] Vendor Specific Information: VirtIO: CommonCfg" in text
    assert "Capabilities: [50] Vendor Specific Information: VirtIO: ISR" in text

"""The MSI-X notebook (02) in real Chromium, served by Voilà from a temporary copy: the story runs on the
server, then a reader's click on a step button repeats it (trigger vector 2 while masked: its pending dot
lights and the PBA grid shows the bit; unmask: the bit clears)."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("playwright")
pytest.importorskip("voila")

from browser.session import REPO, chromium_page, screenshot, voila  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.browser


def test_msix_notebook_steps_are_buttons_that_work(tmp_path):
    root = tmp_path / "nb"
    root.mkdir()
    notebook = root / "02-msix-explained.ipynb"
    shutil.copy(REPO / "notebooks" / notebook.name, notebook)
    with voila(notebook, tmp_path) as url, chromium_page(height=1400) as page:
        page.goto(url)
        page.wait_for_selector(".pcx-step >> text=Disable MSI-X", timeout=120_000)
        steps = page.locator(".pcx-step")
        # program, Function Mask on, Enable, unmask 1, trigger 1, Function Mask off, trigger 1, mask/trigger/unmask 2, disable
        assert steps.count() == 11
        # re-enable, then mask, trigger and unmask vector 2 with the notebook's own buttons
        page.locator(".pcx-msix button", has_text="Enable").first.click()
        page.locator(".pcx-step", has_text="mask vector 2").first.click()
        page.locator(".pcx-step", has_text="trigger vector 2").first.click()
        row2 = page.locator(".pcx-msix").first.locator(".pcx-row").nth(2)
        row2.locator(".pcx-pending.pcx-lit").wait_for()
        page.wait_for_selector(".pcx-pba .pcx-bit.pcx-lit")
        screenshot(page, "notebook-02-pending.png")
        page.locator(".pcx-step", has_text="unmask vector 2").first.click()
        expect(page.locator(".pcx-msix .pcx-pending.pcx-lit")).to_have_count(0)
        expect(page.locator(".pcx-pba .pcx-bit.pcx-lit")).to_have_count(0)

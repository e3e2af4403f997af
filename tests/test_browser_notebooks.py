"""The MSI-X notebook (02) in real Chromium, from a temporary copy, served by Voilà (the story runs on the
server) and opened in JupyterLab (Run All Cells); then a reader's clicks on the notebook's own buttons
repeat a step of it: trigger vector 2 while masked lights its pending dot and PBA bit, unmask clears them."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("playwright")
pytest.importorskip("voila")

from browser.session import REPO, chromium_page, jupyterlab, lab_run_all, screenshot, voila  # noqa: E402
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
        press_mask_trigger_unmask(page, "notebook-02-pending.png")


def press_mask_trigger_unmask(page, shot: str) -> None:
    """Re-enable MSI-X with the table's switch, then the step buttons: mask, trigger, unmask vector 2."""
    page.locator(".pcx-msix button", has_text="Enable").first.click()
    page.locator(".pcx-step", has_text="mask vector 2").first.click()
    page.locator(".pcx-step", has_text="trigger vector 2").first.click()
    # the live table at the end follows the device (no step tells it to); the step records its moment
    row2 = page.locator(".pcx-msix").first.locator(".pcx-row").nth(2)
    row2.locator(".pcx-pending.pcx-lit").wait_for()
    page.wait_for_selector(".pcx-msix .pcx-pba .pcx-bit.pcx-lit")
    trigger_step = page.locator(".widget-vbox", has=page.locator(".pcx-step", has_text="trigger vector 2")).last
    expect(trigger_step.locator(".pcx-snapshot .pcx-pba .pcx-bit.pcx-lit")).to_have_count(1)
    row2.scroll_into_view_if_needed()
    screenshot(page, shot)
    page.locator(".pcx-step", has_text="unmask vector 2").first.click()
    expect(page.locator(".pcx-msix .pcx-pending.pcx-lit")).to_have_count(0)
    expect(page.locator(".pcx-msix .pcx-pba .pcx-bit.pcx-lit")).to_have_count(0)
    expect(trigger_step.locator(".pcx-snapshot .pcx-pba .pcx-bit.pcx-lit")).to_have_count(1)  # still its moment


def test_msix_notebook_in_jupyterlab(tmp_path):
    root = tmp_path / "nb"
    root.mkdir()
    shutil.copy(REPO / "notebooks" / "02-msix-explained.ipynb", root)
    with jupyterlab(root, tmp_path) as (base, token), chromium_page(height=1200) as page:
        lab_run_all(page, f"{base}/lab/tree/02-msix-explained.ipynb?token={token}")
        page.wait_for_selector(".pcx-step >> text=Disable MSI-X", timeout=90_000)
        press_mask_trigger_unmask(page, "jupyterlab-02-pending.png")

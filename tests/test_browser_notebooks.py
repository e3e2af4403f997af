"""The MSI-X notebook (02) in real Chromium, from a temporary copy, served by Voilà (the story runs on the
server) and opened in JupyterLab (Run All Cells); then a reader's clicks on the notebook's own buttons
repeat a step of it: trigger vector 2 while masked lights its pending dot and PBA bit, unmask clears them."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

pytest.importorskip("playwright")
pytest.importorskip("voila")

from browser.session import REPO, SCREENSHOTS, chromium_page, jupyterlab, lab_run_all, screenshot, voila  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the module (a launch takes 2-4 s on this machine); each test opens its own page."""
    with chromium_page() as page:
        yield page.context.browser


@contextmanager
def new_page(browser, width: int = 1400, height: int = 1000) -> Iterator:
    """A page in a context of its own (no cookies or storage from another test), closed at the end."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        page.context.close()


def test_msix_notebook_steps_are_buttons_that_work(browser, tmp_path):
    root = tmp_path / "nb"
    root.mkdir()
    notebook = root / "02-msix-explained.ipynb"
    shutil.copy(REPO / "notebooks" / notebook.name, notebook)
    with voila(notebook, tmp_path) as url, new_page(browser, height=1400) as page:
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
    expect(row2).to_be_in_viewport()
    screenshot(page, shot)
    page.locator(".pcx-step", has_text="unmask vector 2").first.click()
    expect(page.locator(".pcx-msix .pcx-pending.pcx-lit")).to_have_count(0)
    expect(page.locator(".pcx-msix .pcx-pba .pcx-bit.pcx-lit")).to_have_count(0)
    expect(trigger_step.locator(".pcx-snapshot .pcx-pba .pcx-bit.pcx-lit")).to_have_count(1)  # still its moment


def test_msix_notebook_in_jupyterlab(browser, tmp_path):
    root = tmp_path / "nb"
    root.mkdir()
    shutil.copy(REPO / "notebooks" / "02-msix-explained.ipynb", root)
    with jupyterlab(root, tmp_path) as (base, token), new_page(browser, height=1200) as page:
        lab_run_all(page, f"{base}/lab/tree/02-msix-explained.ipynb?token={token}")
        page.wait_for_selector(".pcx-step >> text=Disable MSI-X", timeout=90_000)
        press_mask_trigger_unmask(page, "jupyterlab-02-pending.png")


#: every interrupt-path picture on the page, checked in the browser's own layout (its fonts): each line of
#: text inside its box, each box inside the SVG's viewBox, each SVG inside the page and not shrunk below
#: 95% of its size (text would get small), no horizontal scrolling of the output around it
PICTURE_PROBLEMS = """() => {
  const out = [];
  const pageWidth = document.documentElement.clientWidth;
  document.querySelectorAll('svg.pcx-hops').forEach((svg, n) => {
    const vb = svg.viewBox.baseVal, box = svg.getBoundingClientRect();
    if (box.right > pageWidth + 0.5 || box.left < -0.5) out.push(`picture ${n}: outside the page`);
    if (box.width < 0.95 * vb.width) out.push(`picture ${n}: shrunk to ${box.width} of ${vb.width}px`);
    for (let el = svg.parentElement; el && el !== document.body; el = el.parentElement) {
      if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible')
        { out.push(`picture ${n}: scrolls sideways in ${el.className}`); break; }
    }
    svg.querySelectorAll('g.pcx-hop').forEach(g => {
      const r = g.querySelector('rect').getBBox();
      if (r.x < vb.x || r.y < vb.y || r.x + r.width > vb.x + vb.width || r.y + r.height > vb.y + vb.height)
        out.push(`picture ${n}: box ${g.dataset.hop} outside the viewBox`);
      g.querySelectorAll('text').forEach(t => {
        const b = t.getBBox();
        if (b.x < r.x || b.x + b.width > r.x + r.width - 2 || b.y < r.y || b.y + b.height > r.y + r.height)
          out.push(`picture ${n}: "${t.textContent}" (${b.width.toFixed(1)}px) leaves its box`);
      });
    });
    svg.querySelectorAll('text.pcx-lane-label, text.pcx-lane-note').forEach(t => {
      const b = t.getBBox();
      if (b.x + b.width > vb.x + vb.width) out.push(`picture ${n}: label "${t.textContent}" cut off`);
    });
  });
  return out;
}"""


@pytest.fixture(scope="module")
def notebook_07(browser, tmp_path_factory):
    """Notebook 07 served by Voilà from a temporary copy and loaded once in Chromium, all eleven pictures
    drawn; each size below resizes this one page (the browser lays it out again) instead of serving and
    running the notebook once per size."""
    tmp = tmp_path_factory.mktemp("notebook-07")
    root = tmp / "nb"
    root.mkdir()
    notebook = root / "07-where-does-an-interrupt-go.ipynb"
    shutil.copy(REPO / "notebooks" / notebook.name, notebook)
    with voila(notebook, tmp) as url, new_page(browser) as page:
        page.goto(url)
        page.locator("svg.pcx-hops").nth(10).wait_for(timeout=120_000)
        yield page


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (1920, 1080)])
def test_interrupt_path_pictures_fit_at_1280_and_1920(notebook_07, width, height):
    """Notebook 07 served by Voilà: all eleven pictures drawn, nothing clipped at either size."""
    page = notebook_07
    page.set_viewport_size({"width": width, "height": height})
    assert page.evaluate("() => [window.innerWidth, window.innerHeight]") == [width, height]  # laid out at this size
    assert page.locator("svg.pcx-hops").count() == 11
    assert page.evaluate(PICTURE_PROBLEMS) == []
    if width == 1280:  # the MSI-X vector's way, delivered, as a reader sees it on a laptop screen
        page.get_by_text("Trigger vector 3 and decode").evaluate("e => e.scrollIntoView({block: 'start'})")
        page.evaluate("window.scrollBy(0, -16)")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "notebook-07-msix-path.png"))

"""What a person sees of the explorer, measured in the page: every tab visited, no button or table cut, no
two panels of a row on top of each other, the explorer inside the box that holds it (Voilà's page, or
JupyterLab's output area beside its file browser)."""

from __future__ import annotations

from .session import screenshot

TABS = ["Capabilities", "MSI-X", "Interrupts", "Virtio", "Doctor"]
SIZES = [(1280, 800), (1920, 1080)]

# cut: a box whose content is wider than the box (ipywidgets' ellipsis on a button, a table under a
# scrollbar); overlaps: two children of one row whose rectangles intersect; outside: the explorer sticking
# out of the element that holds it (the page in Voilà, the output area in JupyterLab), or running under a
# panel beside it (`beside`: JupyterLab's file browser)
LAYOUT_CHECK = """(beside) => {
    const visible = e => e.offsetParent !== null && e.getClientRects().length > 0;
    const cut = Array.from(document.querySelectorAll('.pcx-explorer button, .pcx-explorer .pcx-fields, .pcx-explorer .pcx-hex, .pcx-device-browser'))
        .filter(e => visible(e) && e.scrollWidth > e.clientWidth + 1)
        .map(e => (e.innerText || e.className).slice(0, 40) + ` ${e.scrollWidth}>${e.clientWidth}`);
    const hit = (a, b) => a.width && b.width && a.left < b.right - 1 && b.left < a.right - 1
                          && a.top < b.bottom - 1 && b.top < a.bottom - 1;
    const overlaps = [];
    for (const box of document.querySelectorAll('.pcx-explorer .widget-hbox')) {
        const kids = Array.from(box.children).filter(visible).map(k => [k, k.getBoundingClientRect()]);
        for (let i = 0; i < kids.length; i++) for (let j = i + 1; j < kids.length; j++)
            if (hit(kids[i][1], kids[j][1]))
                overlaps.push([kids[i][0].className.slice(0, 40), kids[j][0].className.slice(0, 40)]);
    }
    const ex = document.querySelector('.pcx-explorer');
    const r = ex.getBoundingClientRect();
    const holder = ex.closest('.jp-OutputArea-output') || document.documentElement;
    const h = holder === document.documentElement ? {left: 0, right: window.innerWidth} : holder.getBoundingClientRect();
    const outside = [];
    if (r.left < h.left - 1 || r.right > h.right + 1) outside.push(`explorer ${r.left}-${r.right} in ${h.left}-${h.right}`);
    if (holder.scrollWidth > holder.clientWidth + 1) outside.push(`holder scrolls ${holder.scrollWidth}>${holder.clientWidth}`);
    for (const sel of beside || []) {
        const panel = document.querySelector(sel);
        if (!panel || !visible(panel)) outside.push(`${sel} not shown`);
        else if (hit(panel.getBoundingClientRect(), r)) outside.push(`explorer under ${sel}`);
    }
    return {cut, overlaps, outside};
}"""


def pick_ethernet(page) -> None:
    """Choose the source's first Ethernet function in the device list (else its first function)."""
    select = page.locator(".pcx-device-browser select")
    labels = select.evaluate("e => Array.from(e.options).map(o => o.text)")
    label = next((lab for lab in labels if "Ethernet" in lab), labels[0])
    select.select_option(label=label)
    # the explorer names the function in its heading once every tab shows it
    page.locator(".pcx-heading", has_text=label.replace("\xa0", " ").split()[0]).first.wait_for(timeout=60_000)


def assert_every_tab_fits(page, where: str, shot: str, beside: tuple[str, ...] = ()) -> None:
    """At 1280x800 and 1920x1080, visit every tab of the explorer on `page` and measure it; a screenshot of
    each is `shot`-WIDTH-TAB.png.  `beside`: selectors of panels that must be shown and not overlapped."""
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        for tab in TABS:
            page.locator(".pcx-explorer").get_by_role("tab", name=tab).click()
            page.wait_for_timeout(500)
            seen = page.evaluate(LAYOUT_CHECK, list(beside))
            assert seen == {"cut": [], "overlaps": [], "outside": []}, (f"{where} {width}x{height} {tab}", seen)
            screenshot(page, f"{shot}-{width}-{tab}.png".replace(" ", ""))

"""The dashboard as a person uses it, in Debian's Chromium (Playwright, /usr/bin/chromium), measured in one
run: the load of the bundled capture (page asked for -> explorer drawn; right after the command started and
once its preheated kernel is ready, beside the same Voila page drawing one widget), a click on a vector's mask button
-> the row redrawn (median of 25 clicks), and a page of a 2048-vector table (next page -> its rows drawn).
Goals (issue 13): click <= 100 ms, page <= 150 ms, load <= 2 s.

    python bench/dashboard.py [LOADS [PARTS]]     (default 5 loads of each kind; PARTS: load,click,page)

The load is also measured on a floor page (one HTML widget) for each candidate page template (CANDIDATES),
so the ratio of the explorer to the floor, and of one template to another, is read in one run.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from browser.session import chromium_page, dashboard, serve  # noqa: E402

PREHEAT = 12  # seconds for the dashboard's preheated kernel to have the explorer drawn (a busy host: more)


def timed_load(url: str, again: list[float] | None = None) -> float:
    """Seconds from asking for the page to the explorer drawn, in a new browser (nothing cached); with
    `again`, the same browser then visits once more (its cache and compiled scripts kept: a reload, or the
    page opened again while the server runs) and that time is appended there."""
    with chromium_page() as page:
        t0 = time.perf_counter()
        page.goto(url)
        page.wait_for_selector(".pcx-explorer", timeout=120_000)
        first = time.perf_counter() - t0
        if again is not None:
            time.sleep(PREHEAT)  # the pool's next kernel
            t0 = time.perf_counter()
            page.goto(url)
            page.wait_for_selector(".pcx-explorer", timeout=120_000)
            again.append(time.perf_counter() - t0)
        return first


def next_sessions(spec: str, tmp: Path, n: int) -> list[float]:
    """Loads in a browser that keeps its profile, each of a new dashboard session on one port (as
    `pciexplore dashboard` run again, on its default port, is for a person's browser): the first session
    fills the cache and is not counted."""
    from browser.session import free_port

    port, profile, out = free_port(), tmp / "profile", []
    for i in range(n + 1):
        (tmp / f"n{i}").mkdir(parents=True, exist_ok=True)
        with dashboard(spec, tmp / f"n{i}", port=port) as url, chromium_page(profile=profile) as page:
            time.sleep(PREHEAT)
            t0 = time.perf_counter()
            page.goto(url)
            page.wait_for_selector(".pcx-explorer", timeout=120_000)
            if i:
                out.append(time.perf_counter() - t0)
    return out


def load(spec: str, tmp: Path, after_start: bool, again: list[float] | None = None) -> float:
    """One visit to a dashboard: right after the command started (what its own browser tab sees), or once
    its preheated kernel is ready (any later visit); `again`: see timed_load."""
    tmp.mkdir(parents=True, exist_ok=True)
    with dashboard(spec, tmp) as url:
        if not after_start:
            time.sleep(PREHEAT)
        return timed_load(url, again)


#: page templates measured side by side on the floor notebook: (Voila template, VoilaConfiguration
#: added to the dashboard's own).  "lab" is what the dashboard serves.
CANDIDATES = {
    "lab": ("pciexplore", {}),
    "classic": ("pciexplore-classic", {}),  # bench/voila/templates: Voila's classic without its CDN links
    # the page shows no code (syntax colours) and Voila brings its own widget manager (widgets-manager8)
    "lab without jupyterlab_pygments and JupyterLab's widget manager":
        ("pciexplore", {"extension_denylist": ["jupyterlab_pygments", "@jupyter-widgets/jupyterlab-manager"]}),
}


@contextmanager
def floor_server(tmp: Path, template: str = "pciexplore", config: dict | None = None) -> Iterator[str]:
    """The same server the dashboard runs (Voila, a preheated kernel; its template unless `template` says
    another, its VoilaConfiguration plus `config`) on a notebook that draws one HTML widget: what any Voila
    page costs before the explorer adds anything."""
    from pciexplore.commands.dashboard import NOTEBOOK, notebook, server_command, server_env

    tmp.mkdir(parents=True, exist_ok=True)
    nb = notebook(None, 16)
    nb["cells"][0]["source"] = "import ipywidgets\nipywidgets.HTML('floor').add_class('pcx-explorer')"
    (tmp / NOTEBOOK).write_text(json.dumps(nb))
    cmd, _ = server_command(tmp, 0, "", False, False)
    settings = json.loads((tmp / "voila.json").read_text())
    settings["VoilaConfiguration"].update(config or {})
    (tmp / "voila.json").write_text(json.dumps(settings))
    cmd = [f"--template={template}" if c.startswith("--template=") else c for c in cmd if not c.startswith("--port=")]
    # the dashboard's template as the dashboard finds it, and the bench's candidates beside it
    os.environ["JUPYTER_PATH"] = os.pathsep.join([server_env("")["JUPYTER_PATH"], str(REPO / "bench")])
    with serve(cmd, tmp) as (port, token):
        time.sleep(PREHEAT)
        yield f"http://127.0.0.1:{port}/?token={token}"


def candidate_loads(tmp: Path, n: int) -> dict[str, list[float]]:
    """n loads of each candidate's floor page, all servers up at once and the loads taken in turn, so a
    change in the host's load touches each the same."""
    out: dict[str, list[float]] = {name: [] for name in CANDIDATES}
    with ExitStack() as stack:
        urls = {name: stack.enter_context(floor_server(tmp / f"floor-{i}", template, config))
                for i, (name, (template, config)) in enumerate(CANDIDATES.items())}
        for _ in range(n):
            for name, url in urls.items():
                out[name].append(timed_load(url))
                time.sleep(2)  # the pool's next kernel: started as the page took the last one
    return out


#: in the page: from the click event (capture phase, before any handler) to the mutation after which
#: `done(arg)` holds -- the click -> updated DOM of the goal, without Playwright's own waits (its click waits
#: for the button to stand still over two frames first; its polling for the result adds up to a frame)
WATCH = """([done, arg]) => { const check = new Function('arg', done);
    window.pcxLatency = new Promise(resolve => document.addEventListener('click', () => {
        const t0 = performance.now();
        const seen = () => { if (check(arg)) { observer.disconnect(); resolve(performance.now() - t0); } };
        const observer = new MutationObserver(seen);
        observer.observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
    }, {capture: true, once: true})); }"""


def timed_click(page, control, done: str, arg: object) -> tuple[float, float]:
    """Click `control`; (seconds from Playwright's click call, seconds in the page) until `done` holds."""
    page.evaluate(WATCH, [done, arg])
    t0 = time.perf_counter()
    control.click()
    inside = page.evaluate("window.pcxLatency") / 1e3
    return time.perf_counter() - t0, inside


MASK_SAYS = ("return document.querySelector(`.pcx-row[data-pcx-vector='${arg[0]}'] .pcx-mask`)"
             ".innerText.trim() === arg[1]")
PAGE_DRAWN = ("return Array.from(document.querySelectorAll('.pcx-msix .pcx-vector'))"
              ".map(e => e.textContent).join() === arg")


def clicks(tmp: Path, n: int = 25) -> tuple[list[float], list[float]]:
    """Mask/unmask vector 1 of the simulated NIC n times: click -> the button says the new state; (as
    Playwright sees it, in the page)."""
    outer, inner = [], []
    tmp.mkdir(parents=True, exist_ok=True)
    with dashboard("sim:nic,driver", tmp) as url, chromium_page() as page:
        page.goto(url)
        page.wait_for_selector(".pcx-explorer", timeout=120_000)
        page.get_by_role("tab", name="MSI-X").click()
        page.wait_for_selector(".pcx-msix .pcx-row")
        row = page.locator(".pcx-row").filter(has=page.locator("text=#1")).first
        row.evaluate("e => e.dataset.pcxVector = '1'")
        button = row.locator(".pcx-mask")
        for _ in range(n):
            want = "unmasked" if button.inner_text().strip() == "masked" else "masked"
            o, i = timed_click(page, button, MASK_SAYS, ["1", want])
            outer.append(o)
            inner.append(i)
    return outer, inner


def pages(tmp: Path, n: int = 20) -> tuple[list[float], list[float]]:
    """Next page of a 2048-vector table, 32 rows a page: click -> every row names its new vector; (as
    Playwright sees it, in the page)."""
    outer, inner = [], []
    tmp.mkdir(parents=True, exist_ok=True)
    with dashboard("sim:nic,vectors=2048,driver", tmp, "--page-size=32") as url, chromium_page() as page:
        page.goto(url)
        page.wait_for_selector(".pcx-explorer", timeout=120_000)
        page.get_by_role("tab", name="MSI-X").click()
        page.wait_for_selector(".pcx-msix .pcx-row")
        nxt = page.locator(".pcx-msix button[title='next page']")
        for p in range(1, n + 1):
            o, i = timed_click(page, nxt, PAGE_DRAWN, ",".join(f"#{v}" for v in range(p * 32, p * 32 + 32)))
            outer.append(o)
            inner.append(i)
    return outer, inner


def load_average() -> str:
    return open("/proc/loadavg").read().split()[0]


def row(label: str, xs: list[float], goal: str, unit: str = "s", ratio_to: list[float] | None = None) -> str:
    scale, fmt = (1e3, "{:.0f} ms") if unit == "ms" else (1, "{:.2f} s")
    ratio = f" | {statistics.median(xs) / statistics.median(ratio_to):.2f}" if ratio_to else " | -"
    return (f"| {label} ({len(xs)}) | {fmt.format(statistics.median(xs) * scale)} | "
            f"{fmt.format(min(xs) * scale)} | {goal}{ratio} |")


PARTS = ("load", "click", "page")


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    parts = sys.argv[2].split(",") if len(sys.argv) > 2 else PARTS
    capture = str(REPO / "data" / "default.json")
    fig: dict[str, list[float]] = {"after start": [], "preheated": [], "again": []}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        before = load_average()
        floors = candidate_loads(tmp, n) if "load" in parts else {}
        for i in range(n if "load" in parts else 0):
            fig["after start"].append(load(capture, tmp / f"s{i}", after_start=True))
            fig["preheated"].append(load(capture, tmp / f"p{i}", after_start=False, again=fig["again"]))
        fig["next session"] = next_sessions(capture, tmp, n) if "load" in parts else []
        c = clicks(tmp / "c") if "click" in parts else ([], [])
        p = pages(tmp / "p") if "page" in parts else ([], [])
        after = load_average()
    print(f"load average {before} at the start, {after} at the end")
    print("| what (how many) | median | best | goal | median / lab floor |")
    print("|---|---|---|---|---|")
    lab = floors.get("lab")
    for name, xs in floors.items():
        print(row(f"floor page (one HTML widget), template {name}", xs, "-", ratio_to=lab))
    if lab:
        print(row("dashboard load of data/default.json, preheated kernel ready", fig["preheated"], "2 s", ratio_to=lab))
        print(row("dashboard load of data/default.json, right after the command started", fig["after start"], "2 s",
                  ratio_to=lab))
        print(row("the same, visited again in the same browser (its cache kept)", fig["again"], "2 s", ratio_to=lab))
        print(row("a new session on the same port, in a browser that visited the last one", fig["next session"],
                  "2 s", ratio_to=lab))
    for what, (outer, inner), goal in (("mask click -> its button says the new state", c, "100 ms"),
                                       ("next page of 2048 vectors -> all 32 rows name their vectors", p, "150 ms")):
        if outer:
            print(row(f"{what}, in the page", inner, goal, "ms"))
            print(row(f"{what}, from Playwright's click call", outer, goal, "ms"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

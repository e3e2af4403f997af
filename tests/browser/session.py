"""A dashboard server started by the test (free localhost port, a token, a temporary root) and a
Chromium page on it, through Playwright for Python with the system's /usr/bin/chromium."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pciexplore.commands.dashboard import free_port, stop_group

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
REPO = Path(__file__).resolve().parents[2]
#: where screenshots go: the committed docs/screenshots/ only when asked (PCIEXPLORE_SCREENSHOTS=docs), so a
#: test run leaves the work tree clean; otherwise a folder under /tmp that a person can open afterwards
SCREENSHOTS = (REPO / "docs" / "screenshots" if os.environ.get("PCIEXPLORE_SCREENSHOTS") == "docs"
               else Path(os.environ.get("TMPDIR", "/tmp")) / "pciexplore-screenshots")


def lab_settings(tmp: Path) -> Path:
    """JupyterLab user settings that answer its "notified about Jupyter news?" question with no, so the
    toast does not cover the page (and no request leaves the machine)."""
    root = tmp / "lab-settings"
    notification = root / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True, exist_ok=True)
    notification.write_text('{"fetchNews": "false", "checkForUpdates": false}')
    return root


TAG = "PCIEXPLORE_TEST_SERVER"  # every process a test server starts inherits it: how leftovers are found


def tagged(tag: str) -> list[tuple[int, str]]:
    """(pid, command line) of the live processes whose environment carries TAG=tag (a server, its
    kernels, anything they started); zombies have no environment left and do not count."""
    mark = f"{TAG}={tag}".encode()
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if mark not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                out.append((int(pid), f.read().replace(b"\0", b" ").decode(errors="replace")))
        except OSError:
            continue
    return out


def end_all(proc: subprocess.Popen, tag: str, grace: float = 20) -> list[tuple[int, str]]:
    """End the server's whole process group (SIGTERM, then SIGKILL), wait until no tagged process is
    left (kernels live in sessions of their own and leave when their server does); returns the
    processes that were still there after `grace` seconds (killed then, so no test leaves any)."""
    stop_group(proc, grace=15)  # the dashboard command's own way of ending its server
    deadline = time.monotonic() + grace
    while (left := tagged(tag)) and time.monotonic() < deadline:
        time.sleep(0.5)
    for pid, _ in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return left


def server_env(tmp: Path, token: str, tag: str) -> dict[str, str]:
    """The environment of a test server: its own Jupyter folders, the token (never on the command line,
    where every local user reads it in /proc) and the tag that finds what it leaves behind."""
    return dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp / "jupyter-config"), JUPYTER_DATA_DIR=str(tmp / "jupyter-data"),
                JUPYTER_RUNTIME_DIR=str(tmp / "jupyter-runtime"), JUPYTERLAB_SETTINGS_DIR=str(lab_settings(tmp)),
                PYTHONPATH=str(REPO), JUPYTER_TOKEN=token, **{TAG: tag})


def wait_listening(proc: subprocess.Popen, port: int, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited {proc.returncode}: {log_path.read_text()[-2000:]}")
        try:  # listening is enough: the page itself waits for the kernel
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not answer in time") from None
            time.sleep(0.3)


@contextmanager
def serve(argv: list[str], tmp: Path, timeout: float = 60, port: int = 0) -> Iterator[tuple[int, str]]:
    """Run a server (argv gets --port= appended, a free one unless given; the token is in JUPYTER_TOKEN)
    until the block ends, then end its whole process group and check that nothing it started is left;
    yields (port, token)."""
    port, token, tag = port or free_port(), secrets.token_hex(8), uuid.uuid4().hex
    log_path = tmp / "server.log"
    log = log_path.open("w")
    proc = subprocess.Popen([*argv, f"--port={port}"], cwd=tmp, env=server_env(tmp, token, tag), stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_listening(proc, port, log_path, timeout)
        yield port, token
    finally:
        left = end_all(proc, tag)
        log.close()
    assert not left, f"still running after the server was ended: {left}"


@contextmanager
def dashboard(source: str, tmp: Path, *extra: str, port: int = 0) -> Iterator[str]:
    """`pciexplore dashboard SOURCE` on a free port (or `port`) with a token; yields the page URL."""
    argv = [sys.executable, "-m", "pciexplore", "dashboard", source, "--no-browser", *extra]
    with serve(argv, tmp, port=port) as (port, token):
        yield f"http://127.0.0.1:{port}/?token={token}"


@contextmanager
def voila(notebook: Path, tmp: Path) -> Iterator[str]:
    """A notebook served by Voilà (run top to bottom on the server, shown without code); yields its URL."""
    argv = [sys.executable, "-m", "voila", str(notebook), "--no-browser", "--Voila.ip=127.0.0.1",
            "--show_tracebacks=True", "--token"]  # "--token" alone: ask for one (jupyter_server takes JUPYTER_TOKEN)
    with serve(argv, tmp) as (port, token):
        yield f"http://127.0.0.1:{port}/?token={token}"


@contextmanager
def jupyterlab(root: Path, tmp: Path) -> Iterator[tuple[str, str]]:
    """JupyterLab serving `root`; yields (base URL, token)."""
    argv = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--ServerApp.root_dir={root}",
            "--ServerApp.port_retries=0", "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if os.geteuid() == 0:
        argv.append("--allow-root")
    with serve(argv, tmp) as (port, token):
        yield f"http://127.0.0.1:{port}", token


def lab_run_all(page, url: str) -> None:
    """Open a notebook in JupyterLab, wait until its kernel is idle, then Run > Run All Cells."""
    page.goto(url)
    page.wait_for_selector(".jp-Notebook", timeout=90_000)
    # the status bar says "Python 3 (ipykernel) | Idle" once the kernel has started
    page.locator(".jp-StatusBar-Widget", has_text="Idle").first.wait_for(timeout=90_000)
    page.get_by_role("menuitem", name="Run").first.click()
    page.get_by_text("Run All Cells", exact=True).click()


@contextmanager
def chromium_page(width: int = 1400, height: int = 1000, profile: Path | None = None) -> Iterator:
    """A page in a new Chromium; with `profile`, a browser that keeps its cache there from one launch to the
    next, as a person's does."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        viewport = {"width": width, "height": height}
        if profile is None:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport=viewport)
        else:
            browser = pw.chromium.launch_persistent_context(str(profile), executable_path=CHROMIUM,
                                                            args=CHROMIUM_ARGS, headless=True, viewport=viewport)
            page = browser.new_page()
        try:
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()


#: resolves once the browser has painted twice: what a scroll or a redraw just changed is on screen
#: (JupyterLab draws the cells a scroll brings into view in the frames after it)
PAINTED = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


def screenshot(page, name: str) -> Path:
    page.evaluate(PAINTED)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=True)
    return path

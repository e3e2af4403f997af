"""`pciexplore dashboard`: the notebook it serves, the JupyterLab fallback answering on localhost with its
token, and the server's life: tied to the command's, its token out of /proc's command lines, foreign
Host headers refused (the Voilà page itself is exercised in Chromium by tests/test_browser_dashboard.py)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest

from pciexplore.commands.dashboard import clean_stale, notebook

pytest.importorskip("jupyterlab")

from browser.session import free_port, serve, server_env, tagged, wait_listening  # noqa: E402


def test_the_served_notebook_opens_the_source_given_and_nothing_else():
    nb = notebook("sim:nic'; import os; os.system('x') #", 32)
    (cell,) = nb["cells"]
    code = compile(cell["source"], "cell", "exec")  # the spec is a string literal, never code
    assert "system" not in code.co_names
    assert cell["source"].endswith("Explorer(pciexplore.open(\"sim:nic'; import os; os.system('x') #\"), page_size=32)")


def test_jupyterlab_fallback_serves_the_dashboard_notebook_with_a_token(tmp_path):
    argv = [sys.executable, "-m", "pciexplore", "dashboard", "sim:nic", "--lab", "--no-browser"]
    with serve(argv, tmp_path) as (port, token):
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{base}/api/contents/pciexplore-dashboard.ipynb?token={token}", timeout=30) as r:
            content = json.load(r)["content"]
        assert "Explorer(pciexplore.open('sim:nic'), page_size=16)" in content["cells"][0]["source"]
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/api/contents/pciexplore-dashboard.ipynb?token=wrong", timeout=30)
        assert refused.value.code == 403


@pytest.mark.parametrize("size", ["0", "-1", "20000", "many"])
def test_page_size_outside_1_to_256_is_refused_before_any_server_starts(tmp_path, size):
    tag = uuid.uuid4().hex
    try:  # before: 0 started a server whose page then crashed, 20000 one that took over a minute to draw
        result = subprocess.run([sys.executable, "-m", "pciexplore", "dashboard", "sim:nic", "--no-browser",
                                 f"--port={free_port()}", "--page-size", size], capture_output=True, text=True,
                                env=server_env(tmp_path, "t", tag), timeout=60)
        assert result.returncode == 2 and "--page-size" in result.stderr.splitlines()[-1]
        assert tagged(tag) == []
    finally:
        for pid, _ in tagged(tag):
            os.kill(pid, signal.SIGKILL)


def _dashboard(tmp_path, tag: str, token: str) -> tuple[subprocess.Popen, int]:
    pytest.importorskip("voila")
    port = free_port()
    env = server_env(tmp_path, token, tag)
    env["TMPDIR"] = str(tmp_path)  # where the dashboard makes its temporary folder
    log = tmp_path / "dashboard.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "pciexplore", "dashboard", "sim:nic", "--no-browser",
                                 f"--port={port}"], cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    wait_listening(proc, port, log, 60)
    return proc, port


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect (to the login page) is the answer itself


def _get(port: int, path: str, host: str | None = None) -> int:
    """The status of one GET, redirects not followed."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host} if host else {})
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=120) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL])
def test_a_dashboard_ended_by_a_signal_leaves_no_server_kernel_or_folder(tmp_path, how):
    tag, token = uuid.uuid4().hex, secrets.token_hex(8)
    proc, port = _dashboard(tmp_path, tag, token)
    try:
        assert _get(port, f"/?token={token}") == 200  # Voilà ran the notebook: a kernel is up
        running = tagged(tag)
        assert any("ipykernel" in cmd for _, cmd in running), running  # what must not outlive us
        assert not [cmd for _, cmd in running if token in cmd]  # /proc/PID/cmdline is world-readable
        # DNS rebinding: a foreign page reaching 127.0.0.1 under its own name is refused, as JupyterLab does
        assert _get(port, f"/?token={token}", host=f"evil.example:{port}") == 403
        assert _get(port, "/?token=wrong") == 302  # to the login page: no kernel for a wrong token
        assert [p.name for p in tmp_path.glob("pciexplore-dashboard-*")]
        proc.send_signal(how)  # the dashboard command only, as a service manager or closed terminal would
        proc.wait(timeout=60)
        deadline = time.monotonic() + 30
        while tagged(tag) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert tagged(tag) == []
        left = list(tmp_path.glob("pciexplore-dashboard-*"))
        if how == signal.SIGKILL:  # no clean-up of ours runs: the server and kernel went, the next one tidies
            assert len(left) == 1 and clean_stale(str(tmp_path)) == left and not left[0].exists()
        else:
            assert left == []
    finally:
        for pid, _ in tagged(tag):
            os.kill(pid, signal.SIGKILL)


def test_clean_stale_removes_only_folders_whose_command_is_gone(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    for name, pid in (("pciexplore-dashboard-dead", gone.stdout.strip()), ("pciexplore-dashboard-alive", str(os.getpid())),
                      ("other-dead", gone.stdout.strip())):
        (tmp_path / name).mkdir()
        (tmp_path / name / "owner.pid").write_text(pid)
    assert clean_stale(str(tmp_path)) == [tmp_path / "pciexplore-dashboard-dead"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other-dead", "pciexplore-dashboard-alive"]


def test_clean_stale_removes_an_old_unowned_folder_only_when_no_process_names_it(tmp_path):
    """Folders of dashboards from before owner.pid: one untouched for two days and named by nobody goes; one
    as old whose server still runs (its command line names the notebook in it) stays, and so does a fresh one."""
    from pciexplore.commands.dashboard import NOTEBOOK, UNOWNED_STALE_AFTER

    two_days_ago = time.time() - 2 * UNOWNED_STALE_AFTER
    for name in ("old", "served", "fresh"):
        folder = tmp_path / f"pciexplore-dashboard-{name}"
        folder.mkdir()
        (folder / NOTEBOOK).write_text("{}")
        if name != "fresh":
            for path in (folder / NOTEBOOK, folder):
                os.utime(path, (two_days_ago, two_days_ago))
    served = tmp_path / "pciexplore-dashboard-served" / NOTEBOOK
    server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", str(served)])
    try:
        assert clean_stale(str(tmp_path)) == [tmp_path / "pciexplore-dashboard-old"]
    finally:
        server.kill()
        server.wait()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pciexplore-dashboard-fresh", "pciexplore-dashboard-served"]
    assert clean_stale(str(tmp_path)) == [tmp_path / "pciexplore-dashboard-served"]  # its server has gone


def test_a_page_opened_long_after_the_start_keeps_the_preheated_kernel_it_was_given(tmp_path):
    """The pool's kernel waited longer than the cull timeout for a visitor; the page that takes it must
    still find it when its scripts have loaded and connect (jupyter_server culls a kernel idle that long:
    the page's explorer then never drew)."""
    pytest.importorskip("voila")
    import re

    from pciexplore.commands.dashboard import CULL_AFTER, CULL_EVERY

    argv = [sys.executable, "-m", "pciexplore", "dashboard", "sim:nic", "--no-browser"]
    with serve(argv, tmp_path) as (port, token):
        time.sleep(CULL_AFTER + 2 * CULL_EVERY + 10)  # the pool filled, its kernel idle past the timeout
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/?token={token}", timeout=120) as r:
            page = r.read().decode()
        kernel = re.search(r'"kernelId": "([0-9a-f-]+)"', page)[1]
        time.sleep(2 * CULL_EVERY)  # a cull pass or two, before a slow browser has connected
        assert _get(port, f"/api/kernels/{kernel}?token={token}") == 200


def test_the_default_port_is_voilas_while_free_and_another_once_it_is_taken():
    """The same address from one session to the next (a browser's cache of the page's scripts is keyed by
    host and port); a port something listens on is never taken over."""
    from pciexplore.commands.dashboard import DEFAULT_PORT, default_port

    with socket.socket() as other:
        try:
            other.bind(("127.0.0.1", DEFAULT_PORT))
        except OSError:
            pytest.skip(f"port {DEFAULT_PORT} is in use on this machine")
        other.listen()
        taken = default_port()
        assert taken != DEFAULT_PORT
        with socket.socket() as s:
            s.bind(("127.0.0.1", taken))  # free indeed
    assert default_port() == DEFAULT_PORT

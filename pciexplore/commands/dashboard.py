"""`pciexplore dashboard [SOURCE]`: the Explorer widget served as a web page by Voilà (a notebook of one
cell, run on the server, shown without code); JupyterLab on the same notebook when Voilà is absent.

The server lives no longer than the command: it runs in its own process group, which SIGINT, SIGTERM
and SIGHUP end before the temporary folder goes, and on Linux it gets SIGTERM from the kernel when the
command dies any other way (PR_SET_PDEATHSIG), and the next dashboard removes the folder; its kernels end when their parent does (ipykernel polls
JPY_PARENT_PID).  The token travels in the environment (JUPYTER_TOKEN), never on a command line that
every local user can read in /proc, and requests whose Host header is not this machine are refused.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from .. import open_source
from ..errors import InputError
from ..words import plural

NOTEBOOK = "pciexplore-dashboard.ipynb"
MAX_PAGE_SIZE = 256  # vectors on one MSI-X page: 256 take seconds to draw, 20000 took over a minute
PR_SET_PDEATHSIG = 1  # linux/prctl.h
#: what the server may be called in a request's Host header: this machine only (DNS rebinding: a page
#: elsewhere naming its own host at 127.0.0.1 must not reach the kernel)
LOCAL_HOSTNAMES = ["localhost"]


def page_size(text: str) -> int:
    """--page-size: a whole number of vectors, 1 to MAX_PAGE_SIZE."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of vectors: {text!r}") from None
    if not 1 <= n <= MAX_PAGE_SIZE:
        raise argparse.ArgumentTypeError(f"{n} vectors per page: give 1 to {MAX_PAGE_SIZE} (the table pages on)")
    return n


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dashboard", help="serve the device explorer (browser, capabilities, MSI-X) as a web page")
    p.add_argument("source", nargs="?", help="dump file, raw config, capture, sysfs dir, sim:..., qemu:... "
                                              "(default: this host)")
    p.add_argument("--port", type=int, default=0, help=f"port on 127.0.0.1 (default: {DEFAULT_PORT} when it is free, "
                                                         "else a free one)")
    p.add_argument("--token", help="access token (default: $JUPYTER_TOKEN, else a random one, printed with the "
                                   "URL; an option is visible to every local user in /proc, the variable is not)")
    p.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    p.add_argument("--page-size", type=page_size, default=16, help=f"MSI-X vectors shown per page (1-{MAX_PAGE_SIZE})")
    p.add_argument("--lab", action="store_true", help="serve with JupyterLab even when Voilà is installed")
    p.set_defaults(run=run)


def notebook(spec: str | None, page_size: int) -> dict:
    """The one-cell notebook the server runs: thin, the explorer does the rest."""
    code = ("import pciexplore\nfrom pciexplore.widgets import Explorer\n\n"
            f"Explorer(pciexplore.open({spec!r}), page_size={page_size})")
    return {"nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "cells": [{"cell_type": "code", "id": "explorer", "metadata": {}, "execution_count": None,
                       "outputs": [], "source": code}]}


#: Voilà's own default port: the same address from one session to the next lets a browser keep the page's
#: scripts (about 4.8 MB) in its cache, which is keyed by host and port
DEFAULT_PORT = 8866


def free_port(wanted: int = 0) -> int:
    """`wanted` when nothing listens on it (0: any free port)."""
    with socket.socket() as s:
        # as the server binds: a port whose last session's connections linger in TIME_WAIT is free
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", wanted))
        return s.getsockname()[1]


def default_port() -> int:
    try:
        return free_port(DEFAULT_PORT)
    except OSError:  # taken (another dashboard, a Voilà): any free one
        return free_port()


#: seconds a kernel whose page is closed may idle before Voilà ends it, and how often it looks
CULL_AFTER, CULL_EVERY = 20, 5


def server_command(root: Path, port: int, token: str, open_browser: bool, lab: bool) -> tuple[list[str], str]:
    """The server to start and the URL of the dashboard on it; the token is not in the command (the
    server reads it from JUPYTER_TOKEN: `server_env`)."""
    if not lab and importlib.util.find_spec("voila") is not None:
        # Voilà turns jupyter_server's Host check off (allow_remote_access=True); its tornado_settings turn
        # it on again, from a config file (the command line gives a dict's values as strings: "False")
        # Voilà's culling ends the kernel of a page nobody has open any more (each visit starts one, about
        # 115 MB, and a qemu: source's QEMU with it); a preheated kernel has the explorer drawn before the
        # first visit, so a page opens without waiting for Python, pandas and the source
        (root / "voila.json").write_text(json.dumps({
            "Voila": {"tornado_settings": {"allow_remote_access": False, "local_hostnames": LOCAL_HOSTNAMES}},
            # a kernel a page takes from the pool is not culled before that page could connect to it
            "VoilaConfiguration": {"preheat_kernel": True, "default_pool_size": 1,
                                   "multi_kernel_manager_class": "pciexplore.commands._dashboard_kernels.PageKernelManager"},
            "MappingKernelManager": {"cull_idle_timeout": CULL_AFTER, "cull_interval": CULL_EVERY,
                                     "cull_connected": False}}))
        # "--token" alone asks for a token, which jupyter_server's IdentityProvider takes from JUPYTER_TOKEN
        cmd = [sys.executable, "-m", "voila", str(root / NOTEBOOK), f"--port={port}", "--Voila.ip=127.0.0.1",
               "--token", "--show_tracebacks=False", "--theme=light", f"--Voila.config_file_paths={root}",
               "--template=pciexplore"]  # Voilà's lab template without its CDN links (share/voila/templates)
        if not open_browser:
            cmd.append("--no-browser")
        return cmd, f"http://127.0.0.1:{port}/?token={token}"
    if importlib.util.find_spec("jupyterlab") is None:
        raise InputError("neither voila nor jupyterlab is installed: pip install 'pciexplore[notebook]'")
    cmd = [sys.executable, "-m", "jupyterlab", f"--port={port}", "--ip=127.0.0.1", f"--ServerApp.root_dir={root}",
           "--ServerApp.port_retries=0", "--ServerApp.allow_remote_access=False",
           *(f"--ServerApp.local_hostnames={h}" for h in LOCAL_HOSTNAMES)]
    if not open_browser:
        cmd.append("--no-browser")
    if os.geteuid() == 0:  # JupyterLab refuses root unless told; containers and VMs often are root
        cmd.append("--allow-root")
    return cmd, f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK}?token={token}"


def server_env(token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "JUPYTER_TOKEN_FILE"}
    env["JUPYTER_TOKEN"] = token
    # the kit's Voilà template (share/voila/templates/pciexplore) is found on the Jupyter data path
    share = str(Path(__file__).resolve().parents[1] / "share")
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (share, env.get("JUPYTER_PATH")) if p)
    return env


def _die_with(parent: int) -> Callable[[], None]:
    """What the server runs before exec: SIGTERM when the dashboard command dies, however it dies (Linux)."""

    def preexec() -> None:
        if sys.platform.startswith("linux"):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
            if os.getppid() != parent:  # the command died between fork and prctl: no signal would come
                os._exit(1)

    return preexec


class _Stop(Exception):
    def __init__(self, signum: int) -> None:
        self.signum = signum


def _raise_stop(signum: int, _frame: object) -> None:
    raise _Stop(signum)


def stop_group(proc: subprocess.Popen, grace: float = 10) -> None:
    """End the server's process group: SIGTERM (the server then shuts its kernels down), SIGKILL after
    `grace` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


PREFIX = "pciexplore-dashboard-"
OWNER = "owner.pid"  # in each temporary folder: the command that made it
#: a folder without OWNER (made before it existed) untouched this long, and that no process names, is left
#: over: a dashboard that still runs serves from it and names it on its server's command line
UNOWNED_STALE_AFTER = 24 * 3600


def clean_stale(tmp: str | None = None) -> list[Path]:
    """Remove this user's dashboard folders whose command is gone (killed with SIGKILL, which no clean-up
    survives; its server and kernels went with it); returns what was removed."""
    removed = []
    for d in Path(tmp or tempfile.gettempdir()).glob(f"{PREFIX}*"):
        try:
            if not d.is_dir() or d.is_symlink() or d.stat().st_uid != os.geteuid():
                continue
            gone = _owner_gone(d) if (d / OWNER).exists() else _unowned_and_stale(d)
        except (OSError, ValueError):
            continue
        if gone:
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


def _owner_gone(folder: Path) -> bool:
    pid = int((folder / OWNER).read_text())
    try:
        os.kill(pid, 0)
        return False  # still running (or the pid was reused: then the folder stays, harmless)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False


def _unowned_and_stale(folder: Path) -> bool:
    """A folder of a dashboard older than OWNER: untouched for a day and named by no process (where /proc
    cannot say, it stays)."""
    newest = max([folder.stat().st_mtime, *(f.stat().st_mtime for f in folder.iterdir())])
    return time.time() - newest > UNOWNED_STALE_AFTER and _named_by_no_process(folder)


def _named_by_no_process(folder: Path) -> bool:
    """No process has `folder` (or a file in it) on its command line or as its working directory."""
    proc = Path("/proc")
    if not (proc / "self" / "cmdline").exists():
        return False
    name = re.compile(re.escape(os.fsencode(folder)) + rb"(/|\0|$)")
    for pid in filter(str.isdigit, os.listdir(proc)):
        try:
            if name.search((proc / pid / "cmdline").read_bytes()) or name.match(os.fsencode(os.readlink(proc / pid / "cwd"))):
                return False
        except OSError:  # gone meanwhile, or another user's: its command line is still readable above
            continue
    return True


def run(args: argparse.Namespace) -> int:
    # open the source here first: bad input is one line now, not a broken page later
    with open_source(args.source) as src:
        # the server runs the notebook in its own directory: a relative file name must not depend on that
        spec = str(Path(args.source).resolve()) if args.source and Path(args.source).exists() else args.source
        summary = f"{src.kind} {src.name!r}, {plural(len(src.functions()), 'function')}"
    port = args.port or default_port()
    token = args.token or os.environ.get("JUPYTER_TOKEN") or secrets.token_hex(16)
    handlers = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        clean_stale()
        with tempfile.TemporaryDirectory(prefix=PREFIX) as tmp:
            root = Path(tmp)
            (root / OWNER).write_text(str(os.getpid()))
            (root / NOTEBOOK).write_text(json.dumps(notebook(spec, args.page_size), indent=1))
            cmd, url = server_command(root, port, token, not args.no_browser, args.lab)
            server = "Voilà" if "voila" in cmd else "JupyterLab"
            print(f"pciexplore dashboard ({server}) for {summary}: {url}", flush=True)
            proc = subprocess.Popen(cmd, cwd=Path.cwd(), env=server_env(token), start_new_session=True,
                                    preexec_fn=_die_with(os.getpid()))
            try:
                return proc.wait()
            finally:
                for sig in (signal.SIGINT, *handlers):  # a second signal must not cut the stop short
                    handlers.setdefault(sig, signal.signal(sig, signal.SIG_IGN))
                stop_group(proc)  # before the folder it serves from goes
    except KeyboardInterrupt:
        return 130
    except _Stop as stop:  # also one that came before the server started: the folder is gone all the same
        return 128 + stop.signum
    finally:
        for sig, old in handlers.items():
            signal.signal(sig, old)

"""`pciexplore dashboard [SOURCE]`: the Explorer widget served as a web page by Voilà (a notebook of one
cell, run on the server, shown without code); JupyterLab on the same notebook when Voilà is absent."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from .. import open_source
from ..errors import InputError
from ..words import plural

NOTEBOOK = "pciexplore-dashboard.ipynb"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dashboard", help="serve the device explorer (browser, capabilities, MSI-X) as a web page")
    p.add_argument("source", nargs="?", help="dump file, raw config, capture, sysfs dir, sim:..., qemu:... "
                                              "(default: this host)")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--token", help="access token (default: a random one, printed with the URL)")
    p.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    p.add_argument("--page-size", type=int, default=16, help="MSI-X vectors shown per page")
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_command(root: Path, port: int, token: str, open_browser: bool, lab: bool) -> tuple[list[str], str]:
    """The server to start and the URL of the dashboard on it."""
    if not lab and importlib.util.find_spec("voila") is not None:
        cmd = [sys.executable, "-m", "voila", str(root / NOTEBOOK), f"--port={port}", "--Voila.ip=127.0.0.1",
               f"--token={token}", "--show_tracebacks=False", "--theme=light"]
        if not open_browser:
            cmd.append("--no-browser")
        return cmd, f"http://127.0.0.1:{port}/?token={token}"
    if importlib.util.find_spec("jupyterlab") is None:
        raise InputError("neither voila nor jupyterlab is installed: pip install 'pciexplore[notebook]'")
    cmd = [sys.executable, "-m", "jupyterlab", f"--port={port}", "--ip=127.0.0.1", f"--ServerApp.root_dir={root}",
           f"--IdentityProvider.token={token}", "--ServerApp.port_retries=0"]
    if not open_browser:
        cmd.append("--no-browser")
    if os.geteuid() == 0:  # JupyterLab refuses root unless told; containers and VMs often are root
        cmd.append("--allow-root")
    return cmd, f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK}?token={token}"


def run(args: argparse.Namespace) -> int:
    # open the source here first: bad input is one line now, not a broken page later
    with open_source(args.source) as src:
        # the server runs the notebook in its own directory: a relative file name must not depend on that
        spec = str(Path(args.source).resolve()) if args.source and Path(args.source).exists() else args.source
        summary = f"{src.kind} {src.name!r}, {plural(len(src.functions()), 'function')}"
    port = args.port or free_port()
    token = args.token or secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="pciexplore-dashboard-") as tmp:
        root = Path(tmp)
        (root / NOTEBOOK).write_text(json.dumps(notebook(spec, args.page_size), indent=1))
        cmd, url = server_command(root, port, token, not args.no_browser, args.lab)
        server = "Voilà" if "voila" in cmd else "JupyterLab"
        print(f"pciexplore dashboard ({server}) for {summary}: {url}", flush=True)
        proc = subprocess.Popen(cmd, cwd=Path.cwd())
        try:
            return proc.wait()
        except KeyboardInterrupt:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            return 130

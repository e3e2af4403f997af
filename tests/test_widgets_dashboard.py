"""`pciexplore dashboard`: the notebook it serves, and the JupyterLab fallback answering on localhost with
its token (the Voilà page itself is exercised in Chromium by tests/test_browser_dashboard.py)."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request

import pytest

from pciexplore.commands.dashboard import notebook

pytest.importorskip("jupyterlab")

from browser.session import serve  # noqa: E402


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

"""The README's two commands set up one environment: what `scripts/start` installs holds everything the
tests import (pytest, nbclient, Playwright for the browser tests), so a person who started the tour can
run any test, and `scripts/test` afterwards installs nothing new."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11 on

REPO = Path(__file__).resolve().parents[1]


def venv_extras(script: str) -> list[str]:
    """The extras `bash scripts/venv [EXTRAS]` installs when `script` calls it (its default when none given)."""
    calls = re.findall(r"^bash scripts/venv\b[ \t]*([\w,]*)", (REPO / "scripts" / script).read_text(), re.M)
    assert len(calls) == 1, (script, calls)
    default = re.search(r'extras="\$\{1:-([\w,]+)\}"', (REPO / "scripts" / "venv").read_text()).group(1)
    return (calls[0] or default).split(",")


def test_start_installs_what_the_tests_import():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    start = venv_extras("start")
    assert start == venv_extras("test")
    wanted = {re.split(r"[<>=\[ ]", req)[0] for extra in start for req in extras[extra]}
    assert {"playwright", "pytest", "nbclient", "jupyterlab", "voila", "ipywidgets"} <= wanted

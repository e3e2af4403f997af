"""Shared test fixtures: where the shared corpus is, and skips for tools that are truly absent.

CI installs lspci, QEMU and Chromium (scripts/install-system-deps), so there these tests always run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"

_TOOLS = {
    "lspci": (lambda: shutil.which("lspci") is not None, "lspci (Debian package pciutils) not installed"),
    "qemu": (lambda: shutil.which("qemu-system-x86_64") is not None,
             "qemu-system-x86_64 (Debian package qemu-system-x86) not installed"),
    "browser": (lambda: Path("/usr/bin/chromium").exists(), "/usr/bin/chromium (Debian package chromium) not installed"),
}


def pytest_collection_modifyitems(config, items):
    for name, (present, why) in _TOOLS.items():
        if present():
            continue
        for item in items:
            if name in item.keywords:
                item.add_marker(pytest.mark.skip(reason=why))


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return CORPUS


def corpus_file(rel: str) -> Path:
    """A file of the shared corpus, or a skip naming it when the corpus is not beside the repository."""
    path = CORPUS / rel
    if not path.exists():
        pytest.skip(f"shared corpus file not found: {path}")
    return path


def corpus_dumps() -> list[Path]:
    """Every lspci dump of the shared corpus (for parametrize; empty when the corpus is absent)."""
    return sorted(CORPUS.glob("*/*.lspci")) if CORPUS.is_dir() else []

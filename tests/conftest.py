"""Shared test fixtures: where the shared corpus is, and skips for tools that are truly absent.

CI installs lspci, QEMU and Chromium (scripts/install-system-deps), so there these tests always run.
"""

from __future__ import annotations

import shutil
import subprocess
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


def tree_from_sim(tmp_path: Path, spec: str = "sim:nic,driver") -> tuple[Path, object]:
    """(the `devices` directory of a fake sysfs tree holding the simulator's functions: config bytes, BAR
    sizes and BAR contents as resourceN files, the simulator it was taken from)."""
    import pciexplore
    from pciexplore.sources.fake_sysfs import build_tree

    sim = pciexplore.open(spec)
    funcs, sizes, contents = [], {}, {}
    for addr, dev in sim.devices.items():
        funcs.append((addr, bytes(dev.config)))
        sizes[addr] = dict(dev.bar_sizes)
        for bar in dev.bar_sizes:
            contents[(addr, bar)] = bytes(dev.bar_mem[bar])
    return build_tree(tmp_path / "sys", funcs, sizes, contents), sim


def dump_text(src) -> str:
    """`lspci -xxxx`-format text of every function of `src` (4 KiB each), what `lspci -F` reads."""
    out = []
    for fn in src.functions():
        out.append(f"{fn.address.short} sim")
        out += [f"{i:03x}: " + " ".join(f"{b:02x}" for b in fn.config[i : i + 16]) for i in range(0, 4096, 16)]
        out.append("")
    return "\n".join(out)


def lspci_vvv(src, dump: Path) -> str:
    """Real `lspci -vvv` of every function of `src`, read from their `lspci -xxxx` text written to `dump`."""
    dump.write_text(dump_text(src))
    return subprocess.run(["lspci", "-F", str(dump), "-vvv"], capture_output=True, text=True, check=True).stdout

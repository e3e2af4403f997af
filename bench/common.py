"""Shared pieces of the benchmarks: timing in one run, the corpus, and what "decode the full model" means."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"


def corpus_configs() -> list[bytes]:
    """Every function's config bytes from the corpus dumps (falls back to data/ when the corpus is absent)."""
    from pciexplore import PciError, open_source

    paths = sorted(CORPUS.glob("*/*.lspci")) or sorted((REPO / "data").glob("*.lspci"))
    configs: list[bytes] = []
    for p in paths:
        try:
            configs += [fn.config for fn in open_source(p).functions()]
        except PciError:
            pass
    return configs


def decode_full(src) -> int:
    """Decode every function to the full model: header and every register and field of every capability.
    Returns the number of registers decoded (so the work cannot be optimised away)."""
    n = 0
    for fn in src.functions():
        for block in (fn.header, *fn.capabilities):
            for rv in block.registers():
                rv.fields()
                n += 1
    return n


def timed(fn: Callable[[], object], repeat: int = 5) -> tuple[float, float]:
    """(best, median) wall-clock seconds of `fn()` over `repeat` runs."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def run_process(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

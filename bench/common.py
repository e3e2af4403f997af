"""Shared pieces of the benchmarks: timing in one run, the corpus, and what "decode the full model" means."""

from __future__ import annotations

import gc
import os
import resource
import statistics
import subprocess
import sys
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


def timed_rounds(fns: dict[str, Callable[[], object]], repeat: int = 7) -> dict[str, tuple[float, float, float]]:
    """(best, median, best CPU) seconds of each function, run in turn round after round, so that a burst
    of load from other work on the machine hits every contender alike.  CPU time counts this process
    and the child processes that finished during the call (a `run_process` contender), so it is
    steadier than wall-clock time on a busy machine."""
    wall: dict[str, list[float]] = {label: [] for label in fns}
    cpu: dict[str, list[float]] = {label: [] for label in fns}
    for _ in range(repeat):
        for label, fn in fns.items():
            gc.collect()  # start every run from the same heap, not with the garbage of the run before
            c0, t0 = _cpu(), time.perf_counter()
            fn()
            wall[label].append(time.perf_counter() - t0)
            cpu[label].append(_cpu() - c0)
    return {label: (min(wall[label]), statistics.median(wall[label]), min(cpu[label])) for label in fns}


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_process(cmd: list[str], env: dict[str, str] | None = None) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def cli_command(args: list[str], pycache: Path) -> tuple[list[str], dict[str, str]]:
    """(argv, environment) that run `pciexplore ARGS` as a user's installed copy runs it: from compiled
    bytecode (kept in `pycache`, outside the tree) even where PYTHONDONTWRITEBYTECODE is set.  Run it
    once before timing so the bytecode exists.  The `pciexplore` console script beside the interpreter where
    pip installed one (what a user types; it also keeps the current directory off the import path, where
    `-m` would import whatever checkout the bench is run from), else `-m pciexplore`."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    script = Path(sys.executable).with_name("pciexplore")
    entry = [str(script)] if script.is_file() else ["-m", "pciexplore"]
    return [sys.executable, "-X", f"pycache_prefix={pycache}", *entry, *args], env

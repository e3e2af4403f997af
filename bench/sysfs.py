"""Enumerate and decode a synthetic sysfs tree of 4096 functions (and of 8192, to see how time grows),
through the sysfs source, and compare with `lspci -vvv -A linux-sysfs` on the same tree in the same run.

Goals: 4096 functions in <= 1 s; twice the functions costs at most twice the time.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from common import corpus_configs, decode_full, run_process, timed_rounds

from pciexplore import Address
from pciexplore.sources.fake_sysfs import build_tree
from pciexplore.sources.sysfs import SysfsSource


def make_tree(root: Path, n: int, configs: list[bytes]) -> Path:
    fns = []
    for i in range(n):
        addr = Address(i >> 13, (i >> 5) & 0xFF, i & 0x1F, 0)
        fns.append((addr, configs[i % len(configs)]))
    return build_tree(root, fns)


def main() -> int:
    configs = [c for c in corpus_configs() if len(c) >= 64]
    lspci = shutil.which("lspci")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (4096, 8192):
            devices = make_tree(Path(tmp) / str(n), n, configs)
            rows = {"ours": lambda d=devices: decode_full(SysfsSource(d))}
            if lspci:
                rows["lspci"] = lambda d=devices: run_process(
                    [lspci, "-vvv", "-A", "linux-sysfs", "-O", f"sysfs.path={d.parent}"])
            timings = timed_rounds(rows, repeat=5)
            best, med, cpu = timings["ours"]
            results[n] = best
            line = f"sysfs tree {n:5d} functions: enumerate+decode best {best * 1e3:7.1f} ms " \
                   f"(median {med * 1e3:.1f}, best CPU {cpu * 1e3:.1f}), {best / n * 1e6:.1f} us/function"
            if lspci:
                lbest, lmed, lcpu = timings["lspci"]
                line += f"; lspci -vvv best {lbest * 1e3:.1f} ms (median {lmed * 1e3:.1f}); " \
                        f"ratio best {best / lbest:.2f}x, median {med / lmed:.2f}x, CPU {cpu / lcpu:.2f}x lspci"
            print(line)
    print(f"growth 8192/4096: {results[8192] / results[4096]:.2f}x (goal <= 2.0); "
          f"4096 functions: {results[4096]:.3f} s (goal <= 1 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

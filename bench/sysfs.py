"""Enumerate and decode a synthetic sysfs tree of 4096 functions (and of 8192, to see how time grows),
through the sysfs source, and compare with `lspci -vvv -A linux-sysfs` on the same tree in the same run;
`pciexplore show -vvv` as a whole process at every size (and on a tree of the smallest size where no two
functions have the same capability bytes), `show -vvv` of the largest tree with every file read by `show`
itself (the design before sources/read_ahead.py), and `pciexplore show` of this machine against `lspci`.

Goals: 4096 functions in <= 1 s; `show -vvv` <= 1.0x lspci; twice the functions costs at most twice the
time; `show` of this machine within 30 ms of `lspci`.

    python bench/sysfs.py                      # 4096 and 8192 functions
    python bench/sysfs.py 2048 4096 8192 16384 # every doubling step, to see where time grows faster
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import tempfile
from pathlib import Path

from common import cli_command, corpus_configs, decode_full, run_process, timed_rounds

from pciexplore import Address
from pciexplore.sources.fake_sysfs import build_tree
from pciexplore.sources.sysfs import SYSFS_PCI, SysfsSource

#: `pciexplore ARGS` with the read-ahead child turned off (sources/read_ahead.py)
DIRECT = ("import sys; from pciexplore.sources import read_ahead; read_ahead.worth_it = lambda count: False; "
          "from pciexplore.__main__ import run; sys.exit(run())")


def make_tree(root: Path, n: int, configs: list[bytes], distinct: bool = False) -> Path:
    """n functions cycling through the corpus configs; `distinct`: the last two config bytes numbered, so no
    two functions have the same capability bytes (show then renders every capability list itself)."""
    fns = []
    for i in range(n):
        addr = Address(i >> 13, (i >> 5) & 0xFF, i & 0x1F, 0)
        cfg = configs[i % len(configs)]
        if distinct:
            cfg = cfg[:-2] + (i & 0xFFFF).to_bytes(2, "little")
        fns.append((addr, cfg))
    return build_tree(root, fns)


def main(argv: list[str]) -> int:
    configs = [c for c in corpus_configs() if len(c) >= 64]
    lspci = shutil.which("lspci")
    sizes = sorted(int(a) for a in argv) or [4096, 8192]
    with tempfile.TemporaryDirectory() as tmp:
        rows = {}
        for n in sizes:  # both sizes in the same rounds, so a burst of load hits both alike
            devices = make_tree(Path(tmp) / str(n), n, configs)
            rows[f"ours {n}"] = lambda d=devices: decode_full(SysfsSource(d))
            if lspci:
                rows[f"lspci {n}"] = lambda d=devices: run_process(
                    [lspci, "-vvv", "-A", "linux-sysfs", "-O", f"sysfs.path={d.parent}"])
            # what a user runs: the whole command, kernel view and text included, at every size
            cli, env = cli_command(["show", "-vvv", str(devices)], Path(tmp) / "pycache")
            run_process(cli, env)  # compiles the bytecode once, as installing the package would
            rows[f"show {n}"] = lambda cli=cli, env=env: run_process(cli, env)
        # the previous design, on the largest tree: every file read by `show` itself, none ahead by a child
        direct = [*cli[:3], "-c", DIRECT, "show", "-vvv", str(devices)]
        rows[f"direct {sizes[-1]}"] = lambda: run_process(direct, env)
        # the worst case for reusing capability text: every function's capability bytes differ
        n = sizes[0]
        devices = make_tree(Path(tmp) / f"distinct{n}", n, configs, distinct=True)
        cli, env = cli_command(["show", "-vvv", str(devices)], Path(tmp) / "pycache")
        run_process(cli, env)
        rows[f"show distinct {n}"] = lambda cli=cli, env=env: run_process(cli, env)
        rows[f"lspci distinct {n}"] = lambda d=devices: run_process(
            [lspci, "-vvv", "-A", "linux-sysfs", "-O", f"sysfs.path={d.parent}"]) if lspci else None
        live = Path(SYSFS_PCI).is_dir() and any(Path(SYSFS_PCI).iterdir())
        if live and lspci:  # this machine's functions, `show` against `lspci`: start-up is most of it
            cli, env = cli_command(["show"], Path(tmp) / "pycache")
            run_process(cli, env)
            rows["show live"] = lambda cli=cli, env=env: run_process(cli, env)
            rows["lspci live"] = lambda: run_process([lspci])
        timings = timed_rounds(rows, repeat=7)
    for n in sizes:
        best, med, cpu = timings[f"ours {n}"]
        line = f"sysfs tree {n:5d} functions: enumerate+decode best {best * 1e3:7.1f} ms " \
               f"(median {med * 1e3:.1f}, best CPU {cpu * 1e3:.1f}), {best / n * 1e6:.1f} us/function"
        if lspci:
            lbest, lmed, lcpu = timings[f"lspci {n}"]
            line += f"; lspci -vvv best {lbest * 1e3:.1f} ms (median {lmed * 1e3:.1f}); " \
                    f"ratio best {best / lbest:.2f}x, median {med / lmed:.2f}x, CPU {cpu / lcpu:.2f}x lspci"
        print(line)
    for n in sizes:
        (best, med, cpu), (lbest, lmed, lcpu) = timings[f"show {n}"], timings.get(f"lspci {n}", (0.0, 0.0, 0.0))
        line = f"pciexplore show -vvv (process), {n:5d} functions: best {best * 1e3:7.1f} ms (median {med * 1e3:.1f})"
        if lspci:
            line += (f"; lspci -vvv best {lbest * 1e3:.1f} ms (median {lmed * 1e3:.1f}): ratio best {best / lbest:.2f}x, "
                     f"median {med / lmed:.2f}x, CPU {cpu / lcpu:.2f}x (goal <= 1.0)")
        print(line)
    n = sizes[-1]
    (best, med, cpu), (dbest, dmed, dcpu) = timings[f"show {n}"], timings[f"direct {n}"]
    print(f"pciexplore show -vvv (process), {n:5d} functions, every file read by show itself (no read-ahead child): "
          f"best {dbest * 1e3:.1f} ms (median {dmed * 1e3:.1f}, CPU {dcpu * 1e3:.1f}); with the child: "
          f"{best / dbest:.2f}x best, {med / dmed:.2f}x median, CPU {cpu / dcpu:.2f}x")
    for a, b in itertools.pairwise(sizes):
        for what in ("ours", "show"):
            small, large = timings[f"{what} {a}"], timings[f"{what} {b}"]
            label = "enumerate+decode" if what == "ours" else "show -vvv process"
            growth = f"growth {b}/{a} {label}: " + "best {:.2f}x, median {:.2f}x".format(
                *(y / x for x, y in zip(small[:2], large[:2], strict=True)))
            if lspci:
                lsmall, llarge = timings[f"lspci {a}"], timings[f"lspci {b}"]
                growth += f" (lspci: best {llarge[0] / lsmall[0]:.2f}x, median {llarge[1] / lsmall[1]:.2f}x)"
            print(f"{growth}; goal <= {b / a:.1f}")
    n = sizes[0]
    (best, med, cpu), (lbest, lmed, lcpu) = timings[f"show distinct {n}"], timings[f"lspci distinct {n}"]
    line = f"pciexplore show -vvv (process), {n:5d} functions, no two alike: best {best * 1e3:.1f} ms (median {med * 1e3:.1f})"
    if lspci:
        line += f"; lspci -vvv best {lbest * 1e3:.1f} ms: ratio best {best / lbest:.2f}x, median {med / lmed:.2f}x, CPU {cpu / lcpu:.2f}x"
    print(line)
    if "show live" in timings:
        (best, med, cpu), (lbest, lmed, lcpu) = timings["show live"], timings["lspci live"]
        print(f"this machine's {len(os.listdir(SYSFS_PCI))} functions, pciexplore show (process): best {best * 1e3:.1f} ms "
              f"(median {med * 1e3:.1f}, best CPU {cpu * 1e3:.1f}); lspci best {lbest * 1e3:.1f} ms (median "
              f"{lmed * 1e3:.1f}, best CPU {lcpu * 1e3:.1f}): +{(best - lbest) * 1e3:.1f} ms best, "
              f"+{(med - lmed) * 1e3:.1f} ms median (goal <= +30 ms)")
    if 4096 in sizes:
        print(f"4096 functions: {timings['ours 4096'][0]:.3f} s (goal <= 1 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

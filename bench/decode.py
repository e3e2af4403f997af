"""Decode a dump of >= 1000 functions (corpus devices replicated at distinct addresses) to the full
model in-process and render it as `lspci -vvv` text; compare with `lspci -vvv -F` run as a process on
the same dump in the same run.  Goal: <= 1.0x lspci; `show -vvv -n` as a whole process <= 0.7x `lspci -vvv -n`.

    python bench/decode.py [N_FUNCTIONS]     # default 1024; 7 rounds, each contender once per round
    python bench/decode.py --profile         # where the time goes (cProfile, top 25)

Each measured run starts from a fresh source (parse the dump text again) and a fresh name database, so
nothing is cached between runs that lspci would have to redo.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from common import cli_command, corpus_configs, decode_full, run_process, timed_rounds

from pciexplore import names
from pciexplore.render.lspci import LspciOptions, render_source
from pciexplore.sources.dump import DumpSource


def make_dump(path: Path, n: int, configs: list[bytes], distinct: bool = False) -> None:
    """`lspci -xxxx`-style text of n functions cycling through the corpus configs; `distinct`: the last two
    config bytes numbered, so no two functions have the same capability bytes (nothing rendered is reused)."""
    lines = []
    for i in range(n):
        cfg = configs[i % len(configs)]
        if distinct:
            cfg = cfg[:-2] + (i & 0xFFFF).to_bytes(2, "little")
        lines.append(f"{i >> 8:02x}:{(i >> 3) & 0x1F:02x}.{i & 7} Device")
        lines += [f"{o:02x}: {cfg[o:o + 16].hex(' ')}" for o in range(0, len(cfg), 16)]
        lines.append("")
    path.write_text("\n".join(lines) + "\n")


def fresh_names() -> None:
    names.default.cache_clear()


def parse(path: Path) -> DumpSource:
    fresh_names()
    return DumpSource(path)


def parse_decode(path: Path) -> int:
    return decode_full(parse(path))


def parse_render(path: Path) -> int:
    return len(render_source(parse(path), LspciOptions(verbose=3)))


def parse_decode_render(path: Path) -> int:
    src = parse(path)
    return decode_full(src) + len(render_source(src, LspciOptions(verbose=3)))


def main(argv: list[str]) -> int:
    profile = "--profile" in argv
    args = [a for a in argv if not a.startswith("-")]
    n = int(args[0]) if args else 1024
    repeat = 7
    configs = corpus_configs()
    lspci = shutil.which("lspci")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.lspci"
        make_dump(path, n, configs)
        size = path.stat().st_size
        print(f"dump: {n} functions from {len(configs)} corpus configs, {size / 1e6:.1f} MB of -xxxx text")
        if profile:
            import cProfile
            import pstats

            cProfile.runctx("parse_decode_render(path)", globals(), {"path": path}, str(Path(tmp) / "prof"))
            pstats.Stats(str(Path(tmp) / "prof")).sort_stats("cumulative").print_stats(25)
            return 0
        rows = {
            "parse dump text": lambda: parse(path),
            "parse + decode full model": lambda: parse_decode(path),
            "parse + render -vvv": lambda: parse_render(path),
            "parse + decode + render -vvv": lambda: parse_decode_render(path),
        }
        distinct = Path(tmp) / "distinct.lspci"
        make_dump(distinct, n, configs, distinct=True)
        for flags, dump, label in ((["-vvv"], path, ""), (["-vvv", "-n"], path, ""),
                                   (["-vvv", "-n"], distinct, ", no two alike")):
            cli, env = cli_command(["show", *flags, str(dump)], Path(tmp) / "pycache")
            run_process(cli, env)  # compiles the bytecode once, as installing the package would
            rows[f"pciexplore show {' '.join(flags)} (process{label})"] = lambda cli=cli, env=env: run_process(cli, env)
            if lspci:
                rows[f"lspci {' '.join(flags)} -F (process{label})"] = lambda f=flags, d=dump: run_process(
                    [lspci, *f, "-F", str(d)])
        results = timed_rounds(rows, repeat=repeat)
        for label, (best, med, cpu) in results.items():
            print(f"{label:32s} best {best * 1e3:7.1f} ms (median {med * 1e3:7.1f}, best CPU {cpu * 1e3:7.1f}), "
                  f"{best / n * 1e6:6.1f} us/function")
        if lspci:
            lbest, lmed, lcpu = results["lspci -vvv -F (process)"]
            for label in ("parse + decode full model", "parse + render -vvv", "parse + decode + render -vvv",
                          "pciexplore show -vvv (process)"):
                best, med, cpu = results[label]
                print(f"ratio {label} / lspci: best {best / lbest:.2f}x, median {med / lmed:.2f}x, "
                      f"CPU {cpu / lcpu:.2f}x (goal <= 1.0)")
            (best, med, cpu), (lbest, lmed, lcpu) = (results["pciexplore show -vvv -n (process)"],
                                                     results["lspci -vvv -n -F (process)"])
            print(f"ratio pciexplore show -vvv -n (process) / lspci -vvv -n: best {best / lbest:.2f}x, "
                  f"median {med / lmed:.2f}x, CPU {cpu / lcpu:.2f}x (goal <= 0.7)")
            (best, med, cpu), (lbest, lmed, lcpu) = (results["pciexplore show -vvv -n (process, no two alike)"],
                                                     results["lspci -vvv -n -F (process, no two alike)"])
            print(f"ratio, no two functions alike: best {best / lbest:.2f}x, median {med / lmed:.2f}x, "
                  f"CPU {cpu / lcpu:.2f}x")
        else:
            print("lspci not installed: no reference timing")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

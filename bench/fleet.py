"""Fleet dataset: build from N generated captures of 9 functions each (pciexplore.fleet.generate: IRQ
lines and vector CPUs differ per host; degraded links, Function Masks left set, masked vectors and
differing config on some), growth at each doubling, the named questions over the largest, peak memory,
the virtio_queues table's share of a build of Linux-guest captures, and what a fleet of all-distinct
config spaces costs (the same captures built without the shared decodes).  Every line says the load average.

    python bench/fleet.py                      # 1250 2500 5000 10000 captures
    python bench/fleet.py 2500 5000 --jobs 2 --virtio 0 --distinct 0

Goals (issue 19): 10,000 captures built in <= 30 s on 2 cores, growing linearly; a named question
<= 1 s; memory bounded (workers hold one chunk of captures at a time, whatever N is).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import timed  # noqa: E402
from pciexplore import fleet  # noqa: E402
from pciexplore.fleet import generate  # noqa: E402

GOLDEN = "host-00000"


def _generate(args: tuple[str, int, int]) -> int:
    folder, start, count = args
    return len(generate.fleet(folder, count, seed=1, start=start))


def make_captures(folder: Path, n: int, jobs: int) -> float:
    t0 = time.perf_counter()
    step = (n + jobs * 4 - 1) // (jobs * 4)
    with ProcessPoolExecutor(jobs) as pool:
        list(pool.map(_generate, [(str(folder), s, min(step, n - s)) for s in range(0, n, step)]))
    return time.perf_counter() - t0


#: a build without the virtio_queues rows (the virtio model's chain left unread): what that table costs
NO_QUEUES = "from pciexplore.fleet import tables; tables.Chunk._add_queues = lambda *a: None; "


def build_once(files: list[str], out: Path, jobs: int, prelude: str = "") -> dict:
    """One build in a process of its own (so its peak RSS and CPU are its own and its workers')."""
    code = ("import sys, time, resource, json; from pciexplore import fleet; files = sys.argv[3:]; " + prelude +
            "t = time.perf_counter(); r = fleet.build(sys.argv[1], files, jobs=int(sys.argv[2])); "
            "w = time.perf_counter() - t; s = resource.getrusage(resource.RUSAGE_SELF); "
            "c = resource.getrusage(resource.RUSAGE_CHILDREN); "
            "print(json.dumps({'wall': w, 'written': r.written, 'skipped': len(r.skipped), 'parts': r.parts, "
            "'cpu': s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime, 'rss_main': s.ru_maxrss, "
            "'rss_worker': c.ru_maxrss}))")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    # argv holds 10,000 paths comfortably (about 600 KB)
    proc = subprocess.run([sys.executable, "-c", code, str(out), str(jobs), *files], capture_output=True,
                          text=True, env=env, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


#: a build that keeps no decode for the next function (the cache is emptied before each is stored): what a
#: fleet costs whose functions all have config bytes of their own
NO_DECODE_CACHE = "from pciexplore.fleet import tables; tables._DECODED_MAX = 0; "


def best_cpu(files: list[str], out: Path, jobs: int, preludes: dict[str, str], rounds: int) -> dict[str, float]:
    """The least CPU seconds of `rounds` builds of each variant (a prelude run before the build), alternating
    so that a change of load falls on all of them."""
    runs: dict[str, list[float]] = {label: [] for label in preludes}
    for _ in range(rounds):
        for label, prelude in preludes.items():
            runs[label].append(build_once(files, out, jobs, prelude)["cpu"])
            shutil.rmtree(out)
    return {label: min(rs) for label, rs in runs.items()}


def distinct_share(files: list[str], jobs: int, tmp: Path) -> None:
    """The same captures built with the decode cache and without it (every function decoded), alternating."""
    cpu = best_cpu(files, tmp / "distinct", jobs, {"shared decodes": "", "every function decoded": NO_DECODE_CACHE}, 2)
    print(f"{len(files)} captures, decodes shared between functions of the same bytes: {cpu['shared decodes']:.2f} s "
          f"CPU; every function decoded (a fleet of all-distinct config spaces): "
          f"{cpu['every function decoded']:.2f} s CPU, x{cpu['every function decoded'] / cpu['shared decodes']:.2f} "
          f"(best of 2 each, alternating; {_load()})")


def _load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def virtio_share(folder: Path, n: int, jobs: int) -> None:
    """The virtio_queues table's share of a build: N captures of the bundled Linux guest (virtio-net and
    virtio-blk with their BAR windows; each under its own host name), built with and without its rows."""
    doc = json.loads((Path(__file__).resolve().parents[1] / "data" / "default.json").read_text())
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        doc["metadata"]["host"] = f"guest-{i:04d}"
        (folder / f"guest-{i:04d}.json").write_text(json.dumps(doc))
    files = sorted(str(p) for p in folder.glob("*.json"))
    # a build process's own start is in both; the difference is the table's
    cpu = best_cpu(files, folder.parent / "virtio", jobs, {"with": "", "without": NO_QUEUES}, 3)
    print(f"virtio_queues over {n} Linux-guest captures (8 functions, 2 virtio): build {cpu['with']:.2f} s CPU with "
          f"the table, {cpu['without']:.2f} s without: {cpu['with'] - cpu['without']:.2f} s = "
          f"{100 * (cpu['with'] - cpu['without']) / cpu['with']:.0f}% of the build (best of 3 each, {_load()}); "
          "generated captures have no virtio function, so there it costs one look-up per function")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("sizes", nargs="*", type=int, default=[1250, 2500, 5000, 10000])
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--captures", type=Path, help="a folder of captures generated before (else made anew)")
    p.add_argument("--virtio", type=int, default=200, metavar="N",
                   help="Linux-guest captures for the virtio_queues share (0: skip)")
    p.add_argument("--distinct", type=int, default=1250, metavar="N",
                   help="captures built with and without the shared decodes (0: skip)")
    args = p.parse_args(argv)
    sizes = sorted(args.sizes)
    load = os.getloadavg()
    print(f"{os.cpu_count()} CPUs, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at the start "
          f"(other work on the machine slows every figure alike); {args.jobs} worker processes")
    with tempfile.TemporaryDirectory() as tmp:
        caps = args.captures or Path(tmp) / "captures"
        took = 0.0 if args.captures else make_captures(caps, sizes[-1], args.jobs)
        files = sorted(str(p) for p in caps.glob("*.json"))[: sizes[-1]]
        mb = sum(os.path.getsize(f) for f in files) / 1e6
        made = f"reused from {caps}" if args.captures else f"generated in {took:.1f} s (not timed)"
        print(f"{len(files)} captures of 9 functions ({mb:.0f} MB of JSON), {made}")
        previous = None
        for n in sizes:
            out = Path(tmp) / f"ds-{n}"
            r = build_once(files[:n], out, args.jobs)
            size = sum(f.stat().st_size for f in out.rglob("*.parquet")) / 1e6
            line = (f"build {n:6d} captures: {r['wall']:6.2f} s wall, {r['cpu']:6.1f} s CPU "
                    f"({r['cpu'] / n * 1e3:.2f} ms CPU/capture), {r['parts']} parts, {size:.1f} MB Parquet; "
                    f"peak RSS main {r['rss_main'] / 1024:.0f} MB, worker {r['rss_worker'] / 1024:.0f} MB; {_load()}")
            if previous is not None and n == 2 * previous[0]:
                line += (f"; growth x{r['wall'] / previous[1]['wall']:.2f} wall, "
                         f"x{r['cpu'] / previous[1]['cpu']:.2f} CPU (linear: x2.00)")
            print(line, flush=True)
            previous = (n, r)
            if n != sizes[-1]:
                shutil.rmtree(out)
        n, r = previous
        ideal = r["cpu"] / args.jobs
        print(f"{n} captures: {r['wall']:.2f} s wall (goal <= 30 s), CPU / {args.jobs} workers = {ideal:.2f} s "
              "(the least 2 idle cores could take)")

        out = Path(tmp) / f"ds-{n}"
        t0 = time.perf_counter()
        f = fleet.open(out)
        opened = time.perf_counter() - t0
        rows = f.con.execute("SELECT count(*) FROM fields").fetchone()[0]
        print(f"open: {opened * 1e3:.1f} ms; fields has {rows} rows")
        for q in fleet.question_names():
            params = {"golden": GOLDEN} if q == "differs-from" else {}
            answer = f.ask(q, **params)
            c0 = time.process_time()
            best, med = timed(lambda q=q, params=params: f.ask(q, **params), repeat=5)
            cpu = (time.process_time() - c0) / 5
            print(f"--ask {q:18s} best {best * 1e3:7.1f} ms  median {med * 1e3:7.1f} ms  CPU {cpu * 1e3:7.1f} ms "
                  f"(mean, DuckDB's threads included)  {len(answer):6d} rows (goal <= 1 s); {_load()}")
        distinct = f.con.execute(
            "SELECT count(DISTINCT h) FROM (SELECT hash(list(value ORDER BY capability, cap_offset, reg_offset, "
            "field)) AS h FROM fields GROUP BY capture, address)").fetchone()[0]
        print(f"distinct decoded config spaces among the {n * 9} functions: {distinct} "
              "(each decoded once per worker; the rest reuse it)")
        f.close()
        cmd = [sys.executable, "-m", "pciexplore", "fleet", "query", str(out), "--ask", "degraded-links"]
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
        best, med = timed(lambda: subprocess.run(cmd, check=True, capture_output=True, env=env), repeat=3)
        print(f"pciexplore fleet query --ask degraded-links (whole process) best {best * 1e3:.0f} ms, "
              f"median {med * 1e3:.0f} ms; {_load()}")
        if args.distinct:
            distinct_share(files[: args.distinct], args.jobs, Path(tmp))
        if args.virtio:
            virtio_share(Path(tmp) / "guests", args.virtio, args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

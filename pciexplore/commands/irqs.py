"""`pciexplore irqs [SOURCE]`: the live kernel view of MSI/MSI-X vectors (msi_irqs/ + /proc/interrupts), with
rates; `--path` follows each vector to its CPU and handler."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import open_source
from ..cli import selected
from ..errors import NotSupported


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("irqs", help="per MSI/MSI-X vector: Linux IRQ, per-CPU counts, handler, rates")
    p.add_argument("-s", dest="selector", metavar="[[DOM:]BUS:]DEV.FN", help="only matching functions")
    p.add_argument("--watch", type=float, metavar="SECONDS", help="sample twice this far apart and show rates")
    p.add_argument("--proc", default="/proc/interrupts", help="interrupts file (default /proc/interrupts)")
    p.add_argument("source", nargs="?", help="the live host (default) or a sysfs-like tree: the kernel's view is "
                                              "its msi_irqs/ directories")
    p.add_argument("--json", action="store_true", help="rows as JSON")
    p.add_argument("--path", action="store_true",
                   help="each vector followed to its handler: message, CPU and APIC ID, affinity, cross-check")
    p.add_argument("--html", metavar="FILE", help="with --path: also write the picture as an HTML page")
    p.set_defaults(run=run)


def run_path(args: argparse.Namespace, src) -> int:
    from ..capture.atomic import write_atomic
    from ..msi.path import interrupt_paths
    from ..render.irqpath import paths_html

    proc = None if args.proc == "/proc/interrupts" else str(Path(args.proc).parent)
    paths = interrupt_paths(src, args.selector, proc)
    if args.watch is not None:
        paths.sample(args.watch)
    if args.html:
        write_atomic(args.html, ("<!doctype html><meta charset='utf-8'><title>interrupt paths</title>"
                                 + paths_html(paths)).encode())
    if args.json:
        json.dump(paths.to_dict(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(paths.text())
    return 1 if paths.disagreements() else 0


def run(args: argparse.Namespace) -> int:
    from ..msi import kernel

    with open_source(args.source) as src:
        if src.kind != "sysfs":
            raise NotSupported("only the live host and sysfs-like trees have a kernel view of interrupts (msi_irqs/)",
                               file=src.name)
        selected(src, args.selector)
        if args.path:
            return run_path(args, src)
        sysfs = str(src.root)

    def read():
        return kernel.read_interrupts(args.proc)

    if args.watch is not None:
        df = kernel.sample(args.watch, 2, sysfs, args.selector, read=read)
        df = df[df["rate"].notna()].drop(columns=["time"])
    else:
        df = kernel.vectors(read(), sysfs, args.selector)
    if args.json:
        json.dump(json.loads(df.to_json(orient="records")), sys.stdout, indent=1)
        sys.stdout.write("\n")
    elif df.empty:
        sys.stdout.write("no function has MSI or MSI-X interrupts allocated by the kernel\n")
    else:
        from ..render.safe import printable

        # handler and driver names come from /proc/interrupts or a copy of it (--proc FILE)
        sys.stdout.write(printable(df.to_string(index=False), lines=True) + "\n")
    return 0

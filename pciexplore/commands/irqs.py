"""`pciexplore irqs`: the live kernel view of MSI/MSI-X vectors (msi_irqs/ + /proc/interrupts), with rates."""

from __future__ import annotations

import argparse
import json
import sys

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
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..msi import kernel

    with open_source(args.source) as src:
        if src.kind != "sysfs":
            raise NotSupported("only the live host and sysfs-like trees have a kernel view of interrupts (msi_irqs/)",
                               file=src.name)
        selected(src, args.selector)
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
        sys.stdout.write(df.to_string(index=False) + "\n")
    return 0

"""`pciexplore irqs`: the live kernel view of MSI/MSI-X vectors (msi_irqs/ + /proc/interrupts), with rates."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("irqs", help="per MSI/MSI-X vector: Linux IRQ, per-CPU counts, handler, rates")
    p.add_argument("-s", dest="selector", metavar="[[DOM:]BUS:]DEV.FN", help="only matching functions")
    p.add_argument("--watch", type=float, metavar="SECONDS", help="sample twice this far apart and show rates")
    p.add_argument("--proc", default="/proc/interrupts", help="interrupts file (default /proc/interrupts)")
    p.add_argument("--sysfs", default="/sys/bus/pci/devices", help="PCI devices directory")
    p.add_argument("--json", action="store_true", help="rows as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..msi import kernel

    def read():
        return kernel.read_interrupts(args.proc)

    if args.watch is not None:
        df = kernel.sample(args.watch, 2, args.sysfs, args.selector, read=read)
        df = df[df["rate"].notna()].drop(columns=["time"])
    else:
        df = kernel.vectors(read(), args.sysfs, args.selector)
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

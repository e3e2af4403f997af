"""`pciexplore doctor [SOURCE]`: check every function's interrupt set-up and say what was forgotten."""

from __future__ import annotations

import argparse
import json
import sys

from .. import open_source
from ..cli import limited, limited_note, selected
from ..words import plural


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="find mistakes in MSI/MSI-X set-up (masked vectors, bus master off, ...)")
    p.add_argument("-s", dest="selector", metavar="[[DOM:]BUS:]DEV.FN", help="only matching functions")
    p.add_argument("--json", action="store_true", help="findings as JSON")
    p.add_argument("source", nargs="?", help="dump file, raw config, capture, sysfs dir, sim:..., qemu:...")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..doctor import diagnose

    with open_source(args.source) as src:
        fns = selected(src, args.selector)
        findings = diagnose(src, args.selector)
        cut = limited(src, fns)
        checked = len(fns) - len(cut)
        if args.json:
            json.dump([f.to_dict() for f in findings], sys.stdout, indent=1)
            sys.stdout.write("\n")
        elif not findings and checked:  # an all-clear only for what could be read whole
            print(f"no findings: the interrupt set-up of {plural(checked, 'function')} looks sound"
                  + (f" ({len(cut)} not checked, see below)" if cut else ""))
        for f in [] if args.json else findings:
            print(f"{f.device} {f.severity.upper()} [{f.where}] {f.message}")
            print(f"    rule: {f.rule}")
            print(f"    fix:  {f.fix}")
        if cut:
            sys.stdout.flush()
            print(limited_note(cut, "their MSI, MSI-X and Express set-up could not be checked"), file=sys.stderr)
    return 1 if any(f.severity == "error" for f in findings) or not checked else 0

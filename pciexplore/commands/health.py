"""`pciexplore health [--json] [SOURCE]`: each PCIe function's link against its capability, the kernel's
AER counters, latched AER status and DPC, with the doctor's findings and fixes."""

from __future__ import annotations

import argparse
import json
import sys

from .. import open_source


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("health", help="PCIe link speed/width against capability, AER counters, DPC status")
    p.add_argument("-s", dest="selector", metavar="[[DOM:]BUS:]DEV.FN", help="only matching functions")
    p.add_argument("--json", action="store_true", help="facts and findings as JSON")
    p.add_argument("source", nargs="?", help="dump file, raw config, capture, sysfs dir, sim:..., qemu:...")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..health import findings, health

    with open_source(args.source) as src:
        rows = [(health(fn), list(findings(fn))) for fn in src.functions(args.selector)]
    if args.json:
        json.dump([{**h.to_dict(), "findings": [f.to_dict() for f in fs]} for h, fs in rows], sys.stdout, indent=1)
        sys.stdout.write("\n")
    for h, fs in [] if args.json else rows:
        if not (h.link or h.aer or h.rootport or h.uncor_status is not None or h.dpc_status is not None):
            continue
        parts = [f"link {h.link.text()}" if h.link else "no link"]
        if h.sysfs_link:
            parts.append("sysfs " + " ".join(f"{k}={v!r}" for k, v in h.sysfs_link.items()))
        parts += [f"{k.removeprefix('aer_dev_')} {c.total}" for k, c in h.aer.items()]
        parts += [f"{k.removeprefix('aer_rootport_total_err_')} (root) {v}" for k, v in h.rootport.items()]
        if h.uncor_status:
            parts.append(f"UESta {h.uncor_status:#010x}")
        if h.dpc_status is not None:
            parts.append("DPC triggered" if h.dpc_triggered else "DPC idle")
        print(f"{h.function} " + "; ".join(parts))
        for note in h.notes:
            print(f"    note: {note}")
        for f in fs:
            print(f"    {f.severity.upper()} [{f.where}] {f.message}")
            print(f"        fix: {f.fix}")
    if not args.json and not any(h.link or h.aer for h, _ in rows):
        print(f"no PCIe link or AER counters on the {len(rows)} functions")
    return 1 if any(f.severity == "error" for _, fs in rows for f in fs) else 0

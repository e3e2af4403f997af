"""`pciexplore diff A B`: field-level differences between two captures or any two sources."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("diff", help="field-level differences between two captures or sources")
    p.add_argument("a", help="capture, dump, raw config, sysfs, sim:..., qemu:...")
    p.add_argument("b", help="the same kinds")
    p.add_argument("-s", dest="selector", metavar="[[DOM:]BUS:]DEV.FN", help="only matching functions")
    p.add_argument("-t", dest="other_selector", metavar="[[DOM:]BUS:]DEV.FN",
                   help="functions of B to compare (default: as -s); with one function on each side, compares them")
    p.add_argument("--json", action="store_true", help="the differences as a JSON list")
    p.add_argument("--timeline", choices=("steps", "registers"),
                   help="compare the recorded bring-ups instead (captures of VMs run by 'pciexplore vm', or qmp:): "
                        "step for step with values, or register for register; functions named by device model")
    p.set_defaults(run=run)


def run_timeline(args: argparse.Namespace) -> int:
    from .. import open_source
    from ..errors import InputError

    timelines = []
    for spec, selector in ((args.a, args.selector), (args.b, args.other_selector or args.selector)):
        with open_source(spec) as src:
            tl = src.timeline() if callable(getattr(src, "timeline", None)) else None
        if tl is None:
            raise InputError("has no recorded bring-up (capture a VM started by 'pciexplore vm')", file=spec)
        timelines.append(tl.select(selector) if selector else tl)
    lines = timelines[0].diff(timelines[1], bdf=False, values=args.timeline == "steps")
    for line in lines:
        print(line)
    return 1 if lines else 0


def run(args: argparse.Namespace) -> int:
    """Exit status like diff(1): 0 when nothing differs, 1 when something does."""
    if args.timeline:
        return run_timeline(args)
    from ..diff import diff
    from ..render.safe import printable

    result = diff(args.a, args.b, args.selector, args.other_selector)
    if args.json:
        json.dump({"differences": [asdict(d) for d in result], "notes": result.notes}, sys.stdout, indent=1,
                  ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(printable(result, lines=True))  # values may be text from the files compared
    return 1 if len(result) else 0

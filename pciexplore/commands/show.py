"""`pciexplore show`: lspci's text for the same flags (or --json with every decoded field)."""

from __future__ import annotations

import argparse
import json
import sys

from .. import open_source
from ..render.lspci import LspciOptions, render_source


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("show", help="decode functions like lspci (-v/-vv/-vvv, -n/-nn) or as JSON")
    p.add_argument("-v", dest="verbose", action="count", default=0, help="verbose (repeat for more)")
    p.add_argument("-n", dest="numeric", action="count", default=0, help="numeric IDs (-nn: names and numbers)")
    p.add_argument("-s", dest="selector", metavar="[[DOM:]BUS:]DEV.FN", help="only matching functions")
    p.add_argument("-D", dest="domains", action="store_true", help="always show domain numbers")
    p.add_argument("-k", dest="kernel", action="store_true", help="show kernel drivers")
    p.add_argument("-x", dest="hex_dump", action="count", default=0, help="hex dump (-xxx 256, -xxxx 4096 bytes)")
    p.add_argument("--json", action="store_true", help="every decoded field as JSON")
    p.add_argument("source", nargs="?", help="dump file, raw config, capture, sysfs dir, sim:..., qemu:...")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with open_source(args.source) as src:
        if args.json:
            from ..render.json import source_to_json

            json.dump(source_to_json(src, args.selector), sys.stdout, indent=1)
            sys.stdout.write("\n")
            return 0
        opts = LspciOptions(verbose=args.verbose, numeric=args.numeric, domains=args.domains,
                            kernel=args.kernel, hex_dump=args.hex_dump)
        sys.stdout.write(render_source(src, opts, args.selector))
    return 0

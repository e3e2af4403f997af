"""`pciexplore tree`: the bus tree exactly as `lspci -t` draws it (drawing in render/tree.py)."""

from __future__ import annotations

import sys

from .. import open_source
from ..cli import selected
from ..render.lspci_header import function_filter
from ..render.tree import tree_json, tree_text

TYPE_CHECKING = False  # typing's constant without importing typing (nor argparse: see pciexplore.parser)
if TYPE_CHECKING:
    import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tree", help="the bus tree, exactly as lspci -t draws it")
    p.add_argument("-v", dest="verbose", action="count", default=0, help="show vendor and device names")
    p.add_argument("-n", dest="numeric", action="count", default=0, help="numeric IDs (-nn: names and numbers)")
    p.add_argument("-s", dest="selector", metavar="[[DOM:]BUS:]DEV.FN", help="only branches leading to these")
    p.add_argument("-d", dest="ids", metavar="[VENDOR]:[DEVICE][:CLASS[:PROGIF]]", help="only these ids")
    p.add_argument("--json", action="store_true", help="the tree as nested objects: buses, devices, bridges")
    p.add_argument("source", nargs="?", help="dump file, raw config, capture, sysfs dir, sim:..., qemu:...")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with open_source(args.source) as src:
        wanted = function_filter(args.selector, args.ids)
        selected(src, None, wanted)
        if args.json:
            import json  # here: json imports re, which a plain listing does without

            json.dump(tree_json(src, wanted), sys.stdout, indent=1, ensure_ascii=False)
            sys.stdout.write("\n")
        else:
            sys.stdout.write(tree_text(src, wanted, bool(args.verbose), args.numeric))
    return 0

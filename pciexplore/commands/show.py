"""`pciexplore show`: lspci's text for the same flags (or --json with every decoded field)."""

from __future__ import annotations

import sys

from .. import open_source
from ..cli import limited, selected
from ..cli import limited_note as limited_note_for
from ..render.lspci import LspciOptions, render_source
from ..render.lspci_header import function_filter
from ..render.safe import RAW_BYTES
from ..sources.base import Source

TYPE_CHECKING = False  # typing's constant without importing typing (nor argparse: see pciexplore.parser)
if TYPE_CHECKING:
    import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("show", help="decode functions like lspci (-v/-vv/-vvv, -n/-nn, -x/-xxx/-xxxx) or as JSON")
    p.add_argument("-v", dest="verbose", action="count", default=0, help="verbose (repeat for more)")
    p.add_argument("-n", dest="numeric", action="count", default=0, help="numeric IDs (-nn: names and numbers)")
    p.add_argument("-s", dest="selector", metavar="[[DOM:]BUS:]DEV.FN", help="only matching functions")
    p.add_argument("-D", dest="domains", action="store_true", help="always show domain numbers")
    p.add_argument("-k", dest="kernel", action="store_true", help="show kernel drivers")
    p.add_argument("-x", dest="hex_dump", action="count", default=0, help="hex dump (-xxx 256, -xxxx 4096 bytes)")
    p.add_argument("-d", dest="ids", metavar="[VENDOR]:[DEVICE][:CLASS[:PROGIF]]", help="only these ids")
    p.add_argument("-P", dest="path", action="count", default=0, help="show the bridge path (-PP: bus path)")
    p.add_argument("-m", dest="machine", action="count", default=0, help="machine-readable (-mm: the current format)")
    p.add_argument("--json", action="store_true", help="every decoded field as JSON (docs/json-schema.md)")
    p.add_argument("source", nargs="?", help="dump file, raw config, capture, sysfs dir, sim:..., qemu:...")
    p.set_defaults(run=run)


def limited_note(src: Source) -> str | None:
    """One line for stderr when the live host let us read only the first 64 bytes (not root)."""
    # the source records it where the file was longer than what it gave (a 64-byte config file in a copied
    # or fake tree is simply short, and lspci shows it the same way)
    cut = limited(src, src.functions())
    return limited_note_for(cut, "capabilities beyond them show as <access denied>") if cut else None


def run(args: argparse.Namespace) -> int:
    with open_source(args.source) as src:
        selected(src, args.selector, function_filter(None, args.ids))
        if args.json:
            import json

            from ..render.json import source_to_json

            json.dump(source_to_json(src, args.selector), sys.stdout, indent=1)
            sys.stdout.write("\n")
            return 0
        if hasattr(sys.stdout, "reconfigure"):
            sys.stdout.reconfigure(errors=RAW_BYTES)  # raw bytes lspci would print, e.g. %c
        opts = LspciOptions(verbose=args.verbose, numeric=args.numeric, domains=args.domains,
                            kernel=args.kernel, hex_dump=args.hex_dump, machine=args.machine,
                            path=args.path, ids=args.ids)
        sys.stdout.write(render_source(src, opts, args.selector))
        note = limited_note(src)
        if note:
            sys.stdout.flush()
            print(note, file=sys.stderr)
    return 0

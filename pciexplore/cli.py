"""`pciexplore` command line: one sub-command per module in `pciexplore.commands`.

Each command module defines `register(subparsers)` adding its parser with `set_defaults(run=...)`;
`run(args)` returns the exit status.  Errors the kit raises on purpose become one line on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from . import commands
from .errors import PciError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pciexplore", description="Explore PCI/PCIe devices and their interrupts.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        importlib.import_module(f"{commands.__name__}.{info.name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except PciError as e:
        print(f"pciexplore: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # a bug of ours: one line for the user, the traceback on request
        if os.environ.get("PCIEXPLORE_DEBUG"):
            raise
        print(f"pciexplore: internal error {type(e).__name__}: {e} (set PCIEXPLORE_DEBUG=1 for the traceback "
              "and please report it)", file=sys.stderr)
        return 70


if __name__ == "__main__":
    sys.exit(main())

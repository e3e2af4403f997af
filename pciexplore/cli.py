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
import warnings

from . import commands
from .errors import PciError
from .render.safe import printable


def command_names() -> list[str]:
    """Sub-command names: one module each in `pciexplore.commands`, named like the command."""
    return sorted(info.name for info in pkgutil.iter_modules(commands.__path__))


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `only` naming a command, just that command's module is imported (so
    `pciexplore show` does not pay for the capture, QEMU and dashboard modules)."""
    parser = argparse.ArgumentParser(prog="pciexplore", description="Explore PCI/PCIe devices and their interrupts.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in [only] if only else command_names():
        importlib.import_module(f"{commands.__name__}.{name}").register(sub)
    return parser


def _one_line(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning (a limit reached, see errors.LimitReached) as one line on stderr, like an error."""
    print(f"pciexplore: warning: {printable(message)}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    first = argv[0] if argv else None
    parser = build_parser(first if first in command_names() else None)
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    for stream in (sys.stdout, sys.stderr):  # a string no encoder takes is shown escaped, never a crash
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    warnings.showwarning = _one_line
    try:
        return int(args.run(args) or 0)
    except PciError as e:
        print(f"pciexplore: {printable(e)}", file=sys.stderr)  # names files and quotes their bytes
        return 1
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # a bug of ours: one line for the user, the traceback on request
        if os.environ.get("PCIEXPLORE_DEBUG"):
            raise
        print(f"pciexplore: internal error {type(e).__name__}: {printable(e)} (set PCIEXPLORE_DEBUG=1 for the traceback "
              "and please report it)", file=sys.stderr)
        return 70


if __name__ == "__main__":
    sys.exit(main())

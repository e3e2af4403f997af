"""`pciexplore` command line: one sub-command per module in `pciexplore.commands`.

Each command module defines `register(subparsers)` adding its parser with `set_defaults(run=...)`;
`run(args)` returns the exit status.  Errors the kit raises on purpose become one line on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Callable

from . import commands
from .errors import InputError, PciError
from .render.safe import printable
from .words import plural

TYPE_CHECKING = False  # typing's constant without importing typing: every command's start-up pays for it
if TYPE_CHECKING:
    from .model import Function
    from .sources.base import Source


def command_names() -> list[str]:
    """Sub-command names: one module each in `pciexplore.commands`, named like the command (listed from its
    directory: pkgutil would cost every command's start-up the typing module, which pkgutil imports)."""
    return sorted(name[:-3] for path in commands.__path__ for name in os.listdir(path)
                  if name.endswith(".py") and not name.startswith("_"))


def selected(src: Source, selector: str | None = None,
             wanted: Callable[[Function], bool] | None = None) -> list[Function]:
    """The functions a command works on; a one-line error when the source holds none (a directory that
    is no PCI tree) or the filter matches none, so no command reports on nothing as if all were well."""
    every = src.functions()
    if not every:
        what = "directory holds no PCI functions (want one laid out like /sys/bus/pci/devices)" \
            if src.kind == "sysfs" else "source holds no PCI functions"
        raise InputError(f"this {what}", file=src.name)
    fns = src.functions(selector)
    if wanted is not None:
        fns = [fn for fn in fns if wanted(fn)]
    if not fns:
        raise InputError("no function matches the selection (-s/-d)", file=src.name)
    return fns


def limited(src: Source, fns: list[Function]) -> list[Function]:
    """Those of `fns` whose config space the live host let us read only in part (not root)."""
    cut = getattr(src, "limited", None) or {}
    return [fn for fn in fns if fn.address in cut]


def limited_note(fns: list[Function], consequence: str) -> str:
    """One line for stderr naming the functions read only in part, what that hides, and why."""
    some = ", ".join(str(fn.address) for fn in fns[:3]) + (", ..." if len(fns) > 3 else "")
    return (f"pciexplore: note: only the first 64 bytes of config space were readable for "
            f"{plural(len(fns), 'function')} ({some}); {consequence} -- run as root to read all")


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, told the terminal's width only when it writes help: argparse builds one at every
    add_argument, and finding the width imports shutil (with bz2 and lzma), ~8M instructions a start-up."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        self._width_asked, self._max_help_position_asked = width, max_help_position
        super().__init__(prog, indent_increment, max_help_position, 80 if width is None else width)

    def format_help(self) -> str:
        if self._width_asked is None:  # the widths argparse itself works out from the terminal's
            sized = argparse.HelpFormatter(self._prog, self._indent_increment, self._max_help_position_asked)
            self._width, self._max_help_position = sized._width, sized._max_help_position
        return super().format_help()


class _Parser(argparse.ArgumentParser):
    """ArgumentParser with the formatter above; the sub-command parsers are made of the same class."""

    def __init__(self, *args, formatter_class: type = _HelpFormatter, **kwargs) -> None:
        super().__init__(*args, formatter_class=formatter_class, **kwargs)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `only` naming a command, just that command's module is imported (so
    `pciexplore show` does not pay for the capture, QEMU and dashboard modules)."""
    from . import __version__

    parser = _Parser(prog="pciexplore", description="Explore PCI/PCIe devices and their interrupts.")
    parser.add_argument("--version", action="version", version=f"pciexplore {__version__}")
    # prog given, as argparse would work it out: working it out builds a help formatter, which imports shutil
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", prog="pciexplore")
    for name in [only] if only else command_names():
        importlib.import_module(f"{commands.__name__}.{name}").register(sub)
    return parser


def _one_line(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning (a limit reached, see errors.LimitReached) as one line on stderr, like an error."""
    print(f"pciexplore: warning: {printable(message)}", file=sys.stderr)


def main(argv: list[str] | None = None, started: Callable[[], None] | None = None) -> int:
    """Run one command line; `started` is called once it is parsed, before the command runs."""
    argv = sys.argv[1:] if argv is None else argv
    first = argv[0] if argv else None
    parser = build_parser(first if first in command_names() else None)
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    if started is not None:
        started()
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

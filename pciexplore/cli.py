"""`pciexplore` command line: one sub-command per module in `pciexplore.commands`.

Each command module defines `register(subparsers)` adding its parser with `set_defaults(run=...)`;
`run(args)` returns the exit status.  Errors the kit raises on purpose become one line on stderr.
A plain command line (`show -vvv -s 00:03.0`) is read from those declarations directly (_Declared); argparse
(pciexplore.parser) reads every other one, and writes help and usage errors.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from collections.abc import Callable
from types import SimpleNamespace

from . import commands
from .errors import InputError, PciError
from .render.safe import printable
from .words import plural

TYPE_CHECKING = False  # typing's constant without importing typing: every command's start-up pays for it
if TYPE_CHECKING:
    import argparse

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


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """argparse's parser (pciexplore.parser); with `only` naming a command, just that command's module is
    imported (so `pciexplore show` does not pay for the capture, QEMU and dashboard modules)."""
    from .parser import build_parser

    return build_parser(only)


SUPPRESS = "==SUPPRESS=="  # argparse.SUPPRESS's value, without importing argparse


class _NotPlain(Exception):
    """The command declares, or the command line holds, something only argparse reads."""


class _Declared:
    """One command's arguments as its `register` declares them, kept rather than built into argparse parsers:
    importing argparse (gettext, locale, re and the enum module re imports) and building its parsers cost a
    live `show` ~28M of its 114.6M instructions.  Plain flags, valued options and one optional positional;
    anything else is _NotPlain, and argparse reads the line (tests/test_startup_cli.py holds the two equal)."""

    def __init__(self) -> None:
        self.flags: dict[str, tuple[str, str | None]] = {}  # "-v" -> (dest, action: "count", "store_true", None)
        self.defaults: dict[str, object] = {}  # every dest's default, in declaration order, then set_defaults'
        self.positional: str | None = None
        self.name: str | None = None

    def add_parser(self, name: str, *, help: str | None = None, description: str | None = None,  # noqa: A002
                   epilog: str | None = None) -> _Declared:
        if self.name is not None:  # a second parser: not one command's plain arguments
            raise _NotPlain
        self.name = name
        return self

    def add_argument(self, *names: str, action: str | None = None, dest: str | None = None, default: object = None,
                     nargs: str | None = None, help: str | None = None, metavar: str | None = None) -> None:  # noqa: A002
        if len(names) != 1 or default == SUPPRESS:
            raise _NotPlain
        name = names[0]
        if not name.startswith("-"):
            if nargs != "?" or self.positional or action or dest:
                raise _NotPlain
            self.positional = name
            self.defaults[name] = default
            return
        short = len(name) == 2 and name[1] != "-"
        if nargs is not None or not (short or name.startswith("--")) or action not in ("count", "store_true", None) \
                or (action is None and not short):
            raise _NotPlain
        dest = dest or name.lstrip("-").replace("-", "_")
        if dest in ("command", *self.defaults):  # argparse's own dest for the command, or one dest twice
            raise _NotPlain
        self.flags[name] = (dest, action)
        self.defaults[dest] = False if action == "store_true" and default is None else default

    def set_defaults(self, **kwargs: object) -> None:
        if not kwargs.keys().isdisjoint(self.defaults):
            raise _NotPlain  # argparse gives an argument's own default the set_defaults value then
        self.defaults.update(kwargs)

    def read(self, command: str, argv: list[str]) -> SimpleNamespace:
        """What argparse gives for `argv` (after the command's name), for a command line of plain flags:
        "-vvv", "-s X", "-sX", "-vs X", "--json", one positional; raises _NotPlain for anything else."""
        if self.name != command:
            raise _NotPlain
        values = {"command": command, **self.defaults}
        positional = self.positional
        i = 0
        while i < len(argv):
            arg = argv[i]
            i += 1
            if not arg.startswith("-"):
                if positional is None:
                    raise _NotPlain
                values[positional], positional = arg, None
                continue
            if "=" in arg or arg == "-":
                raise _NotPlain
            letters = [arg] if arg.startswith("--") else ["-" + c for c in arg[1:]]
            for k, flag in enumerate(letters):
                if flag not in self.flags:
                    raise _NotPlain
                dest, action = self.flags[flag]
                if action == "count":
                    values[dest] = (values[dest] or 0) + 1
                elif action == "store_true":
                    values[dest] = True
                else:  # the value: the rest of the cluster, or the next argument
                    rest = arg[k + 2:]
                    if not rest:
                        if i == len(argv) or argv[i].startswith("-"):
                            raise _NotPlain
                        rest, i = argv[i], i + 1
                    values[dest] = rest
                    break
        return SimpleNamespace(**values)


def plain_args(command: str, argv: list[str]) -> SimpleNamespace | None:
    """`argv` read as argparse reads it, without building argparse's parsers, where the command declares
    only plain arguments and the line is plain (see _Declared); None where argparse must read it."""
    declared = _Declared()
    try:
        importlib.import_module(f"{commands.__name__}.{command}").register(declared)
        return declared.read(command, argv)
    except (_NotPlain, TypeError, AttributeError):
        return None


def _one_line(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning (a limit reached, see errors.LimitReached) as one line on stderr, like an error."""
    print(f"pciexplore: warning: {printable(message)}", file=sys.stderr)


def main(argv: list[str] | None = None, started: Callable[[], None] | None = None) -> int:
    """Run one command line; `started` is called once it is parsed, before the command runs."""
    argv = sys.argv[1:] if argv is None else argv
    first = argv[0] if argv else None
    command = first if first in command_names() else None
    args = plain_args(command, argv[1:]) if command else None
    if args is None or not getattr(args, "run", None):
        parser = build_parser(command)
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

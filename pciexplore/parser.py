"""argparse's parser of the command line (help, errors, and every command line the plain reader in
pciexplore.cli leaves to it).  A module of its own: argparse imports gettext, locale and re, ~30M instructions
that a plain `pciexplore show` does without."""

from __future__ import annotations

import argparse
import importlib

from . import commands
from .cli import command_names


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
    """The parser, of every command or of the one `only` names."""
    from . import __version__

    parser = _Parser(prog="pciexplore", description="Explore PCI/PCIe devices and their interrupts.")
    parser.add_argument("--version", action="version", version=f"pciexplore {__version__}")
    # prog given, as argparse would work it out: working it out builds a help formatter, which imports shutil
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", prog="pciexplore")
    for name in [only] if only else command_names():
        importlib.import_module(f"{commands.__name__}.{name}").register(sub)
    return parser

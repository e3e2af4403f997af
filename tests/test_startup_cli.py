"""cli.plain_args, which reads a plain command line without building argparse's parsers, gives exactly
what argparse gives, or None (then argparse reads it, help and errors included)."""

from __future__ import annotations

import contextlib
import io
import itertools

from pciexplore import cli

PIECES = ["-v", "-vvv", "-n", "-nn", "-s", "00:03.0", "-s00:03.0", "-vs", "-sv", "-k", "-D", "-x", "-xxx", "-d",
          "1af4:", "-P", "-m", "-mm", "--json", "--js", "--json=1", "dump.lspci", "", "-", "--", "-h", "--help",
          "-1", "-s=00:03.0", "-v x", "-q", "--bogus", "-kD", "-kvd", "sim:msix", "-o", "out.json"]


def argparse_reads(argv: list[str]):
    """vars() of what argparse makes of `argv`, or the exit it takes (help, usage error)."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            return vars(cli.build_parser(argv[0]).parse_args(argv))
        except SystemExit as e:
            return ("exit", e.code)


def test_plain_args_reads_as_argparse_does() -> None:
    read_plainly = 0
    for command in cli.command_names():
        for n in range(4):
            for tail in itertools.product(PIECES, repeat=n) if n < 3 else itertools.islice(
                    itertools.product(PIECES, repeat=n), 0, None, 7):
                argv = [command, *tail]
                plain = cli.plain_args(command, list(tail))
                if plain is not None:
                    read_plainly += 1
                    assert vars(plain) == argparse_reads(argv), argv
    assert read_plainly > 1000  # show's, ls's and tree's plain lines at least


def test_what_only_argparse_reads_is_left_to_it() -> None:
    import argparse

    import pytest

    declarations = [lambda p: p.add_argument("-f", type=int), lambda p: p.add_argument("-f", required=True),
                    lambda p: p.add_argument("-f", default=argparse.SUPPRESS), lambda p: p.add_argument("--file"),
                    lambda p: p.add_argument("-f", "--file", action="store_true"),
                    lambda p: p.add_argument("files", nargs="*"), lambda p: p.add_argument("file"),
                    lambda p: p.add_argument("-f", action="append"), lambda p: p.add_mutually_exclusive_group(),
                    lambda p: p.add_subparsers(), lambda p: p.add_argument("-c", dest="command"),
                    lambda p: (p.add_argument("-f", dest="x", action="count"), p.set_defaults(x=3))]
    for declare in declarations:
        declared = cli._Declared()
        with pytest.raises((cli._NotPlain, TypeError, AttributeError)):
            declare(declared.add_parser("x", help="h"))
    with pytest.raises(TypeError):  # a parser of other prefix characters, or any other setting, is argparse's
        cli._Declared().add_parser("x", prefix_chars="+")

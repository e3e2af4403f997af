"""The CLI's help formatter, which learns the terminal's width only when it writes help, against argparse's own
HelpFormatter (the reference): the same help and usage text at a narrow and a wide terminal."""

from __future__ import annotations

import argparse

import pytest

from pciexplore import cli


def _texts(parser: argparse.ArgumentParser) -> list[str]:
    """Help and usage of the top-level parser and of `show`'s."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return [text for p in (parser, sub.choices["show"]) for text in (p.format_help(), p.format_usage())]


def _reference(parser: argparse.ArgumentParser) -> list[str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for p in (parser, sub.choices["show"]):
        p.formatter_class = argparse.HelpFormatter
    return _texts(parser)


def test_help_as_argparse_writes_it_at_any_width(monkeypatch: pytest.MonkeyPatch) -> None:
    by_width = {}
    for columns in ("40", "200"):
        monkeypatch.setenv("COLUMNS", columns)
        ours = _texts(cli.build_parser("show"))
        assert ours == _reference(cli.build_parser("show"))
        by_width[columns] = ours
    assert by_width["40"] != by_width["200"]  # the width was used, not a fixed one

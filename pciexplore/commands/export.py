"""`pciexplore export [SOURCE] --lspci FILE --html FILE`: lspci -xxxx text that `lspci -F` reads, or one
self-contained HTML page."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from .. import open_source
from ..cli import selected
from ..errors import InputError
from ..render.safe import encode_text, printable

if TYPE_CHECKING:
    from ..sources.base import Source


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write lspci -xxxx text (for lspci -F) and/or a static HTML report")
    p.add_argument("source", nargs="?", help="capture (or any source: dump, raw, sysfs, sim:..., qemu:...)")
    p.add_argument("-s", dest="selector", metavar="[[DOM:]BUS:]DEV.FN", help="only matching functions")
    p.add_argument("--lspci", metavar="FILE", help="lspci -xxxx text (- for standard output)")
    p.add_argument("--html", metavar="FILE", help="one self-contained HTML page (- for standard output)")
    p.add_argument("--title", help="title of the HTML page")
    p.set_defaults(run=run)


def lspci_text(source: Source, selector: str | None = None) -> str:
    """Every function as `lspci -xxxx` prints it: the first line, then every config byte there is.

    lspci itself dumps 64, 256 or 4096 bytes; a capture may hold another length (a raw file, a cut
    dump), and `lspci -F` reads any length back, so all of them are written, 16 to a line."""
    from ..render.lspci import LspciOptions, render_source

    titles = render_source(source, LspciOptions(), selector).splitlines()
    out = []
    for title, fn in zip(titles, source.functions(selector), strict=True):
        cfg = fn.config
        out.append(title + "\n" + "".join(f"{i:02x}: {cfg[i:i + 16].hex(' ')}\n" for i in range(0, len(cfg), 16))
                   + "\n")
    return "".join(out)


def run(args: argparse.Namespace) -> int:
    if not args.lspci and not args.html:
        raise InputError("nothing to do: give --lspci FILE and/or --html FILE")
    if args.lspci == "-" and args.html == "-":
        raise InputError("only one of --lspci and --html can go to standard output (-)")
    with open_source(args.source) as src:
        selected(src, args.selector)
        if args.lspci:
            _write(args.lspci, encode_text(lspci_text(src, args.selector)), "lspci -xxxx text")
        if args.html:
            from ..render.html import render_html

            # a lone surrogate shows as a visible \udcXX: the page stays UTF-8
            _write(args.html, render_html(src, args.selector, args.title).encode("utf-8", "backslashreplace"),
                   "HTML report")
    return 0


def _write(target: str, data: bytes, what: str) -> None:
    """To a file (atomically, then one line saying so) or, for "-", to standard output as it is."""
    from ..capture.atomic import write_atomic

    if target == "-":
        sys.stdout.flush()
        raw = getattr(sys.stdout, "buffer", None)  # the bytes as they are; a text-only stream gets text
        if raw is not None:
            raw.write(data)
        else:
            sys.stdout.write(data.decode("utf-8", "surrogateescape"))
        sys.stdout.flush()
        return
    write_atomic(target, data)
    print(f"{printable(target)}: {what}")

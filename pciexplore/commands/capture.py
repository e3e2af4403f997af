"""`pciexplore capture [SOURCE] -o FILE`: the whole state of every function into one annotated JSON file."""

from __future__ import annotations

import argparse
import shlex
import sys

from .. import open_source
from ..errors import InputError
from ..render.safe import printable
from ..words import plural


def parse_window(text: str) -> tuple[int, int, int]:
    """BAR:OFFSET:SIZE, numbers in C notation (0x... hex), e.g. 2:0x3000:0x40."""
    parts = text.split(":")
    try:
        bar, offset, size = (int(p, 0) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected BAR:OFFSET:SIZE (e.g. 2:0x3000:0x40), got {text!r}") from None
    if not 0 <= bar <= 6 or offset < 0 or size <= 0:
        raise argparse.ArgumentTypeError(f"BAR must be 0-6, OFFSET >= 0 and SIZE > 0 in {text!r}")
    return bar, offset, size


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("capture", help="save config space, MSI-X table/PBA and the kernel's view to a capture file")
    p.add_argument("source", nargs="?", help="sysfs (default), dump file, raw config, capture, sim:..., qemu:...")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="capture file to write (atomically)")
    p.add_argument("-s", dest="selector", metavar="[[DOM:]BUS:]DEV.FN", help="only matching functions")
    p.add_argument("--bar", dest="bars", action="append", type=parse_window, default=[], metavar="BAR:OFFSET:SIZE",
                   help="also read this BAR window of every function that has it (repeatable)")
    p.add_argument("--title", default="", help="a title for the capture")
    p.add_argument("--description", default="", help="what this capture shows")
    p.set_defaults(run=run)


def _command_line(args: argparse.Namespace) -> str:
    words = ["pciexplore", "capture", *([args.source] if args.source else []), "-o", args.output]
    words += ["-s", args.selector] if args.selector else []
    for bar, offset, size in args.bars:
        words += ["--bar", f"{bar}:0x{offset:x}:0x{size:x}"]
    return shlex.join(words)


def run(args: argparse.Namespace) -> int:
    from ..capture import take

    with open_source(args.source) as src:
        cap = take(src, args.selector, bars=args.bars, title=args.title, description=args.description,
                   how=_command_line(args))
    if not len(cap):
        raise InputError("no function matched: nothing captured")
    path = cap.save(args.output)
    if "repeated" in cap.metadata.get("extra", {}):
        print(f"pciexplore: warning: {printable(cap.metadata['extra']['repeated'])}", file=sys.stderr)
    windows = sum(len(cap.windows(a)) for a in cap.addresses())
    missing = sum(len(cap.captured(a).missing) for a in cap.addresses())
    print(f"{printable(path)}: {plural(len(cap), 'function')}, {plural(windows, 'BAR window')} captured"
          + (f", {missing} not readable (see 'missing' in the file)" if missing else ""))
    return 0

"""`pciexplore annotate FILE ...`: add a note to a capture, list its notes, or merge another copy's notes."""

from __future__ import annotations

import argparse

from ..capture import open_capture
from ..errors import InputError
from ..render.safe import printable
from ..words import plural


def number(text: str) -> int:
    """An integer in C notation (0x.. hex), as argparse's type."""
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r} (use 0x.. for hex)") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("annotate", help="add, list or merge annotations of a capture file")
    p.add_argument("file", help="capture file (rewritten atomically)")
    p.add_argument("-s", dest="selector", metavar="[[DOM:]BUS:]DEV.FN", help="the function the note is about")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--field", metavar="NAME", help="a register or field name, e.g. PCI_MSIX_FLAGS_MASKALL")
    what.add_argument("--offset", type=number, metavar="OFF", help="first byte (0x.. for hex)")
    p.add_argument("--length", type=number, default=1, metavar="N", help="bytes from --offset")
    p.add_argument("--bar", type=int, metavar="BAR", help="--offset is in this captured BAR window, not config")
    p.add_argument("--text", "--message", dest="text", help="the note (-m is show's machine-readable flag)")
    p.add_argument("--author", help="who wrote it (default: your user name)")
    p.add_argument("--tag", dest="tags", action="append", default=[], help="a tag (repeatable)")
    p.add_argument("--list", action="store_true", help="print the notes")
    p.add_argument("--merge", metavar="OTHER", action="append", default=[],
                   help="take in the notes of another copy of the same capture (repeatable)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cap = open_capture(args.file)
    done: list[str] = []  # printed only once the file is saved: on a full disk nothing was noted
    for other in args.merge:
        added = cap.merge(open_capture(other))
        done.append(f"{printable(other)}: {plural(added, 'annotation')} merged")
    if args.text is not None:
        if not args.selector:
            raise InputError("say which function the note is about with -s BDF")
        if args.field is None and args.offset is None:
            raise InputError("say which bytes the note is about: --field NAME or --offset OFF [--length N]")
        target = args.field if args.field is not None else (args.offset, args.length)
        fn = cap.function(args.selector)
        note = cap.annotate(fn, target, args.text, author=args.author, tags=args.tags, bar=args.bar)
        done.append(f"{fn.address} {printable(note.where)}: noted")
    elif args.field is not None or args.offset is not None:
        raise InputError("give the note's text with --text TEXT")
    if done:
        cap.save()
        print("\n".join(done))
    if args.list or not done:
        for a in cap.annotations:
            tags = f" [{', '.join(a.tags)}]" if a.tags else ""
            # one line per note whatever it holds: terminal escapes, \r or \n in a shared file stay visible
            print(printable(f"{a.function} {a.where}{tags} {a.author} {a.time}: {a.text}"))
    return 0

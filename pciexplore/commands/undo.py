"""`pciexplore undo [SOURCE]`: revert the last journaled writes made under a sysfs root (the live host by
default), newest first, after checking the bytes are still what was written."""

from __future__ import annotations

import argparse

from .. import open_source
from ..errors import NotSupported


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("undo", help="revert the last journaled writes to the live host or a sysfs tree")
    p.add_argument("source", nargs="?", help="the live host (default) or a sysfs-like tree")
    p.add_argument("--steps", type=int, default=1, metavar="N", help="how many writes (default 1)")
    p.add_argument("--force", action="store_true", help="write the old value even where the bytes changed since")
    p.add_argument("--journal", metavar="FILE", help="the journal (default ~/.local/state/pciexplore/live-writes.jsonl)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with open_source(args.source) as probe:
        if probe.kind != "sysfs":
            raise NotSupported("only the live host and sysfs-like trees journal their writes", file=probe.name)
        root = probe.root
    with open_source(str(root), allow_writes=True, journal=args.journal) as src:
        done = src.undo(args.steps, args.force)
    print(f"{len(done)} write{'s' if len(done) != 1 else ''} undone")
    return 0

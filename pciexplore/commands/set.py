"""`pciexplore set`: setpci's language (reads, writes, masks, capabilities) plus pci_regs.h names and
MSI-X entries; shows each write and writes only with --write, journaled on the live host."""

from __future__ import annotations

import argparse
import sys

from .. import open_source
from ..cli import limited, limited_note
from ..errors import InputError, ReadOnlyError

USAGE = ("pciexplore set [--source SPEC] [--write] [--journal FILE] [-f] [--dumpregs] "
         "(-s [[DOM:]BUS:]DEV.FN | -d [VENDOR]:[DEVICE])+ EXPR[=VALUE[:MASK][,VALUE...]]...")
HELP = f"""usage: {USAGE}

EXPR is setpci's syntax: a named register (setpci --dumpregs), a hex offset, CAP_xx / ECAP_xx or CAPnn /
ECAPnnnn with +OFFSET, a width .B/.W/.L, @N for the N-th such capability; or a pci_regs.h register or
field (PCI_COMMAND, PCI_COMMAND_MASTER) or an MSI-X entry (MSIX[3].VECTOR_CTRL, MSIX[3].MASKBIT,
MSIX[3].DATA). Values are hex. A read prints the value as setpci does; a write is shown
("would write ...") and done only with --write.

  --source SPEC   where (default: this host; a sysfs-like tree, sim:..., qemu:...)
  --write         really write (the live host and sysfs trees: shown on stderr and journaled first;
                  `pciexplore undo` reverts)
  --journal FILE  the journal of live writes (default ~/.local/state/pciexplore/live-writes.jsonl)
  -f              a group that selects no function is skipped, not refused
  --dumpregs      the setpci register names, as setpci --dumpregs prints them
"""


class _Words(argparse.Action):
    """All words, in order (setpci's -s/-d may come between operations); -h/--help prints the help."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        if any(w in ("-h", "--help") for w in values):
            sys.stdout.write(HELP)
            parser.exit(0)
        setattr(namespace, self.dest, values)


def register(sub: argparse._SubParsersAction) -> None:
    # every word is parsed here, not by argparse ("+" is a prefix no word of ours starts with)
    p = sub.add_parser("set", help="read and write registers with setpci's syntax and the kit's names",
                       usage=USAGE, prefix_chars="+", add_help=False)
    p.add_argument("words", nargs="*", action=_Words)
    p.set_defaults(run=run)


def _options(words: list[str]) -> tuple[dict, list[str]]:
    opts: dict = {"source": None, "write": False, "journal": None, "force": False, "dumpregs": False}
    rest: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        i += 1
        name, eq, value = w.partition("=")
        if name in ("--source", "--journal"):
            if not eq:
                if i >= len(words):
                    raise InputError(f"{name} wants a value")
                value, i = words[i], i + 1
            opts[name[2:]] = value
        elif w == "--write":
            opts["write"] = True
        elif w == "-f":
            opts["force"] = True
        elif w == "--dumpregs":
            opts["dumpregs"] = True
        elif w.startswith("--"):
            raise InputError(f"set: unknown option {w}")
        else:
            rest.append(w)
    return opts, rest


def open_for(spec: str | None, write: bool, journal: str | None):
    """The source, opened through its opt-in path when writing (sysfs: allow_writes and the journal)."""
    src = open_source(spec)
    if not write:
        return src
    if src.kind == "sysfs":
        root = src.root
        src.close()
        return open_source(str(root), allow_writes=True, journal=journal)
    if not src.writable:
        src.close()
        raise ReadOnlyError(f"a {src.kind} source is a record and cannot be written (drop --write to see "
                            "what would be written)", file=src.name)
    return src


def run(args: argparse.Namespace) -> int:
    from ..setpci import Runner, parse_words

    opts, words = _options(args.words)
    if opts["dumpregs"]:
        from ..setpci import dumpregs

        sys.stdout.write(dumpregs())
        return 0
    groups = parse_words(words)  # everything is checked before anything is read or written
    writes = any(op.writes for g in groups for op in g.ops)
    with open_for(opts["source"], opts["write"] and writes, opts["journal"]) as src:
        def out(line: str) -> None:
            sys.stdout.write(line + "\n")

        Runner(src, opts["write"], out, lambda line: print(f"pciexplore: {line}", file=sys.stderr)).run(
            groups, opts["force"])
        cut = limited(src, src.functions())
        if cut:  # setpci prints ff for what it cannot read; say why (a refusal above says it in its one line)
            sys.stdout.flush()
            print(limited_note(cut, "reads past them show as ff"), file=sys.stderr)
    return 0

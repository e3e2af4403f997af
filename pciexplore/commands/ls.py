"""`pciexplore ls`: one line per function -- address, ids, class, driver, link health, capabilities, names.

    0000:00:03.0 1af4:1041 0200 virtio-pci -  vndr*5,msix  Ethernet controller: Red Hat, Inc. Virtio 1.0 ...

The health word (pciexplore.health.summary) is "-" without a PCIe link or AER, "ok", or what is wrong
("link:8GT/sx4<16GT/sx16", "cor:12", "dpc").

Columns are separated by blanks and never empty ("-" for no driver or no capabilities, "?" for
capabilities that could not be read), so the output is easy to grep and cut; names come last because
they contain blanks.
"""

from __future__ import annotations

import sys

from .. import names, open_source
from ..cli import limited, limited_note, selected
from ..health import summary
from ..model import Function
from ..render.lspci_header import DeviceFacts
from ..sources.base import Source

TYPE_CHECKING = False  # typing's constant without importing typing (nor argparse: see pciexplore.parser)
if TYPE_CHECKING:
    import argparse


def _unreadable(fn: Function) -> bool:
    """Config space read only in part (not root): the capabilities are unknown, not absent."""
    return fn.address in (getattr(fn.source, "limited", None) or {})


def ls_line(fn: Function) -> str:
    d = DeviceFacts(fn)
    ids = names.default()
    keys = [c.key for c in fn.capabilities]
    caps = ",".join(k if keys.count(k) == 1 else f"{k}*{keys.count(k)}" for k in dict.fromkeys(keys)) or (
        "?" if _unreadable(fn) else "-")
    problems = f" !{len(fn.problems)}" if fn.problems else ""
    return (f"{fn.address} {d.vendor:04x}:{d.device:04x} {d.cls:04x} {d.driver or '-'} {summary(fn)}  {caps}{problems}  "
            f"{ids.class_text(d.cls, names.NAMES)}: {ids.vendor_device_text(d.vendor, d.device, names.NAMES)}")


def ls_text(source: Source, selector: str | None = None) -> str:
    return "".join(ls_line(fn) + "\n" for fn in source.functions(selector))


def ls_record(fn: Function) -> dict:
    """What one ls line says, as data (JSON)."""
    d = DeviceFacts(fn)
    ids = names.default()
    return {"address": str(fn.address), "vendor_id": d.vendor, "device_id": d.device, "class": d.cls,
            "driver": d.driver,
            "capabilities": None if _unreadable(fn) and not fn.capabilities else [c.key for c in fn.capabilities],
            "problems": [str(p) for p in fn.problems], "class_name": ids.class_text(d.cls, names.NAMES),
            "name": ids.vendor_device_text(d.vendor, d.device, names.NAMES)}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ls", help="one line per function: address, ids, class, driver, capabilities, names")
    p.add_argument("-s", dest="selector", metavar="[[DOM:]BUS:]DEV.FN", help="only matching functions")
    p.add_argument("--json", action="store_true", help="one object per function")
    p.add_argument("source", nargs="?", help="dump file, raw config, capture, sysfs dir, sim:..., qemu:...")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with open_source(args.source) as src:
        fns = selected(src, args.selector)
        if args.json:
            import json  # here: json imports re, which a plain listing does without

            json.dump([ls_record(fn) for fn in fns], sys.stdout, indent=1, ensure_ascii=False)
            sys.stdout.write("\n")
        else:
            sys.stdout.write("".join(ls_line(fn) + "\n" for fn in fns))
        cut = limited(src, fns)
        if cut:
            sys.stdout.flush()
            print(limited_note(cut, 'their capabilities are unknown ("?")'), file=sys.stderr)
    return 0

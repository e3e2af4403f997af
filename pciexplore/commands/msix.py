"""`pciexplore msix`: MSI-X capability, vector table and PBA (and MSI) of each function, or --json."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .. import open_source
from ..cli import limited, limited_note, selected
from ..errors import PciError
from ..words import plural


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("msix", help="MSI-X capability, vector table and PBA (and MSI) of each function")
    p.add_argument("-s", dest="selector", metavar="[[DOM:]BUS:]DEV.FN", help="only matching functions")
    p.add_argument("--json", action="store_true", help="everything as JSON")
    p.add_argument("source", nargs="?", help="sysfs (default), sysfs dir, dump, capture, sim:..., qemu:...")
    p.set_defaults(run=run)


def _table_rows(model) -> tuple[list[dict[str, Any]], str | None]:
    """Rows of the vector table, or why it cannot be read from this source."""
    from ..msi import x86

    try:
        table = model.table
    except PciError as e:
        return [], e.message
    rows = []
    for vector, row in table.iterrows():
        entry = {"vector": int(vector), "address": int(row["address"]), "data": int(row["data"]),
                 "masked": bool(row["masked"]), "pending": bool(row["pending"])}
        for key in ("ctrl", "entry_masked", "mask_bit"):
            if key in row:
                entry[key] = int(row[key]) if key == "ctrl" else bool(row[key])
        entry["meaning"] = x86.describe(entry["address"], entry["data"])
        rows.append(entry)
    return rows, None


def describe(fn) -> dict[str, Any] | None:
    """Everything `msix` shows for one function, as plain data (None without MSI or MSI-X)."""
    out: dict[str, Any] = {"address": str(fn.address), "vendor_id": fn.vendor_id, "device_id": fn.device_id}
    for key, model in (("msix", fn.msix), ("msi", fn.msi)):
        if model is None:
            continue
        part = model.summary()
        part["checks"] = [{"kind": c.kind, "message": c.message} for c in model.checks()]
        part["vectors"], part["unreadable"] = _table_rows(model)
        out[key] = part
    return out if len(out) > 3 else None


def _flag(on: bool) -> str:
    return "+" if on else "-"


def render(info: dict[str, Any]) -> str:
    lines = [f"{info['address']} [{info['vendor_id']:04x}:{info['device_id']:04x}]"]
    if "msix" in info:
        m = info["msix"]
        lines.append(f"\tMSI-X @0x{m['offset']:02x}: Enable{_flag(m['enabled'])} Masked{_flag(m['function_masked'])}"
                     f" {plural(m['size'], 'vector')}, table BAR {m['table_bir']} offset 0x{m['table_offset']:x},"
                     f" PBA BAR {m['pba_bir']} offset 0x{m['pba_offset']:x}")
    if "msi" in info:
        m = info["msi"]
        lines.append(f"\tMSI @0x{m['offset']:02x}: Enable{_flag(m['enabled'])} {m['count']}/{m['capable']} vectors"
                     f" {'64' if m['64bit'] else '32'}-bit Maskable{_flag(m['maskable'])}")
    for key in ("msix", "msi"):
        if key not in info:
            continue
        m = info[key]
        name = "MSI-X" if key == "msix" else "MSI"
        for c in m["checks"]:
            lines.append(f"\t{name} problem: {c['message']}")
        if m["unreadable"]:
            lines.append(f"\t{name} table: {m['unreadable']}")
            continue
        lines.append(f"\t{name}  vec  address             data        masked  pending  meaning")
        for e in m["vectors"]:
            lines.append(f"\t{'':{len(name)}} {e['vector']:4d}  0x{e['address']:016x}  0x{e['data']:08x}  "
                         f"{_flag(e['masked']):6}  {_flag(e['pending']):7}  {e['meaning']}")
        if key == "msix":
            pending = [e["vector"] for e in m["vectors"] if e["pending"]]
            lines.append(f"\tPBA: {len(pending)} pending" + (f": {pending[:32]}" if pending else ""))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    with open_source(args.source) as src:
        fns = selected(src, args.selector)
        infos = [i for i in (describe(fn) for fn in fns) if i]
        cut = limited(src, fns)
        if args.json:
            json.dump(infos, sys.stdout, indent=1)
            sys.stdout.write("\n")
        elif infos:
            sys.stdout.write("\n\n".join(render(i) for i in infos) + "\n")
        elif not cut:
            sys.stdout.write("no function has MSI or MSI-X\n")
        if cut:  # their capabilities were not read: never say they have none
            irqs = sum(len(fn.kernel.msi_irqs) for fn in cut if fn.kernel is not None)
            kernel = f" (the kernel has {plural(irqs, 'MSI/MSI-X IRQ')} for them: pciexplore irqs)" if irqs else ""
            sys.stdout.flush()
            print(limited_note(cut, f"their MSI and MSI-X capabilities could not be read{kernel}"),
                  file=sys.stderr)
    return 1 if cut and len(cut) == len(fns) else 0

"""`pciexplore virtio`: the virtio-pci transport of each virtio function (queues, vectors, the MSI-X
entries they lead to, features, status), or --json (docs/json-schema.md)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .. import open_source


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("virtio", help="virtio-pci transport: queues -> vectors -> MSI-X entries, features, status")
    p.add_argument("-s", dest="selector", metavar="[[DOM:]BUS:]DEV.FN", help="only matching functions")
    p.add_argument("--json", action="store_true", help="everything as JSON")
    p.add_argument("source", nargs="?", help="sysfs (default), sysfs dir, dump, capture, sim:virtio-net, qemu:...")
    p.set_defaults(run=run)


def describe(fn) -> dict[str, Any] | None:
    """What `virtio` shows of one function, as plain data (None for a function that is not virtio)."""
    v = fn.virtio
    if v is None:
        return None
    out: dict[str, Any] = {"address": str(fn.address), "vendor_id": fn.vendor_id, "device_id": fn.device_id}
    out["virtio"] = v.to_dict()  # what cannot be read is listed in its "unread"
    return out


def _vec(v: int | None) -> str:
    return "-" if v is None else "NO_VECTOR" if v == 0xFFFF else str(v)


def _target(row: dict[str, Any]) -> str:
    if row.get("msix_vector") is None:
        return "not read"
    if not row["bound"]:
        return "no MSI-X entry"
    state = ("masked" if row["masked"] else "unmasked") + (", pending" if row["pending"] else "")
    return f"0x{row['address']:x} <- 0x{row['data']:08x} {state}; {row['meaning']}"


def render(info: dict[str, Any]) -> str:
    v = info["virtio"]
    lines = [f"{info['address']} [{info['vendor_id']:04x}:{info['device_id']:04x}] virtio "
             f"{v.get('device_type_name', v.get('device_type'))} ({v.get('transport', '?')}"
             f"{', transitional' if v.get('transitional') else ''})"]
    for s in v.get("structures", []):
        mult = f" multiplier={s['notify_off_multiplier']}" if "notify_off_multiplier" in s else ""
        lines.append(f"\t[{s['cap_offset']:02x}] {s['name']}: BAR={s['bar']} offset={s['offset']:08x} "
                     f"size={s['length']:08x}{mult}")
    if "device_status" in v:
        names = "+".join(v["device_status_names"]) or "0 (reset)"
        lines.append(f"\tdevice_status 0x{v['device_status']:02x} {names}; num_queues {v['num_queues']}; "
                     f"queue_select {v['queue_select']}; MSI-X {'enabled' if v['msix_enabled'] else 'disabled'}")
        for who in ("device", "driver"):
            names = v["features"][f"{who}_names"]
            lines.append(f"\t{who} features: " + ("not read" if names is None else " ".join(names) or "none"))
        lines.append(f"\tconfig   msix_config {_vec(v['config_vector']['msix_vector']):>9}  "
                     f"{_target(v['config_vector'])}")
        lines.append("\tqueue  size  enable  msix_vector  MSI-X entry")
        for q in v["queues"]:
            lines.append(f"\t{q['index']:5d}  {_vec(q['size']):>4}  {_vec(q['enable']):>6}  "
                         f"{_vec(q['msix_vector']):>11}  {_target(q)}")
        if v["device_config"]:
            lines.append("\tdevice config: " + ", ".join(f"{k} {val if isinstance(val, str) else hex(val)}"
                                                         for k, val in v["device_config"].items()))
    for why in v.get("unread", []):
        lines.append(f"\tnot read: {why}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    with open_source(args.source) as src:
        infos = [i for i in (describe(fn) for fn in src.functions(args.selector)) if i]
        if args.json:
            json.dump(infos, sys.stdout, indent=1)
            sys.stdout.write("\n")
        else:
            sys.stdout.write("\n\n".join(render(i) for i in infos) + ("\n" if infos else "no virtio function\n"))
    return 0

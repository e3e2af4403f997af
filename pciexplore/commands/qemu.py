"""`pciexplore qemu SPEC`: start QEMU device models, list what each can raise, set MSI-X up like a driver,
trigger causes and print the messages seen, all in one QEMU session.

    pciexplore qemu e1000e+nvme@root-port                       # functions and their interrupt causes
    pciexplore qemu e1000e --driver --trigger 00:01.0=rxq0 --trigger 00:01.0=vector:4
    pciexplore qemu virtio-net-pci --driver --mask 00:01.0=3 --trigger 00:01.0=ctrl   # held: pending bit
    pciexplore qemu vhost-user-blk-pci --driver --trigger 00:01.0=read   # KVM irqfd; --accel tcg: without
"""

from __future__ import annotations

import argparse
import sys

from ..errors import InputError
from ..words import plural

MSI_ADDRESS = 0xFEE0_0000  # x86: local APIC 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("qemu", help="QEMU device models through qtest: causes, triggers, delivered messages")
    p.add_argument("spec", help="devices, e.g. e1000e+nvme,serial=x@root-port+virtio-net-pci@switch")
    p.add_argument("--driver", action="store_true",
                   help="program every MSI-X vector (0xfee00000, data 0x4020+N), enable MSI-X, unmask all; "
                        "a vhost-user device is then brought up again, as a driver enables MSI-X before DRIVER_OK")
    p.add_argument("--accel", choices=("tcg", "kvm"),
                   help="QEMU accelerator (default tcg; kvm for vhost-user devices): under kvm the vCPU counts "
                        "the interrupts, and a message shows as its APIC vector")
    p.add_argument("--mask", action="append", default=[], metavar="BDF=N", help="mask MSI-X vector N (after --driver)")
    p.add_argument("--trigger", action="append", default=[], metavar="BDF=CAUSE",
                   help="make the device raise CAUSE (a name from the list, or vector:N); repeatable, in order")
    p.set_defaults(run=run)


def _pairs(items: list[str], what: str) -> list[tuple[str, str]]:
    out = []
    for item in items:
        bdf, eq, value = item.partition("=")
        if not eq or not bdf or not value:
            raise InputError(f"{what} {item!r}: want BDF=VALUE, e.g. 00:01.0=rxq0")
        out.append((bdf, value))
    return out


def run(args: argparse.Namespace) -> int:
    from ..sources.qemu import open_spec

    triggers, masks = _pairs(args.trigger, "--trigger"), _pairs(args.mask, "--mask")
    out = sys.stdout
    with open_spec(args.spec.removeprefix("qemu:"), accel=args.accel) as src:
        if args.driver:
            for fn in src.functions():
                m = fn.msix
                if m is None:
                    continue
                for v in range(m.size):
                    m.set_message(v, MSI_ADDRESS, 0x4020 + v)
                m.enable()
                for v in range(m.size):
                    m.unmask(v)
                ctx = src.device(fn.address)
                if src.machine.vhost_user and hasattr(ctx.model, "bring_up"):
                    before = len(src.deliveries())
                    ctx.model.bring_up(ctx)  # so QEMU sets up its vhost path with MSI-X on (irqfds under KVM)
                    src.poll(wait=src.late_wait, since=before)  # the back-end signals once when handed its eventfd
                    out.write(f"bring-up {fn.address.short} to DRIVER_OK: {_messages(src.deliveries()[before:])}\n")
        for bdf, n in masks:
            src.function(bdf).msix.mask(int(n, 0))
        for fn in src.functions():
            causes = src.triggers(fn.address)
            m = fn.msix
            state = f"MSI-X {plural(m.size, 'vector')}, {'enabled' if m.enabled else 'disabled'}" if m else ""
            out.write(f"{fn.address.short} [{fn.vendor_id:04x}:{fn.device_id:04x}] {state}\n")
            for cause, what in causes.items():
                if not cause.startswith("vector:"):
                    out.write(f"    {cause:16s} {what}\n")
        for bdf, cause in triggers:
            fn = src.function(bdf)
            before = len(src.deliveries())
            src.trigger(fn.address, cause)
            sent = src.deliveries()[before:]
            m = fn.msix
            pending = [v for v in range(m.size) if m.pending(v)] if m else []
            out.write(f"trigger {fn.address.short} {cause}: {_messages(sent)}"
                      + (f"; pending {pending}" if pending else "") + "\n")
    return 0


def _messages(sent) -> str:
    return ", ".join(f"vector {d.vector} -> 0x{d.address:x} <- 0x{d.data:x}" for d in sent) or "no message"

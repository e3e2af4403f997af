"""`pciexplore replay BRING-UP`: a virtio driver's bring-up through each delivery path; which write was lost."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="replay a virtio bring-up through emulated, irqfd and cloud-hypervisor "
                                      "delivery; name the write each path lost")
    p.add_argument("bringup", metavar="BRING-UP",
                   help="a capture with a recorded timeline (pciexplore vm), a running VM (qmp:SOCKET), a sim:virtio-net "
                        "source, a JSON list of steps, or a built-in "
                        "script: hermit (entries programmed after DRIVER_OK), hermit-fixed (masked while written), linux")
    p.add_argument("--modes", default="emulated,irqfd,cloud-hypervisor",
                   help="comma-separated delivery modes (default: all three; emulated is always the reference)")
    p.add_argument("-s", dest="selector", metavar="[[DOM:]BUS:]DEV.FN", help="only this virtio function")
    p.add_argument("--json", action="store_true", help="outcomes, lost writes and journals as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Exit 1 when some write was lost on some path, 0 when every path sent the same messages."""
    from ..render.safe import printable
    from ..virtio.replay import replay

    results = replay(args.bringup, tuple(m.strip() for m in args.modes.split(",") if m.strip()), args.selector)
    if args.json:
        json.dump([r.to_dict() for r in results], sys.stdout, indent=1, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(printable("\n\n".join(str(r) for r in results) + "\n", lines=True))
    return 1 if any(r.lost for r in results) else 0

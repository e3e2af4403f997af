"""QEMU's interrupt delivery paths, measured: driver scenarios on vhost-user-blk (KVM irqfd; TCG) and virtio-blk.

A vhost-user back-end (here qemu-storage-daemon) signals an eventfd per queue; with MSI-X enabled when
the driver sets DRIVER_OK, QEMU (hw/virtio/virtio-pci.c `virtio_pci_set_guest_notifiers`) attaches each
queue's eventfd to a KVM irqfd whose MSI route it builds from the queue's MSI-X entry as it is then
(`kvm_virtio_pci_vq_vector_use`); it updates the route only when the entry goes from masked to unmasked
(`virtio_pci_one_vector_unmask`), and while an entry is masked it detaches the irqfd, so a signal waits
in the eventfd until the PBA is read (`virtio_pci_vector_poll`) or the entry is unmasked.  With MSI-X
still disabled at DRIVER_OK QEMU uses no irqfd at all: its main loop reads the eventfd and sends the
entry's current message (`msix_notify`), the emulated path.

Each scenario is a list of steps a driver could take (the vocabulary is `STEPS`); `run()` plays one on
a fresh machine of one delivery path and records, after every step, the APIC vectors the vCPU
took (vcpu.py) and, for `read_pba`, the pending bits.  `record()` writes every scenario's outcome as the
JSON fixture tests/data/qemu-irqfd.json (`python -m pciexplore.sources.qemu.irqfd -o FILE`), which the
simulator's delivery modes can be compared against without KVM.

Three delivery paths are measured (`PATHS`): irqfd (KVM), the same vhost-user device without irqfds
(TCG), and QEMU's own virtio-blk (emulated).  The device: MSI-X entry 0 is the configuration vector, entry 1 request queue 0's.  The back-end
(libvhost-user, `vu_set_vring_call_exec`) writes its call eventfd once when QEMU hands it over at
DRIVER_OK ("in case of I/O hang after reconnecting"), so DRIVER_OK itself delivers the queue's vector
once: that is the back-end's doing, not a rule of the transport.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ...address import Address
from ...errors import InputError
from ...regs import virtio as V
from .machine import QEMU, Machine, find_qemu, parse_spec
from .qtest import QemuError
from .source import QemuSource, open_spec
from .vcpu import MSI_WINDOW

SPEC = "vhost-user-blk-pci"
FUNCTION = Address(0, 0, 1, 0)
QUEUE_ENTRY = 1  # the bring-up puts request queue 0 on entry 1 (config on entry 0)
PCI_CAP_ID_MSIX = 0x11
PCI_MSIX_FLAGS_ENABLE = 0x8000
PCI_MSIX_FLAGS_MASKALL = 0x4000
MASKBIT = 1
SETTLE = 0.25  # seconds each step waits for a message before it counts as sending none

#: step -> what it does (the arguments: `entry`, `vector` = APIC vector of the message written)
STEPS = {
    "msix_enable": "set MSI-X Enable in Message Control (Function Mask clear)",
    "msix_disable": "clear MSI-X Enable",
    "function_mask": "set the Function Mask (MSI-X stays enabled)",
    "function_unmask": "clear the Function Mask",
    "message": "write entry `entry`'s address (0xfee00000, APIC 0) and data (`vector`), mask bit untouched",
    "mask": "set entry `entry`'s mask bit",
    "unmask": "clear entry `entry`'s mask bit",
    "driver_ok": "virtio bring-up: reset, ACKNOWLEDGE, DRIVER, VERSION_1, FEATURES_OK, config on entry 0, "
                 "queue 0 (16 entries) on entry 1 and enabled, then DRIVER_OK",
    "reset": "write 0 to device_status (the device unbinds every vector)",
    "queue_vector": "write queue_select 0, then queue_msix_vector = `entry` (the device may refuse: 0xffff)",
    "request": "a read of sector 0 on queue 0; the step waits until the device used it",
    "read_pba": "read the Pending Bit Array (records `pending`: the bits of entries 0-1)",
}

#: name -> (what it shows, steps); every scenario starts on a machine whose table is all masked, MSI-X off
SCENARIOS: dict[str, tuple[str, list[dict]]] = {
    "stale-route": (
        "a message written into an unmasked entry after DRIVER_OK is not used: the route still holds the "
        "old one until a mask -> unmask transition",
        [{"step": "msix_enable"}, {"step": "message", "entry": 1, "vector": 0x40}, {"step": "unmask", "entry": 1},
         {"step": "driver_ok"}, {"step": "request"},
         {"step": "message", "entry": 1, "vector": 0x41}, {"step": "request"},
         {"step": "mask", "entry": 1}, {"step": "unmask", "entry": 1}, {"step": "request"}]),
    "function-mask-refreshes": (
        "setting and clearing the Function Mask is a mask -> unmask transition of every entry: the route "
        "is rebuilt from the entry",
        [{"step": "msix_enable"}, {"step": "message", "entry": 1, "vector": 0x50}, {"step": "unmask", "entry": 1},
         {"step": "driver_ok"}, {"step": "message", "entry": 1, "vector": 0x51}, {"step": "request"},
         {"step": "function_mask"}, {"step": "function_unmask"}, {"step": "request"}]),
    "msix-disable-enable": (
        "MSI-X Enable cleared and set again while DRIVER_OK (with the message rewritten before): a "
        "mask -> unmask of every entry, as the Function Mask is",
        [{"step": "msix_enable"}, {"step": "message", "entry": 1, "vector": 0xB0}, {"step": "unmask", "entry": 1},
         {"step": "driver_ok"}, {"step": "message", "entry": 1, "vector": 0xB1}, {"step": "request"},
         {"step": "msix_disable"}, {"step": "msix_enable"}, {"step": "request"}]),
    "program-while-masked": (
        "the usual driver order: entry programmed while masked, after DRIVER_OK; the unmask builds the "
        "route from it",
        [{"step": "msix_enable"}, {"step": "driver_ok"},
         {"step": "message", "entry": 1, "vector": 0x60}, {"step": "unmask", "entry": 1}, {"step": "request"}]),
    "masked-pending-pba": (
        "an event while masked is held in the eventfd; reading the PBA moves it into the pending bit; the "
        "unmask sends it once",
        [{"step": "msix_enable"}, {"step": "message", "entry": 1, "vector": 0x70}, {"step": "unmask", "entry": 1},
         {"step": "driver_ok"}, {"step": "mask", "entry": 1}, {"step": "read_pba"}, {"step": "request"},
         {"step": "read_pba"}, {"step": "unmask", "entry": 1}, {"step": "read_pba"}]),
    "masked-pending-message-changed": (
        "an event while masked, the message rewritten while masked, no PBA read: the unmask updates the "
        "route and the held event goes out with the new message",
        [{"step": "msix_enable"}, {"step": "message", "entry": 1, "vector": 0x78}, {"step": "unmask", "entry": 1},
         {"step": "driver_ok"}, {"step": "mask", "entry": 1}, {"step": "request"},
         {"step": "message", "entry": 1, "vector": 0x79}, {"step": "unmask", "entry": 1}, {"step": "request"}]),
    "msix-enabled-after-driver-ok": (
        "MSI-X enabled only after DRIVER_OK: QEMU chose no irqfd at DRIVER_OK, so the emulated path "
        "sends the entry's current message",
        [{"step": "message", "entry": 1, "vector": 0x80}, {"step": "unmask", "entry": 1}, {"step": "driver_ok"},
         {"step": "msix_enable"}, {"step": "request"},
         {"step": "message", "entry": 1, "vector": 0x81}, {"step": "request"}]),
    "queue-vector-moved": (
        "queue 0 moved from entry 1 to entry 0 after DRIVER_OK (both programmed and unmasked): which "
        "message does it send, and does a mask -> unmask of entry 0 change that",
        [{"step": "msix_enable"}, {"step": "message", "entry": 0, "vector": 0xA0}, {"step": "unmask", "entry": 0},
         {"step": "message", "entry": 1, "vector": 0xA1}, {"step": "unmask", "entry": 1}, {"step": "driver_ok"},
         {"step": "request"}, {"step": "queue_vector", "entry": 0}, {"step": "request"},
         {"step": "mask", "entry": 0}, {"step": "unmask", "entry": 0}, {"step": "request"}]),
    "reset-rebuilds": (
        "a status reset unbinds the vectors; the next DRIVER_OK builds the route from the entry as it is "
        "then",
        [{"step": "msix_enable"}, {"step": "message", "entry": 1, "vector": 0x90}, {"step": "unmask", "entry": 1},
         {"step": "driver_ok"}, {"step": "message", "entry": 1, "vector": 0x91}, {"step": "request"},
         {"step": "reset"}, {"step": "driver_ok"}, {"step": "request"}]),
}


class Player:
    """Plays steps on the vhost-user-blk function of a KVM `QemuSource` through raw config and BAR
    writes (no MSI-X model verbs: those read the PBA after every action, which QEMU's irqfd path treats
    as a poll of the eventfds)."""

    def __init__(self, src: QemuSource) -> None:
        self.src = src
        self.ctx = src.device(FUNCTION)
        self.model = self.ctx.model
        caps = src._caps(FUNCTION)
        self.cap = caps[PCI_CAP_ID_MSIX]
        table = src.config.read(FUNCTION, self.cap + 4, 4)
        pba = src.config.read(FUNCTION, self.cap + 8, 4)
        self.table = (table & 7, table & ~7)
        self.pba = (pba & 7, pba & ~7)
        self.requests = 0
        self.play({"step": "reset"})  # undo the source's own bring-up (done with MSI-X disabled)

    def _flags(self, value: int) -> None:
        self.src.write_config(FUNCTION, self.cap + 2, value.to_bytes(2, "little"))

    def _entry(self, entry: int, rel: int, value: int) -> None:
        bar, off = self.table
        self.src.write_bar(FUNCTION, bar, off + 16 * entry + rel, value.to_bytes(4, "little"))

    def _common(self, register: str, value: bytes) -> None:
        """Write a common-configuration register (virtio 1.2 §4.1.4.3) by its Linux name."""
        bar, off, _ = self.model._caps(self.ctx)[V.VIRTIO_PCI_CAP_COMMON_CFG]
        reg = next(r for r in (*V.COMMON.registers, *V.QUEUE.registers) if r.name == register)
        self.src.write_bar(FUNCTION, bar, off + reg.offset, value)

    def play(self, step: dict) -> dict:
        """Do one step; return it with `delivered` (APIC vectors the vCPU took after it, in order) and,
        for read_pba, `pending` (PBA bits); if QEMU ended during it, `qemu_exited`: why, in its words."""
        before = len(self.src.deliveries())
        out = dict(step)
        try:
            self._do(step, out, before)
        except QemuError:
            reason = self.src.exit_reason()
            if reason is None:
                raise
            out["qemu_exited"] = reason
        out["delivered"] = [d.data for d in self.src.deliveries()[before:]]
        return out

    def _do(self, step: dict, out: dict, before: int) -> None:
        name = step["step"]
        if name in ("msix_enable", "function_unmask"):
            self._flags(PCI_MSIX_FLAGS_ENABLE)
        elif name == "msix_disable":
            self._flags(0)
        elif name == "function_mask":
            self._flags(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL)
        elif name == "message":
            for rel, value in ((0, MSI_WINDOW), (4, 0), (8, step["vector"])):
                self._entry(step["entry"], rel, value)
        elif name in ("mask", "unmask"):
            self._entry(step["entry"], 12, MASKBIT if name == "mask" else 0)
        elif name == "driver_ok":
            self.model.bring_up(self.ctx)
            self.requests = 0
        elif name == "reset":
            self._common("VIRTIO_PCI_COMMON_STATUS", b"\0")
        elif name == "queue_vector":
            self._common("VIRTIO_PCI_COMMON_Q_SELECT", b"\0\0")
            self._common("VIRTIO_PCI_COMMON_Q_MSIX", step["entry"].to_bytes(2, "little"))
        elif name == "request":
            self.src.trigger(FUNCTION, "read")
        elif name == "read_pba":
            bar, off = self.pba
            out["pending"] = self.src.read_bar(FUNCTION, bar, off, 8)[0] & 0b11
        else:
            raise ValueError(f"unknown step {name!r} (known: {', '.join(STEPS)})")
        # every path gets the same time for a message to arrive (an irqfd injection runs from a KVM work
        # queue, a back-end signals after the used ring, QEMU's main loop reads an eventfd when it can)
        self.src.poll(wait=SETTLE, since=before)


#: delivery path -> what it is; `machine()` builds each
PATHS = {
    "irqfd": "vhost-user-blk-pci on KVM: MSI-X on at DRIVER_OK, so QEMU routes the back-end's eventfd "
             "through a KVM irqfd",
    "vhost-no-irqfd": "the same device and back-end under TCG (no irqfds): QEMU's main loop reads the "
                      "eventfd and sends the entry's message (msix_notify), masking through the vhost mask",
    "emulated": "QEMU's own virtio-blk-pci under TCG (null-co disk): virtio_notify -> msix_notify when the "
                "request completes, nothing in between",
}


def machine(path: str) -> Machine:
    """The machine a delivery path of `PATHS` is measured on (the function is 00:01.0 on each)."""
    if path == "emulated":
        m = Machine(extra_args=["-blockdev", "driver=null-co,node-name=pxnull,size=1048576"])
        return m.add("virtio-blk-pci", drive="pxnull")
    if path not in PATHS:
        raise InputError(f"unknown delivery path {path!r} (known: {', '.join(PATHS)})")
    m = parse_spec(SPEC)
    m.accel = "kvm" if path == "irqfd" else "tcg"
    return m


def run(steps: Sequence[dict], path: str = "irqfd", **options) -> list[dict]:
    """Play `steps` on a fresh machine of delivery path `path`; every step back with what it delivered
    (see `Player.play`)."""
    with open_spec(machine(path), **options) as src:
        player = Player(src)
        out = []
        for s in steps:
            out.append(player.play(s))
            if "qemu_exited" in out[-1]:
                break  # the steps after it were never played
        return out


def record(path: Path, names: Sequence[str] | None = None) -> dict:
    """Run the scenarios on every delivery path and write their outcomes to `path` (atomically), with
    what produced them: each step once, with one {"delivered": [...], "pending": bits} per path."""
    version = subprocess.run([find_qemu(), "--version"], capture_output=True, text=True, check=True).stdout
    out = {
        "format": "pciexplore-irqfd-crosscheck/1",
        "produced_by": "python -m pciexplore.sources.qemu.irqfd -o " + path.name,
        "qemu": version.splitlines()[0],
        "kernel": platform.release(),
        "machine": f"{QEMU} -machine q35; -device {SPEC} served by qemu-storage-daemon",
        "device": {"function": str(FUNCTION), "config_entry": 0, "queue_entry": QUEUE_ENTRY,
                   "message_address": MSI_WINDOW},
        "paths": PATHS,
        "steps": STEPS,
        "scenarios": {},
    }
    for name in names or SCENARIOS:
        what, steps = SCENARIOS[name]
        played = {p: run(steps, p) for p in PATHS}
        out["scenarios"][name] = {"shows": what, "steps": [
            {**step, **{p: _outcome(played[p], i) for p in PATHS}} for i, step in enumerate(steps)]}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(_dumps(out))
    tmp.replace(path)
    return out


def _outcome(played: list[dict], i: int) -> dict:
    """What step `i` did on one path: delivered, pending, qemu_exited; `not_played` after QEMU ended."""
    if i >= len(played):
        return {"not_played": True}
    return {k: v for k, v in played[i].items() if k in ("delivered", "pending", "qemu_exited")}


def _dumps(out: dict) -> str:
    """Indented JSON with each step on one line (a scenario reads as a list of steps)."""
    text = json.dumps({**out, "scenarios": "@"}, indent=1)
    scenarios = ",\n".join(
        f'  {json.dumps(name)}: {{"shows": {json.dumps(s["shows"])}, "steps": [\n'
        + ",\n".join("   " + json.dumps(step) for step in s["steps"]) + "]}"
        for name, s in out["scenarios"].items())
    return text.replace('"@"', "{\n" + scenarios + "}") + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pciexplore.sources.qemu.irqfd", description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, required=True, help="JSON file to write")
    parser.add_argument("scenario", nargs="*", help=f"scenarios to run (default all: {', '.join(SCENARIOS)})")
    args = parser.parse_args(argv)
    record(args.output, args.scenario or None)
    return 0


if __name__ == "__main__":
    sys.exit(main())

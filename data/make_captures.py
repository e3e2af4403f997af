"""Rebuild the bundled, annotated captures:

    python data/make_captures.py [default|host|q35]

default.json is THE capture notebooks and the dashboard open by default: a Linux guest under QEMU read
from outside while it ran (real MSI-X tables, PBAs and virtio queue bindings, as Linux's drivers set them).
virtio-msix-only-host.json is the machine the kit was written on (sysfs): a VM whose virtio devices offer
MSI-X only, whose kernel exposes no resourceN, so its tables could not be read.
q35-e1000e-nvme.json comes from QEMU's own device models (pciexplore's qemu: source), with the MSI-X
tables and PBAs captured, after a few verbs so the state has something to teach.

Every note is checked against the captured bytes before it is written (a note that says "no INTx pin"
is only attached when the Interrupt Pin register is 0).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pciexplore
from pciexplore.capture import Capture, take

HERE = Path(__file__).resolve().parent
AUTHOR = "pciexplore"


def _note(cap: Capture, fn, target, text: str, *tags: str, bar: int | None = None) -> None:
    cap.annotate(fn, target, text, author=AUTHOR, tags=list(tags), bar=bar)


def default_vm() -> Capture:
    with pciexplore.open("sysfs") as src:
        cap = take(src, how="python data/make_captures.py", title="VM with virtio devices: MSI-X only",
                   description="A KVM guest whose virtio 1.0 devices have no INTx pin and no MSI capability: "
                   "MSI-X is their only way to interrupt. The kernel here exposes no resourceN files, so the MSI-X "
                   "tables themselves could not be read (see each function's 'missing').")
    net = next(f for f in cap if f.vendor_id == 0x1AF4 and f.class_code >> 8 == 0x0200)
    msix = net.cap("msix")
    assert msix is not None and net.cap("msi") is None
    vectors = msix.get("PCI_MSIX_FLAGS", "PCI_MSIX_FLAGS_QSIZE") + 1
    irqs = net.kernel.msi_irqs if net.kernel else []
    assert msix.get("PCI_MSIX_FLAGS", "PCI_MSIX_FLAGS_ENABLE") == 1
    _note(cap, net, "PCI_MSIX_FLAGS_ENABLE",
          "MSI-X Enable is set: the virtio-pci driver switched the function to MSI-X. From now on the device "
          "signals only by writing the messages of its MSI-X table; INTx and MSI are not used.", "msix", "why")
    assert msix.get("PCI_MSIX_FLAGS", "PCI_MSIX_FLAGS_MASKALL") == 0
    _note(cap, net, "PCI_MSIX_FLAGS_MASKALL",
          "Function Mask (bit 14) is clear. Set, it masks every vector of the function at once, whatever each "
          "entry's own mask bit says: events then only set bits in the Pending Bit Array and their messages go "
          "out when the mask is cleared. Drivers set it around table reprogramming; a device left with it set "
          "looks alive in lspci but never interrupts.", "msix", "function-mask")
    _note(cap, net, "PCI_MSIX_FLAGS_QSIZE",
          f"Table Size is encoded N-1: this function has {vectors} vectors. The kernel allocated "
          f"{len(irqs)} Linux IRQs for them ({', '.join(map(str, irqs))}): config changes, then receive and "
          "transmit queues (virtio2-config, -input.0, -output.0 in /proc/interrupts).", "msix", "kernel")
    table_bir = msix.get("PCI_MSIX_TABLE", "PCI_MSIX_TABLE_BIR")
    _note(cap, net, "PCI_MSIX_TABLE",
          f"The vector table is not in config space: it lives in BAR {table_bir} at offset "
          f"0x{msix.get('PCI_MSIX_TABLE', 'PCI_MSIX_TABLE_OFFSET'):x}, 16 bytes per vector (message address "
          "low/high, data, vector control with the per-vector mask bit). Reading it needs the BAR mapped: this "
          "VM's kernel has no resourceN files, so it is listed under 'missing' — the QEMU capture has it.",
          "msix", "table")
    _note(cap, net, "PCI_MSIX_PBA",
          "The Pending Bit Array: one bit per vector, set by the device when the vector's event happened while "
          "the vector (or the whole function) was masked, cleared when the message is finally sent. Software "
          "only reads it.", "msix", "pba")
    assert net.read(0x3D, 1) == 0
    _note(cap, net, "PCI_INTERRUPT_PIN",
          "Interrupt Pin is 0: this device has no INTx pin at all, and no MSI capability either. If MSI-X cannot "
          "be used (a kernel booted with pci=nomsi), it cannot interrupt.", "intx", "why")
    assert net.read(0x04, 2) & 0x0404 == 0x0404
    _note(cap, net, "PCI_COMMAND_MASTER",
          "Bus Master is on: an MSI-X message is a memory write the device itself starts, so with this bit clear "
          "no vector can fire even when everything else is right.", "msix", "why")
    _note(cap, net, "PCI_COMMAND_INTX_DISABLE",
          "DisINTx+: the kernel turns legacy INTx emulation off once MSI-X is in use.", "intx")
    blk = next((f for f in cap if f.vendor_id == 0x1AF4 and f.class_code >> 8 == 0x0100), None)
    if blk is not None and blk.kernel and blk.kernel.msi_irqs:
        _note(cap, blk, "PCI_MSIX_FLAGS_QSIZE",
              f"{blk.cap('msix').get('PCI_MSIX_FLAGS', 'PCI_MSIX_FLAGS_QSIZE') + 1} vectors: config and one "
              "request queue. Its /proc/interrupts count (see the kernel section) grows with disk I/O.",
              "msix", "kernel")
    return cap


def q35_qemu() -> Capture:
    spec = "qemu:e1000e@root-port+nvme,serial=deadbeef@root-port+virtio-net-pci"
    with pciexplore.open(spec) as src:
        nic = next(f for f in src if f.vendor_id == 0x8086 and f.device_id == 0x10D3)
        msix = nic.msix
        for v in range(msix.size):
            msix.set_message(v, 0xFEE00000, 0x4020 + v)  # x86: to APIC 0, fixed delivery, vector 0x20 + v
        msix.enable()
        for v in (0, 2, 3, 4):
            msix.unmask(v)
        msix.trigger(0)  # unmasked: delivered, nothing pending
        msix.trigger(1)  # still masked: the PBA bit is set instead
        cap = take(src, how="python data/make_captures.py",
                   title="QEMU q35: e1000e and nvme behind root ports, virtio-net",
                   description="QEMU 7.2 device models driven through qtest (no guest). The e1000e was given "
                   "messages, MSI-X enabled, vectors 0, 2, 3, 4 unmasked and vectors 0 and 1 triggered; the nvme "
                   "is as firmware leaves it (MSI-X off, every vector masked).")
    nic = cap.function(nic.address)
    nvme = next(f for f in cap if f.vendor_id == 0x1B36 and f.device_id == 0x10)
    table_bar = nic.cap("msix").get("PCI_MSIX_TABLE", "PCI_MSIX_TABLE_BIR")
    table_off = nic.cap("msix").get("PCI_MSIX_TABLE", "PCI_MSIX_TABLE_OFFSET")
    pba_off = nic.cap("msix").get("PCI_MSIX_PBA", "PCI_MSIX_PBA_OFFSET")
    table = cap.read_bar(nic.address, table_bar, table_off, 5 * 16)
    pba = cap.read_bar(nic.address, table_bar, pba_off, 8)
    assert table[1 * 16 + 12] & 1 and not table[0 * 16 + 12] & 1 and pba[0] == 0b10
    _note(cap, nic, "PCI_MSIX_FLAGS_MASKALL",
          "Function Mask is clear, so each vector's own mask bit decides. Set it (mask_all) and trigger: every "
          "event lands in the PBA, and the messages go out the moment it is cleared.", "msix", "function-mask")
    _note(cap, nic, (table_off + 16, 16),
          "Entry 1: still masked (vector control bit 0 set, as QEMU's msix_init leaves every entry). It was "
          "triggered anyway, so the device did not send; it set PBA bit 1 instead.", "msix", "table",
          bar=table_bar)
    _note(cap, nic, (table_off, 16),
          "Entry 0: address 0xfee00000 (the x86 local APIC window: destination APIC 0) and data 0x4020 "
          "(vector 0x20, fixed, edge). Unmasked, triggered once: delivered, so its PBA bit is clear.",
          "msix", "table", bar=table_bar)
    _note(cap, nic, (pba_off, 1),
          "The PBA of the e1000e: 0x02 = only vector 1 pending. Unmask vector 1 and QEMU sends its message "
          "and clears the bit (msix_handle_mask_update).", "msix", "pba", bar=table_bar)
    _note(cap, nvme, "PCI_MSIX_FLAGS_ENABLE",
          "MSI-X Enable is clear: as firmware leaves the device before a driver binds. All vectors are masked "
          "in the table too; compare with the e1000e (pciexplore diff works on two functions of two captures).",
          "msix")
    pin = nvme.read(0x3D, 1)
    _note(cap, nvme, "PCI_INTERRUPT_PIN",
          f"Interrupt Pin {pin} (INT{'ABCD'[pin - 1]}): unlike the virtio devices of the default capture, QEMU's "
          "nvme also has a legacy INTx pin, the fallback when MSI-X is off." if pin else
          "Interrupt Pin is 0: no INTx pin.", "intx")
    return cap


#: the guest's devices: a virtio NIC and disk as a cloud VM has them, and an nvme behind a PCIe root port
GUEST_DEVICES = ["virtio-net-pci,addr=03.0", "virtio-blk-pci,addr=04.0,drive", "pcie-root-port,id=rp1,chassis=1,addr=02.0",
                 "nvme,serial=pciexplore,bus=rp1,drive"]


def linux_guest() -> Capture:
    """A running Linux guest under QEMU, attached from outside (qmp:): the MSI-X tables, PBAs and virtio
    queue bindings exactly as Debian's kernel drivers (virtio_pci, virtio_net, virtio_blk, nvme) programmed
    them, and the recorded bring-up."""
    sys.path.insert(0, str(HERE.parent / "tests"))
    import guest  # the tests' real guest: scripts/guest-kernel builds it

    kernel, why = guest.build()
    if kernel is None:
        raise SystemExit(f"guest kernel not available: {why}")
    g = guest.Guest(kernel, GUEST_DEVICES)
    try:
        view = g.view()  # printed by the guest's init once every driver holds its MSI IRQs
        with pciexplore.open(g.spec) as src:
            cap = take(src, how="python data/make_captures.py",
                       title="Linux guest under QEMU: virtio-net, virtio-blk, nvme as Linux set them up",
                       description="Debian's cloud kernel (linux-image-cloud-amd64) booted under QEMU 7.2 (q35, TCG) "
                       "and read from outside while it ran (pciexplore vm, qmp:), never written: config space "
                       "through the guest's ECAM window, the MSI-X tables and PBAs, the virtio common configuration "
                       "and the driver's recorded bring-up. What the guest itself said (its sysfs msi_irqs and "
                       "/proc/interrupts) is in the notes.")
    finally:
        g.stop()
    names = {}
    for line in view.interrupts.splitlines():
        parts = line.split()
        if parts and parts[0].rstrip(":").isdigit():
            names[int(parts[0].rstrip(":"))] = parts[-1]
    net = cap.function("00:03.0")
    msix = net.msix
    irqs = view.msi_irqs["00:03.0"]
    assert msix.enabled and not msix.function_masked and len(irqs) <= msix.size
    entries = msix.entries
    assert all(not e.entry_masked and (e.address >> 20) == 0xFEE for e in entries[:len(irqs)])
    unused = [e.vector for e in entries[len(irqs):]]
    rest = [("masked" if e.entry_masked else "unmasked") + (", address 0" if e.address == 0 else "")
            for e in entries[len(irqs):]]
    named = ", ".join(f"{i} {names.get(i, '?')}" for i in irqs)
    _note(cap, net, "PCI_MSIX_FLAGS_ENABLE",
          f"MSI-X Enable is set: Linux's virtio_pci driver switched the function to MSI-X and allocated "
          f"{len(irqs)} IRQs for its {msix.size} vectors ({named}, "
          "as the guest's /proc/interrupts named them)" + (f"; vector{'s' if len(unused) > 1 else ''} "
          f"{', '.join(map(str, unused))} got no IRQ ({'; '.join(rest)})" if unused else "") + ". From now on the device signals only by writing the "
          "messages of its MSI-X table.", "msix", "kernel")
    _note(cap, net, "PCI_MSIX_FLAGS_MASKALL",
          "Function Mask is clear, so each vector's own mask bit decides. Linux sets it only while it "
          "reprograms the table; a device left with it set looks alive in lspci but never interrupts.",
          "msix", "function-mask")
    table_bar = msix.regs().table_bir
    e0 = entries[0]
    from pciexplore.msi import x86

    _note(cap, net, (msix.regs().table_offset, 16),
          f"Entry 0, as Linux programmed it: address 0x{e0.address:x}, data 0x{e0.data:x} = "
          f"{x86.describe(e0.address, e0.data)}; unmasked. It is the config-change vector (msix_config).",
          "msix", "table", bar=table_bar)
    queues = net.virtio.queues
    bound = ", ".join(f"queue {q} -> " + ("NO_VECTOR" if int(r.msix_vector) == 0xFFFF else f"vector {int(r.msix_vector)}")
                      for q, r in queues.iterrows())
    pending = [v for v, p in enumerate(msix.table["pending"]) if p]
    _note(cap, net, (msix.regs().pba_offset, 1),
          "The PBA: " + (f"bits {pending} set" if pending else "every bit clear: no event waits for a masked vector")
          + f". The virtio transport binds the queues to vectors ({bound}: the control queue needs no interrupt); "
          "pciexplore virtio shows the whole chain queue -> vector -> message -> CPU.",
          "msix", "pba", bar=msix.regs().pba_bir)
    pin = net.read(0x3D, 1)
    _note(cap, net, "PCI_INTERRUPT_PIN",
          f"Interrupt Pin {pin}{f' (INT{chr(64 + pin)})' if pin else ''}: QEMU's virtio-pci also offers a legacy "
          "INTx pin, the fallback when MSI-X is off. (cloud-hypervisor and Firecracker offer MSI-X only: see "
          "data/virtio-msix-only-host.json.)", "intx")
    nvme = cap.function("01:00.0")
    used = len(view.msi_irqs["01:00.0"])
    others = nvme.msix.entries[used:]
    _note(cap, nvme, "PCI_MSIX_FLAGS_QSIZE",
          f"{nvme.msix.size} vectors offered; Linux's nvme driver allocated {used} IRQs "
          f"({', '.join(names.get(i, '?') for i in view.msi_irqs['01:00.0'])}: the admin queue and one I/O queue per "
          f"CPU of this 1-CPU guest); of the other {len(others)} entries "
          f"{sum(e.entry_masked for e in others)} are masked.", "msix", "kernel")
    return cap


def main(argv: list[str]) -> int:
    wanted = set(argv) or {"default", "host", "q35"}
    if "default" in wanted:
        print(linux_guest().save(HERE / "default.json"))
    if "host" in wanted:
        print(default_vm().save(HERE / "virtio-msix-only-host.json"))
    if "q35" in wanted:
        print(q35_qemu().save(HERE / "q35-e1000e-nvme.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

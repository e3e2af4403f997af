"""Rebuild the bundled, annotated captures:

    python data/make_captures.py          # default.json from this host (sysfs) + q35-e1000e-nvme.json (QEMU)

default.json is THE capture notebooks open by default: a VM whose virtio devices offer MSI-X only
(the machine the kit was written on; the same machine as data/virtio-msix-only-vm.lspci).
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


def main(argv: list[str]) -> int:
    wanted = set(argv) or {"default", "q35"}
    if "default" in wanted:
        print(default_vm().save(HERE / "default.json"))
    if "q35" in wanted:
        print(q35_qemu().save(HERE / "q35-e1000e-nvme.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

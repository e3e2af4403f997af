"""Where one interrupt goes, hop by hop, read from a function as it is now: INTx, MSI, MSI-X, and the
ways a VM's virtio interrupt reaches a vCPU (emulated, irqfd, posted).  Each builder returns a
`Journey` (lanes of hops, render/hops.py) that prints as text and shows as a picture in Jupyter.

What the device holds (pin, Status.Interrupt, INTx Disable, the MSI registers, the MSI-X entry and its
PBA bit, Bus Master, the message the simulator recorded) is read from the source; what the message
means on x86 is decoded by msi/x86.py; the hops past the device (IOAPIC, LAPIC, KVM, the IOMMU) are
drawn from the specifications and the sources named on them, marked as pictures (dashed).

Sources: PCI Local Bus 3.0 §6.2.4 (Interrupt Line/Pin), §6.8 (MSI, MSI-X); PCIe Base §2.2.8.1 (INTx
messages, the swizzle); Intel SDM vol. 3 §11.11 (MSI address/data) and vol. 3C "Posted-Interrupt
Processing"; the VT-d specification's "Interrupt Posting" and "Posted Interrupt Descriptor"; QEMU
hw/pci/msix.c msix_notify, hw/i386/kvm/apic.c kvm_apic_mem_write,
accel/kvm kvm_irqchip_add_msi_route, hw/virtio/virtio-pci.c virtio_pci_one_vector_unmask; Linux
virt/kvm/eventfd.c irqfd_wakeup, arch/x86/kvm/vmx vmx_deliver_posted_interrupt, pi_desc.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..render import hops as H
from ..render.hops import PICTURE, Hop, Lane
from . import x86

if TYPE_CHECKING:
    from ..model import Function

#: arch/x86/include/asm/irq_vectors.h: the host vectors KVM's posted-interrupt notifications use
POSTED_INTR_VECTOR, POSTED_INTR_WAKEUP_VECTOR = 0xF2, 0xF1


@dataclass(frozen=True, slots=True)
class Journey:
    """Lanes of hops with a title: `text()` for print, `svg()` / `_repr_html_()` for the picture."""

    title: str
    lanes: tuple[Lane, ...]

    def text(self) -> str:
        return f"{self.title}\n{H.text(self.lanes)}"

    def svg(self, max_width: float = 820) -> str:
        return H.svg(self.lanes, max_width, self.title)

    def stops(self) -> list[str]:
        """Why the interrupt stops, per lane that stops ("" for a lane that reaches its end)."""
        return [next((h.stop for h in lane.hops if h.stop), "") for lane in self.lanes]

    def _repr_html_(self) -> str:
        return H.html_block(self.lanes, title=self.title)

    def __str__(self) -> str:
        return self.text()


@dataclass(frozen=True, slots=True)
class _Header:
    """What decides INTx (and whether a message can leave), read afresh from the header, fields by their
    pci_regs.h names."""

    master: bool
    asserted: bool  # PCI_STATUS_INTERRUPT
    disabled: bool  # PCI_COMMAND_INTX_DISABLE
    pin: int
    line: int


def _header(fn: Function) -> _Header:
    fn.refresh()
    h = fn.header
    command, status = h["PCI_COMMAND"], h["PCI_STATUS"]
    return _Header(bool(command["PCI_COMMAND_MASTER"]), bool(status["PCI_STATUS_INTERRUPT"]),
                   bool(command["PCI_COMMAND_INTX_DISABLE"]), h["PCI_INTERRUPT_PIN"].value or 0,
                   h["PCI_INTERRUPT_LINE"].value or 0)


def _cpu_hops(address: int, data: int) -> list[Hop]:
    """Where the write lands as x86 decodes it, then the handler (pictures past the APIC: no CPU is
    observed)."""
    if not x86.is_interrupt_address(address):
        return [Hop(f"memory at 0x{address:x}", ["an ordinary write (DMA):", "no CPU is interrupted"], "software",
                    PICTURE)]
    if x86.remappable(address):
        index = x86.irte_index(address, data)
        return [Hop(f"IOMMU: IRTE {index}", ["remappable format (address bit 4):",
                                              "destination and vector are in the", "interrupt remapping table"],
                    "controller", PICTURE),
                Hop("CPU the IRTE names", ["IDT vector → Linux IRQ → handler"], "cpu", PICTURE)]
    f = x86.fields(address, data)
    title = f"LAPIC {f['dest_id']}" if not f["dest_mode"] else f"LAPICs of logical 0x{f['dest_id']:02x}"
    return [Hop(title, [f"{x86.DEST_MODES[f['dest_mode']]} destination",
                                          f"vector 0x{f['apic_vector']:02x}, {x86.DELIVERY_MODES[f['delivery_mode']]}, "
                                          f"{x86.TRIGGER_MODES[f['trigger_mode']]}"], "cpu"),
            Hop(f"IDT vector 0x{f['apic_vector']:02x}", ["→ Linux IRQ → handler;",
                                                         "/proc/interrupts counts it", "on the CPU it ran on"],
                "software", PICTURE)]


def _write_hop(address: int, data: int, master: bool, seen: str, vector_note: str = "") -> Hop:
    """The memory write the device sends, and whether it can leave the device at all."""
    lines = [f"0x{address:08x} ← 0x{data:x}"] + ([vector_note] if vector_note else [])
    stop = ""
    if not master:
        stop = "Bus Master off"
        lines.append("the write cannot leave")
    elif not x86.is_interrupt_address(address):
        stop = "not 0xFEExxxxx"
        lines.append("a plain memory write (DMA)")
    if seen and not stop:  # a write that cannot leave was not the one recorded earlier
        lines.append(seen)
    return Hop("memory write", lines, "fabric", stop=stop)


def _seen(fn: Function, vector: int, address: int, data: int) -> str:
    """Whether the source recorded this vector's message (the simulator records every write)."""
    sent = fn.source.deliveries()
    if sent is None:
        return ""
    mine = [d for d in sent if d.function in (None, fn.address) and d.vector == vector
            and d.address == address and d.data == data]
    return f"recorded: delivery #{mine[-1].seq}" if mine else "not sent yet"


def intx_state(fn: Function) -> str:
    """One line: "Status.Interrupt 1, INTx Disable 0: pin asserted", read from the device now."""
    r = _header(fn)
    return _intx_words(r.pin, r.asserted, r.disabled)


def _intx_words(pin: int, asserted: bool, disabled: bool) -> str:
    # PCI 3.0 §6.2.2: the pin is driven only while Interrupt Status is 1 and Interrupt Disable is 0
    driven = asserted and not disabled and pin
    return (f"Status.Interrupt {int(asserted)}, INTx Disable {int(disabled)}: "
            f"{'no pin' if not pin else 'pin asserted' if driven else 'pin not asserted'}")


def intx(fn: Function) -> Journey:
    """INTx: Interrupt Pin, Status.Interrupt and Command.INTx Disable as read now, then the wire's way."""
    r = _header(fn)
    pin, line, slot, asserted, disabled = r.pin, r.line, fn.address.device, r.asserted, r.disabled
    pin_name = "none" if pin == 0 else f"INT{'ABCD'[pin - 1]}#" if pin <= 4 else f"reserved ({pin})"
    stop = ""
    if pin == 0:
        stop = "no INTx pin"
    elif not asserted:
        stop = "nothing pending"
    elif disabled:
        stop = "INTx Disable set"
    state = _intx_words(pin, asserted, disabled)
    device = Hop(f"function {fn.address}",
                 [f"Interrupt Pin: {pin_name}", f"Interrupt Line: {line} (OS note)",
                  f"Status.Interrupt: {int(asserted)}", f"Command.INTx Disable: {int(disabled)}",
                  state.partition(": ")[2]], stop=stop)
    bus = fn.address.bus
    swizzled = "ABCD"[(pin - 1 + slot) % 4] if pin else "?"
    # PCI-to-PCI Bridge Architecture §9.1: a bridge maps INTx of device D behind it to (pin + D) mod 4
    wire = ([f"bus {bus}: no bridge above,", "ACPI _PRT maps the pin"] if bus == 0 else
            ["the bridge above rotates it:", f"device {slot}: INT{swizzled} upstream"])
    lane = Lane("INTx: a level-triggered, shared wire", (
        device,
        Hop(f"Assert_{pin_name.rstrip('#')} message" if pin else "INTx message",
            ["PCIe sends the level as", "Assert/Deassert messages;", *wire], "fabric", PICTURE),
        Hop("IOAPIC input (GSI)", ["ACPI _PRT says which;", "level, active low;", "shared by other functions"],
            "controller", PICTURE),
        Hop("redirection entry", ["vector + destination APIC;", "Remote IRR set until EOI"], "controller", PICTURE),
        Hop("LAPIC → every handler", ["of the line, in turn; each", "asks its own device:", "virtio reads ISR,",
                                      "which clears it and", "deasserts the pin"], "software", PICTURE),
    ))
    return Journey(f"INTx of {fn.address}", (lane,))


def msi(fn: Function, vector: int = 0) -> Journey:
    """MSI: one address/data pair in config space; vector n replaces the data's low log2(count) bits."""
    model = fn.msi
    if model is None:
        return Journey(f"MSI of {fn.address}", (Lane("MSI", (Hop(f"function {fn.address}", ["no MSI capability"],
                                                                  stop="no MSI capability"),)),))
    r = model.regs()
    master = _header(fn).master
    masked = bool((r.mask or 0) >> vector & 1)
    pending = bool((r.pending or 0) >> vector & 1)
    address, data = r.message(vector)
    stop = "MSI disabled" if not r.enabled else ("masked: pending bit set" if masked and pending else
                                                 "vector masked" if masked else "")
    mask_line = (f"mask bit {vector}: {int(masked)}, pending: {int(pending)}" if r.maskable
                 else "no per-vector masking")
    cap = Hop(f"MSI capability @0x{model.offset:02x}",
              [f"Enable: {int(r.enabled)}, vectors {r.count} of {r.capable}",
               f"address 0x{r.address:x}, data 0x{r.data:04x}", mask_line], stop=stop)
    note = f"data low bits = vector {vector}" if r.count > 1 else ""
    seen = "nothing sent" if stop else _seen(fn, vector, address, data)  # an earlier write is not this one
    write = _write_hop(address, data, master, seen, note)
    lane = Lane(f"MSI vector {vector}", (cap, write, *_cpu_hops(address, data)))
    return Journey(f"MSI vector {vector} of {fn.address}", (lane,))


def msix(fn: Function, vector: int = 0) -> Journey:
    """MSI-X: capability (Enable, Function Mask) → the vector's table entry in a BAR and its PBA bit →
    the memory write → what x86 makes of it; stops where msix_notify would."""
    model = fn.msix
    if model is None:
        return Journey(f"MSI-X of {fn.address}", (Lane("MSI-X", (Hop(f"function {fn.address}", ["no MSI-X capability"],
                                                                     stop="no MSI-X capability"),)),))
    r = model.regs()
    e = model.entry(vector)
    master = _header(fn).master
    cap_stop = "MSI-X disabled" if not r.enabled else ("Function Mask set" if r.function_masked else "")
    cap = Hop(f"MSI-X capability @0x{model.offset:02x}",
              [f"Enable: {int(r.enabled)}, Function Mask: {int(r.function_masked)}",
               f"table: BAR {r.table_bir} + 0x{r.table_offset:x}, {r.size} entries",
               f"PBA: BAR {r.pba_bir} + 0x{r.pba_offset:x}"], stop=cap_stop)
    entry_stop = "" if cap_stop else ("masked: PBA bit set" if e.entry_masked and e.pending
                                      else "entry masked" if e.entry_masked else "")
    entry = Hop(f"table entry {vector}", [f"address 0x{e.address:x}", f"data 0x{e.data:08x}",
                                          f"mask bit: {int(e.entry_masked)}, PBA bit: {int(e.pending)}"],
                stop=entry_stop)
    seen = "nothing sent" if cap_stop or entry_stop else _seen(fn, vector, e.address, e.data)
    write = _write_hop(e.address, e.data, master, seen)
    lane = Lane(f"MSI-X vector {vector}", (cap, entry, write, *_cpu_hops(e.address, e.data)))
    return Journey(f"MSI-X vector {vector} of {fn.address}", (lane,))


def in_a_vm(fn: Function, vector: int = 1, gsi: int = 24) -> Journey:
    """The guest's MSI-X entry `vector` of a virtio function and two ways its interrupt reaches the vCPU:
    QEMU's emulated device, and vhost through a KVM irqfd (`posted` draws what KVM then does with APICv).
    The entry is read live; `gsi` is the KVM route number (QEMU allocates it; 24 is only an example) and
    every hop after the entry is a picture."""
    e = fn.msix.entry(vector) if fn.msix is not None else None
    address, data = (e.address, e.data) if e is not None else (0, 0)
    f = x86.fields(address, data)
    dest, vec = f["dest_id"], f["apic_vector"]
    message = f"0x{address:x} ← 0x{data:x}"
    lapic = Hop(f"vCPU's LAPIC {dest}", [f"vector 0x{vec:02x} → IRR;", "with APICv it is", "posted instead"],
                "cpu", PICTURE)
    table = Hop(f"guest's table entry {vector}", [message, "QEMU keeps the table", "(guest writes trap to it)"])
    emulated = Lane("emulated: QEMU's device model (e.g. -netdev user)", (
        Hop("virtio-net in QEMU", ["a queue used a buffer:", "virtio_notify →", "msix_notify"], "hypervisor", PICTURE),
        Hop(f"entry {vector}, read now", [message, "masked? → PBA bit,", "nothing sent"], "device"),
        Hop("memory write to 0xFEE…", ["msi_send_message →", "kvm_apic_mem_write"], "fabric", PICTURE),
        Hop("KVM_SIGNAL_MSI", ["ioctl from QEMU;", "kvm_set_msi"], "hypervisor", PICTURE),
        lapic,
    ), note="the entry is read when the event fires: a new message takes effect at once")
    setup = Lane("irqfd set-up: vhost-net (-netdev tap,vhost=on), once, at DRIVER_OK", (
        table,
        Hop(f"KVM MSI route, GSI {gsi}", [message, "a copy of the entry;", "refreshed only on", "mask → unmask"],
            "hypervisor", PICTURE, via="route built"),
        Hop("eventfd (vhost's call fd)", [f"bound to GSI {gsi}", "by the KVM_IRQFD ioctl"], "hypervisor", PICTURE,
            via="KVM_IRQFD"),
    ), note="kvm_irqchip_add_msi_route copies the message as the entry holds it then")
    irqfd = Lane("irqfd event: every interrupt, QEMU not involved", (
        Hop("vhost worker", ["a queue used a buffer:", "eventfd_signal(call fd)"], "hypervisor", PICTURE),
        Hop("KVM irqfd_wakeup", [f"the route for GSI {gsi}:", message, "the copy, not the table"],
            "hypervisor", PICTURE, via="eventfd"),
        lapic,
    ), note="a message written into an entry that stays unmasked never reaches the route")
    return Journey(f"MSI-X vector {vector} of {fn.address} inside a VM", (emulated, setup, irqfd))


def posted(fn: Function, vector: int = 1) -> Journey:
    """Posted interrupts for the guest's MSI-X entry `vector`: KVM posting it with APICv, and VT-d posting
    an assigned device's interrupt.  Only the entry (its APIC and vector) is read; the rest is a picture."""
    e = fn.msix.entry(vector) if fn.msix is not None else None
    f = x86.fields(*((e.address, e.data) if e is not None else (0, 0)))
    dest, vec = f["dest_id"], f["apic_vector"]
    apicv = Lane("posted (APICv): KVM posts to a running vCPU", (
        Hop("KVM delivers", [f"vector 0x{vec:02x} to vCPU {dest}", "vmx_deliver_posted_interrupt"],
            "hypervisor", PICTURE),
        Hop("posted-interrupt descriptor", [f"PIR bit 0x{vec:02x} ← 1", "ON ← 1 (outstanding)"], "hypervisor", PICTURE),
        Hop("notification IPI", [f"host vector 0x{POSTED_INTR_VECTOR:02x}", "to the pCPU running", "the vCPU"],
            "controller", PICTURE),
        Hop("CPU in guest mode", ["PIR → virtual IRR;", "guest handler runs,", "no VM exit"], "cpu", PICTURE),
    ), note="the kit cannot show this live: the descriptor is in host memory")
    vtd = Lane("posted (VT-d): an assigned device (VFIO), no host CPU on the way", (
        Hop("device's own entry", ["remappable format:", "address bit 4 + handle"], "device", PICTURE),
        Hop("IOMMU: IRTE, posted", ["IM = 1: posted mode;", "guest vector +", "descriptor address"],
            "controller", PICTURE),
        Hop("posted-interrupt descriptor", [f"PIR bit 0x{vec:02x} ← 1", "ON ← 1 unless SN", "(suppress notify)"],
            "hypervisor", PICTURE),
        Hop("notification", ["vector NV to APIC NDST;", "vCPU running: no exit;", "blocked: wake-up vector",
                             f"0x{POSTED_INTR_WAKEUP_VECTOR:02x} wakes it"], "cpu", PICTURE),
    ), note="the kit cannot show this live either: IRTE and descriptor live in the IOMMU and host memory")
    return Journey(f"MSI-X vector {vector} of {fn.address}: posted to its vCPU", (apicv, vtd))

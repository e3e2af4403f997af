"""A vCPU that counts the interrupts its local APIC accepts: how deliveries are seen under KVM.

Under TCG the source points MSI-X entries at mailboxes in guest RAM (source.py).  Under KVM that cannot
show everything: a vhost or vhost-user device signals an eventfd that KVM turns into an interrupt itself
(irqfd), through a route QEMU built from the table entry (hw/virtio/virtio-pci.c), and KVM never writes
memory for it; the message only reaches the in-kernel local APIC.  So the guest itself has to look.

The program is 16-bit real-mode code, a few dozen bytes, assembled here by hand:

* the BIOS image (`bios_image`, given to QEMU as `-bios`) holds only a far jump at the reset vector
  (0xFFFFFFF0) to `INIT` in RAM, which the source writes through qtest while the CPU is stopped (-S);
* `INIT` switches the local APIC to x2APIC mode (IA32_APIC_BASE, MSR 0x1B, bits EN|EXTD: its
  registers are then MSRs, reachable from real mode, where the xAPIC page at 0xFEE00000 is not),
  software-enables it (SPIV, MSR 0x80F = 0x1FF), sets READY and loops on `sti; hlt`;
* each interrupt vector N >= 16 enters through the real-mode vector table to a stub that adds one to
  the DWORD COUNTERS + 4*N and jumps to an end-of-interrupt routine (x2APIC EOI, MSR 0x80B); N < 16 (the
  real-mode CPU exceptions, never a legal APIC vector) counts too and then halts the CPU for good with
  interrupts off.  Vectors 16-31 are Intel's reserved exceptions, but none of them can happen in this
  code (no x87, no alignment checks, no SSE), so the APIC may use them: the source's barrier is 16.

A delivery to APIC vector N is then COUNTERS[N] going up by one, read through qtest (`read_counters`).
Only vectors are seen: the message address says which APIC (one vCPU here, APIC ID 0), the data's
vector is the only thing that reaches the CPU.  The count goes up when the vCPU takes the interrupt,
a little after the message (an asynchronous eventfd -> KVM -> vCPU wake-up), so callers wait for it.
"""

from __future__ import annotations

import struct

from .qtest import read_bytes_cmd, write_cmd

INIT = 0x1000  # entry point (segment 0)
EOI = 0x1100  # end-of-interrupt routine shared by all stubs
HALT = 0x1180  # where an exception stops the CPU
STUBS = 0x2000  # 8 bytes per vector
COUNTERS = 0x3000  # one DWORD per vector (256 * 4)
READY = 0x3400  # WORD: 1 once the APIC is enabled and the CPU waits for interrupts
STACK = 0x0F00  # grows down to 0x500 (above the real-mode vector table and an empty BIOS data area)
BIOS_SIZE = 0x10000  # QEMU wants the BIOS image a multiple of 64 KiB

IA32_APIC_BASE = 0x1B
APIC_BASE_EN_EXTD = 0xC00  # bit 11 APIC global enable, bit 10 x2APIC mode
X2APIC_SPIV = 0x80F  # spurious interrupt vector register; bit 8 software-enables the APIC
X2APIC_EOI = 0x80B
FIRST_INTERRUPT = 16  # 0-15: illegal APIC vectors, and the exceptions real-mode code can raise


def _mov_ecx(value: int) -> bytes:
    return b"\x66\xb9" + struct.pack("<I", value)


def _mov_eax(value: int) -> bytes:
    return b"\x66\xb8" + struct.pack("<I", value)


XOR_EDX = b"\x66\x31\xd2"
RDMSR, WRMSR = b"\x0f\x32", b"\x0f\x30"


def _jmp_near(at: int, target: int) -> bytes:
    return b"\xe9" + struct.pack("<H", (target - (at + 3)) & 0xFFFF)


def bios_image(counter: bool = True) -> bytes:
    """64 KiB of `hlt` with `jmp far 0000:INIT` at the reset vector (offset 0xFFF0, linear 0xFFFFFFF0);
    without `counter`, `hlt` only: the vCPU halts at once, interrupts off (how a running TCG machine
    keeps out of the way: QEMU 7.2's TCG has no x2APIC)."""
    image = bytearray(b"\xf4" * BIOS_SIZE)
    if counter:
        image[0xFFF0:0xFFF5] = b"\xea" + struct.pack("<HH", INIT, 0)
    return bytes(image)


def ram_image() -> list[tuple[int, bytes]]:
    """(guest-physical address, bytes) to write before the CPU starts: vector table, code, zeroed counters."""
    init = (b"\xfa"  # cli
            + b"\x31\xc0\x8e\xd8\x8e\xd0"  # xor ax,ax; mov ds,ax; mov ss,ax
            + b"\xbc" + struct.pack("<H", STACK)  # mov sp,STACK
            + _mov_ecx(IA32_APIC_BASE) + RDMSR
            + b"\x66\x0d" + struct.pack("<I", APIC_BASE_EN_EXTD) + WRMSR  # or eax,EN|EXTD; wrmsr
            + _mov_ecx(X2APIC_SPIV) + _mov_eax(0x1FF) + XOR_EDX + WRMSR
            + b"\xc7\x06" + struct.pack("<HH", READY, 1)  # mov word [READY],1
            + b"\xfb\xf4\xeb\xfc")  # again: sti; hlt; jmp again
    eoi = (b"\x66\x50\x66\x51\x66\x52"  # push eax, ecx, edx (the interrupted code's registers)
           + _mov_ecx(X2APIC_EOI) + b"\x66\x31\xc0" + XOR_EDX + WRMSR
           + b"\x66\x5a\x66\x59\x66\x58\xcf")  # pop edx, ecx, eax; iret
    halt = b"\xfa\xf4\xeb\xfd"  # cli; hlt; jmp to the hlt
    ivt = bytearray()
    stubs = bytearray()
    for n in range(256):
        at = STUBS + 8 * n
        ivt += struct.pack("<HH", at, 0)
        stubs += b"\x66\xff\x06" + struct.pack("<H", COUNTERS + 4 * n)  # inc dword [COUNTERS+4n]
        stubs += _jmp_near(at + 5, EOI if n >= FIRST_INTERRUPT else HALT)
    return [(0, bytes(ivt)), (INIT, init), (EOI, eoi), (HALT, halt), (STUBS, bytes(stubs)),
            (COUNTERS, bytes(256 * 4 + 4))]


def decode_counters(raw: bytes) -> list[int]:
    """COUNTERS as read from guest RAM: 256 counts, one per APIC vector."""
    return list(struct.unpack("<256I", raw[: 256 * 4]))


BARRIER = FIRST_INTERRUPT  # the source's own vector: the lowest priority class (1), below any OS's 32-255
MSI_WINDOW = 0xFEE0_0000  # a qtest write here is an MSI to APIC 0 (under KVM: QEMU's kvm_send_msi)


class VcpuCounts:
    """The running vCPU's counters as the source last read them, and how to read past a barrier.

    `barrier_commands()` sends an MSI on BARRIER and reads the counters in the same qtest batch.  The
    local APIC hands interrupts to the CPU highest vector first, so once BARRIER's count has gone up, every
    interrupt that was in the APIC when the barrier was sent has been counted too.  What is still on its
    way (an eventfd a back-end has yet to signal, a KVM irqfd injected from a work queue) is counted at
    a later read."""

    def __init__(self) -> None:
        self.last = [0] * 256
        self.barriers = 0

    def load_commands(self) -> list[str]:
        """qtest writes that put the program, its vector table and zeroed counters into guest RAM."""
        return [f"write {at:#x} {len(data):#x} 0x{data.hex()}" for at, data in ram_image()]

    def barrier_commands(self) -> list[str]:
        self.barriers += 1
        return [write_cmd("mem", MSI_WINDOW, 4, BARRIER), read_bytes_cmd(COUNTERS, 256 * 4)]

    def passed(self, counts: list[int]) -> bool:
        """Has the CPU taken the last barrier sent?"""
        return counts[BARRIER] >= self.barriers

    def take(self, counts: list[int]) -> dict[int, int]:
        """APIC vector -> interrupts counted since the last take (the barrier's own left out)."""
        new = {v: counts[v] - self.last[v] for v in range(256) if counts[v] != self.last[v] and v != BARRIER}
        self.last = counts
        return new

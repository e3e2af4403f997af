"""A pure-Python PCI device: `pciexplore.open("sim:nic")`, "sim:nic,vectors=2048", "sim:nic+nvme".

Each simulated function has a complete 4096-byte config space (header, PM, MSI, PCI Express, MSI-X,
AER) with write masks like real hardware (read-only bits stay, RW1C status bits clear when written
with 1), BARs that size like real BARs, and BAR memory holding the MSI-X table, the PBA and a few
device registers.  Its MSI-X and MSI behaviour follows QEMU's hw/pci/msix.c and hw/pci/msi.c: state
lives only in the config bytes, the table and the PBA, and is derived from them on every event.

Spec: "sim:" then devices joined by "+", each "KIND[,vectors=N][,driver][,msix=0]":
  nic     an e1000e-like NIC: ICR/ICS/IMS/IMC/IVAR registers route causes (rx0, tx0, ...) to vectors
  nvme    an NVMe-like controller: completion queue N signals vector N
  virtio-net  virtio-net over PCI with QEMU's common-configuration rules (sources/sim_virtio.py);
          ",transitional" adds the legacy I/O BAR 0; ",delivery=emulated|irqfd|cloud-hypervisor" how its
          messages reach the CPU (sources/delivery.py: QEMU's msix_notify, vhost's KVM irqfd, cloud-hypervisor)
  vectors MSI-X table size (1..2048); driver: start as a Linux driver leaves it (Bus Master on,
  MSI-X enabled, every vector programmed and unmasked); msix=0: no MSI-X capability (MSI only).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ..address import Address
from ..errors import InputError, PciError
from .base import BarRegion, Delivery, Source

CONFIG_SIZE = 4096
MAX_VECTORS = 2048
MAX_DEVICES = 12
IORESOURCE_MEM = 0x200
IORESOURCE_MEM_64 = 0x00100000

# config offsets of this simulated layout (capability chain 0x40 -> 0x50 -> 0x70 -> 0xB0, AER at 0x100)
PM_CAP, MSI_CAP, EXP_CAP, MSIX_CAP, AER_CAP = 0x40, 0x50, 0x70, 0xB0, 0x100
PCI_COMMAND, PCI_STATUS = 0x04, 0x06
PCI_COMMAND_MEMORY, PCI_COMMAND_MASTER, PCI_COMMAND_INTX_DISABLE = 0x2, 0x4, 0x400
PCI_STATUS_INTERRUPT = 0x08
PCI_MSI_FLAGS_ENABLE, PCI_MSI_FLAGS_QMASK, PCI_MSI_FLAGS_QSIZE = 0x1, 0x0E, 0x70
PCI_MSI_FLAGS_64BIT, PCI_MSI_FLAGS_MASKBIT = 0x80, 0x100
PCI_MSIX_FLAGS_MASKALL, PCI_MSIX_FLAGS_ENABLE = 0x4000, 0x8000
PCI_MSIX_ENTRY_SIZE, PCI_MSIX_ENTRY_VECTOR_CTRL, PCI_MSIX_ENTRY_CTRL_MASKBIT = 16, 12, 1

# e1000e (82574) interrupt registers in BAR 0 and the ICR cause bits this NIC raises
E1000_ICR, E1000_ICS, E1000_IMS, E1000_IMC, E1000_IVAR = 0xC0, 0xC8, 0xD0, 0xD8, 0xE4
NIC_CAUSES = {  # cause -> (ICR bit, IVAR field index or None for "Other", description)
    "rx0": (20, 0, "receive queue 0 (ICR.RXQ0)"),
    "rx1": (21, 1, "receive queue 1 (ICR.RXQ1)"),
    "tx0": (22, 2, "transmit queue 0 (ICR.TXQ0)"),
    "tx1": (23, 3, "transmit queue 1 (ICR.TXQ1)"),
    "other": (24, 4, "other causes (ICR.OTHER)"),
    "link": (2, 4, "link status change (ICR.LSC, routed like Other)"),
}
IVAR_VALID = 0x8  # per 4-bit IVAR field: bits 2:0 vector, bit 3 valid (82574 datasheet §10.2.4.9)

# AER registers (PCIe Base §7.8.4): what this device implements of each
AER_UNCOR_SUPPORTED = 0x001FF010  # DLP, poisoned TLP .. ECRC, unsupported request
AER_UNCOR_SEVER_DEFAULT = 0x00462030
AER_COR_SUPPORTED = 0x000031C1  # receiver, bad TLP, bad DLLP, rollover, timeout, advisory non-fatal
AER_COR_MASK_DEFAULT = 0x00002000  # advisory non-fatal masked by default (spec)


@dataclass(frozen=True, slots=True)
class Profile:
    kind: str
    vendor: int
    device: int
    class_code: int
    subsystem: tuple[int, int]
    vectors: int
    regs_bar_size: int
    msix_bar: int
    wide_bars: bool  # 64-bit BARs (the MSI-X BAR then takes msix_bar and msix_bar + 1)
    description: str


PROFILES = {
    "nic": Profile("nic", 0x8086, 0x10D3, 0x020000, (0x8086, 0xA01F), 5, 0x20000, 3, False,
                   "e1000e-like Ethernet controller"),
    "nvme": Profile("nvme", 0x1B36, 0x0010, 0x010802, (0x1AF4, 0x1100), 9, 0x4000, 4, True,
                    "NVMe-like controller"),
}


def _align(n: int, a: int) -> int:
    return (n + a - 1) // a * a


class SimFunction:
    """One simulated function.  `send(address, data, vector)` is called for every message it writes."""

    def __init__(self, profile: Profile, address: Address, vectors: int, bar_base: int, has_msix: bool,
                 send: Callable[[Address, int, int, int, str | None], None]) -> None:
        if not 1 <= vectors <= MAX_VECTORS:
            raise InputError(f"sim: vectors={vectors}: MSI-X tables have 1..{MAX_VECTORS} vectors")
        self.profile = profile
        self.address = address
        self.vectors = vectors
        self.has_msix = has_msix
        self._send = send
        self.config = bytearray(CONFIG_SIZE)
        self.wmask = bytearray(CONFIG_SIZE)
        self.w1cmask = bytearray(CONFIG_SIZE)
        self.table_offset = 0
        self.pba_offset = _align(vectors * PCI_MSIX_ENTRY_SIZE, 0x1000)
        pba_bytes = _align(vectors, 64) // 8
        self.bar_sizes = {0: profile.regs_bar_size}
        if has_msix:
            self.bar_sizes[profile.msix_bar] = max(0x4000, 1 << (self.pba_offset + pba_bytes - 1).bit_length())
        self.bar_mem = {i: bytearray(size) for i, size in self.bar_sizes.items()}
        self._build_config(bar_base)

    # -- config space construction ----------------------------------------------------------------
    def _put(self, offset: int, width: int, value: int, wmask: int = 0, w1c: int = 0) -> None:
        self.config[offset : offset + width] = value.to_bytes(width, "little")
        self.wmask[offset : offset + width] = wmask.to_bytes(width, "little")
        self.w1cmask[offset : offset + width] = w1c.to_bytes(width, "little")

    def _build_config(self, bar_base: int) -> None:
        p = self.profile
        self._put(0x00, 2, p.vendor)
        self._put(0x02, 2, p.device)
        self._put(PCI_COMMAND, 2, 0, 0x0547)  # I/O, memory, master, parity, SERR, INTx disable
        self._put(PCI_STATUS, 2, 0x0010, 0, 0xF900)  # capability list; error bits RW1C
        self._put(0x08, 4, p.class_code << 8)
        self._put(0x0C, 1, 0, 0xFF)  # cache line size
        base = bar_base
        for index, size in sorted(self.bar_sizes.items()):
            base = _align(base, size)
            if p.wide_bars:
                self._put(0x10 + 4 * index, 4, (base & 0xFFFFFFF0) | 0x4, ~(size - 1) & 0xFFFFFFF0)
                self._put(0x14 + 4 * index, 4, base >> 32, 0xFFFFFFFF)
            else:
                self._put(0x10 + 4 * index, 4, base, ~(size - 1) & 0xFFFFFFF0)
            base += size
        self._put(0x2C, 2, p.subsystem[0])
        self._put(0x2E, 2, p.subsystem[1])
        self._put(0x34, 1, PM_CAP)
        self._put(0x3C, 1, 0, 0xFF)  # interrupt line
        self._put(0x3D, 1, 1)  # INTA#
        # Power Management (PCI PM 1.2): version 3; PMCSR power state RW
        self._put(PM_CAP, 2, 0x01 | MSI_CAP << 8)
        self._put(PM_CAP + 2, 2, 0x0003)
        self._put(PM_CAP + 4, 2, 0x0008, 0x0003)  # No_Soft_Reset; PowerState RW
        # MSI: 64-bit, per-vector mask, capable of up to min(32, vectors) vectors
        msi_log = min(5, (min(32, self.vectors)).bit_length() - 1)
        self._put(MSI_CAP, 2, 0x05 | EXP_CAP << 8)
        self._put(MSI_CAP + 2, 2, PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT | msi_log << 1,
                  PCI_MSI_FLAGS_QSIZE | PCI_MSI_FLAGS_ENABLE)
        self._put(MSI_CAP + 4, 4, 0, 0xFFFFFFFC)
        self._put(MSI_CAP + 8, 4, 0, 0xFFFFFFFF)
        self._put(MSI_CAP + 12, 2, 0, 0xFFFF)
        self._put(MSI_CAP + 16, 4, 0, 0xFFFFFFFF >> (32 - (1 << msi_log)))
        self._put(MSI_CAP + 20, 4, 0)  # pending: read-only
        # PCI Express v2 endpoint
        self._put(EXP_CAP, 2, 0x10 | ((MSIX_CAP if self.has_msix else 0) << 8))
        self._put(EXP_CAP + 2, 2, 0x0002)
        self._put(EXP_CAP + 4, 4, 0x00008FE1)  # MPS 256, ext tag, L0s/L1 unlimited, role-based errors
        self._put(EXP_CAP + 8, 2, 0x2910, 0x7FFF)  # DevCtl (FLR bit 15 not offered)
        self._put(EXP_CAP + 10, 2, 0, 0, 0x000F)  # DevSta error bits RW1C
        self._put(EXP_CAP + 12, 4, 0x00000C11)  # 2.5GT/s x1, ASPM L0s L1
        self._put(EXP_CAP + 16, 2, 0, 0x03CB)  # LnkCtl
        self._put(EXP_CAP + 18, 2, 0x1011)  # LnkSta: 2.5GT/s x1, slot clock
        self._put(EXP_CAP + 0x24, 4, 0x0000001F)  # DevCap2: completion timeout ranges + disable
        self._put(EXP_CAP + 0x28, 2, 0, 0x001F)
        self._put(EXP_CAP + 0x2C, 4, 0x00000002)  # LnkCap2: 2.5GT/s
        self._put(EXP_CAP + 0x30, 2, 0x0001, 0x000F)
        if self.has_msix:
            bir = self.profile.msix_bar
            self._put(MSIX_CAP, 2, 0x11)
            self._put(MSIX_CAP + 2, 2, self.vectors - 1, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL)
            self._put(MSIX_CAP + 4, 4, self.table_offset | bir)
            self._put(MSIX_CAP + 8, 4, self.pba_offset | bir)
            for v in range(self.vectors):  # msix.c msix_init: every vector starts masked
                self._bar_put(bir, self.table_offset + v * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL,
                              PCI_MSIX_ENTRY_CTRL_MASKBIT)
        # AER v2
        self._put(AER_CAP, 4, 0x00020001)
        self._put(AER_CAP + 4, 4, 0, 0, AER_UNCOR_SUPPORTED)
        self._put(AER_CAP + 8, 4, 0, AER_UNCOR_SUPPORTED)
        self._put(AER_CAP + 12, 4, AER_UNCOR_SEVER_DEFAULT, AER_UNCOR_SUPPORTED)
        self._put(AER_CAP + 16, 4, 0, 0, AER_COR_SUPPORTED)
        self._put(AER_CAP + 20, 4, AER_COR_MASK_DEFAULT, AER_COR_SUPPORTED)
        self._put(AER_CAP + 24, 4, 0x000000A0, 0x00000140)  # ECRC gen/check capable; enables RW

    # -- little helpers ---------------------------------------------------------------------------
    def config_bytes(self) -> bytes:
        """Config space as a read sees it now."""
        return bytes(self.config)

    def cfg(self, offset: int, width: int) -> int:
        return int.from_bytes(self.config[offset : offset + width], "little")

    def _cfg_put(self, offset: int, width: int, value: int) -> None:
        self.config[offset : offset + width] = value.to_bytes(width, "little")

    def _bar_get(self, bar: int, offset: int, width: int = 4) -> int:
        return int.from_bytes(self.bar_mem[bar][offset : offset + width], "little")

    def _bar_put(self, bar: int, offset: int, value: int, width: int = 4) -> None:
        self.bar_mem[bar][offset : offset + width] = value.to_bytes(width, "little")

    # -- config writes: masks first, then the capabilities' reactions (pci_default_write_config) --
    def write_config(self, offset: int, data: bytes) -> None:
        if offset < 0 or offset + len(data) > CONFIG_SIZE:
            raise InputError(f"config write 0x{offset:x}+{len(data)} outside 4096-byte config space",
                             device=str(self.address), offset=offset)
        old_msix_flags = self.cfg(MSIX_CAP + 2, 2)
        for i, value in enumerate(data):
            at = offset + i
            w, c = self.wmask[at], self.w1cmask[at]
            self.config[at] = ((self.config[at] & ~w) | (value & w)) & ~(value & c) & 0xFF
        end = offset + len(data)
        if self.has_msix and offset <= MSIX_CAP + 3 < end:
            self._msg_ctl_written(old_msix_flags)
            self._msix_write_config(old_msix_flags)
        if offset < MSI_CAP + 0x18 and end > MSI_CAP:
            self._msi_write_config()

    # -- MSI-X (msix.c) -----------------------------------------------------------------------------
    @property
    def msix_bir(self) -> int:
        return self.profile.msix_bar

    @staticmethod
    def _function_masked(flags: int) -> bool:
        return not flags & PCI_MSIX_FLAGS_ENABLE or bool(flags & PCI_MSIX_FLAGS_MASKALL)

    def msix_enabled(self) -> bool:
        return self.has_msix and bool(self.cfg(MSIX_CAP + 2, 2) & PCI_MSIX_FLAGS_ENABLE)

    def _entry_ctrl(self, vector: int) -> int:
        return self._bar_get(self.msix_bir, self.table_offset + vector * PCI_MSIX_ENTRY_SIZE
                             + PCI_MSIX_ENTRY_VECTOR_CTRL)

    def _vector_masked(self, vector: int, fmask: bool) -> bool:
        return fmask or bool(self._entry_ctrl(vector) & PCI_MSIX_ENTRY_CTRL_MASKBIT)

    def msix_is_masked(self, vector: int) -> bool:
        return self._vector_masked(vector, self._function_masked(self.cfg(MSIX_CAP + 2, 2)))

    def msix_is_pending(self, vector: int) -> bool:
        return bool(self.bar_mem[self.msix_bir][self.pba_offset + vector // 8] >> (vector % 8) & 1)

    def _set_pending(self, vector: int, on: bool) -> None:
        at = self.pba_offset + vector // 8
        mem = self.bar_mem[self.msix_bir]
        mem[at] = mem[at] | (1 << vector % 8) if on else mem[at] & ~(1 << vector % 8)

    def msix_message(self, vector: int) -> tuple[int, int]:
        """msix_get_message: the entry's (address, data) as the table holds them now."""
        entry = self.table_offset + vector * PCI_MSIX_ENTRY_SIZE
        return self._bar_get(self.msix_bir, entry, 8), self._bar_get(self.msix_bir, entry + 8)

    def msix_notify(self, vector: int) -> None:
        if self.msix_is_masked(vector):
            self._set_pending(vector, True)
            return
        self.send(*self.msix_message(vector), vector)

    def _mask_changed(self, vector: int, masked: bool) -> None:
        """msix_fire_vector_notifier: a vector's mask state flipped (a delivery mode may listen)."""

    def _table_written(self, vector: int, old: bytes) -> None:
        """A table DWORD was written; `old` is the entry's 16 bytes before (a delivery mode may listen)."""

    def _msg_ctl_written(self, old_flags: int) -> None:
        """Message Control was written; `old_flags` its value before (a delivery mode may listen)."""

    def entry_bytes(self, vector: int) -> bytes:
        at = self.table_offset + vector * PCI_MSIX_ENTRY_SIZE
        return bytes(self.bar_mem[self.msix_bir][at : at + PCI_MSIX_ENTRY_SIZE])

    def _pba_read(self, first: int, end: int) -> None:
        """The PBA bits of vectors first..end-1 are about to be read (a delivery mode may poll first)."""

    def _handle_mask_update(self, vector: int, was_masked: bool) -> None:
        is_masked = self.msix_is_masked(vector)
        if is_masked == was_masked:
            return
        self._mask_changed(vector, is_masked)
        if not is_masked and self.msix_is_pending(vector):
            self._set_pending(vector, False)
            self.msix_notify(vector)

    def _msix_write_config(self, old_flags: int) -> None:
        was_fmask = self._function_masked(old_flags)
        flags = self.cfg(MSIX_CAP + 2, 2)
        if not flags & PCI_MSIX_FLAGS_ENABLE:
            return
        if self._function_masked(flags) == was_fmask:
            return
        for vector in range(self.vectors):
            self._handle_mask_update(vector, self._vector_masked(vector, was_fmask))

    def _msix_table_write(self, rel: int, value: int) -> None:
        vector = rel // PCI_MSIX_ENTRY_SIZE
        was_masked = self.msix_is_masked(vector)
        old = self.entry_bytes(vector)
        self._bar_put(self.msix_bir, self.table_offset + rel, value)
        self._table_written(vector, old)
        self._handle_mask_update(vector, was_masked)

    # -- MSI (msi.c) ------------------------------------------------------------------------------
    def msi_enabled(self) -> bool:
        return bool(self.cfg(MSI_CAP + 2, 2) & PCI_MSI_FLAGS_ENABLE)

    def msi_count(self) -> int:
        return 1 << ((self.cfg(MSI_CAP + 2, 2) & PCI_MSI_FLAGS_QSIZE) >> 4)

    def msi_notify(self, vector: int) -> None:
        if self.cfg(MSI_CAP + 16, 4) >> vector & 1:
            self._cfg_put(MSI_CAP + 20, 4, self.cfg(MSI_CAP + 20, 4) | 1 << vector)
            return
        count = self.msi_count()
        data = (self.cfg(MSI_CAP + 12, 2) & ~(count - 1)) | vector
        self.send(self.cfg(MSI_CAP + 4, 8), data, vector)

    def _msi_write_config(self) -> None:
        flags = self.cfg(MSI_CAP + 2, 2)
        if not flags & PCI_MSI_FLAGS_ENABLE:
            return
        capable = (flags & PCI_MSI_FLAGS_QMASK) >> 1
        if (flags & PCI_MSI_FLAGS_QSIZE) >> 4 > capable:  # more than capable: clamp, as msi.c does
            self._cfg_put(MSI_CAP + 2, 2, (flags & ~PCI_MSI_FLAGS_QSIZE) | capable << 4)
        count = self.msi_count()
        pending = self.cfg(MSI_CAP + 20, 4) & (0xFFFFFFFF >> (32 - count))
        self._cfg_put(MSI_CAP + 20, 4, pending)
        for vector in range(count):
            if pending >> vector & 1 and not self.cfg(MSI_CAP + 16, 4) >> vector & 1:
                self._cfg_put(MSI_CAP + 20, 4, self.cfg(MSI_CAP + 20, 4) & ~(1 << vector))
                self.msi_notify(vector)

    # -- sending and raising ------------------------------------------------------------------------
    def send(self, address: int, data: int, vector: int, via: str | None = None) -> None:
        """The function writes `data` to `address`, unless Bus Master is off (then nothing leaves it)."""
        if self.cfg(PCI_COMMAND, 2) & PCI_COMMAND_MASTER:
            self._send(self.address, address, data, vector, via)

    def raise_vector(self, vector: int) -> None:
        """What the device does when it wants to signal `vector`: MSI-X, else MSI, else INTx."""
        if self.has_msix and (self.msix_enabled() or not self.msi_enabled()):
            if not 0 <= vector < self.vectors:
                raise InputError(f"no MSI-X vector {vector} (table has {self.vectors})", device=str(self.address))
            self.msix_notify(vector)
        elif self.msi_enabled():
            if not 0 <= vector < self.msi_count():
                raise InputError(f"no MSI vector {vector} ({self.msi_count()} enabled)", device=str(self.address))
            self.msi_notify(vector)
        else:
            self._signal_legacy()

    def _signal_legacy(self) -> None:
        """One interrupt without MSI-X: MSI vector 0 when MSI is on, else INTx (PCI_STATUS_INTERRUPT)."""
        if self.msi_enabled():
            self.msi_notify(0)
        else:
            self._cfg_put(PCI_STATUS, 2, self.cfg(PCI_STATUS, 2) | PCI_STATUS_INTERRUPT)

    def causes(self) -> dict[str, str]:
        out = {}
        if self.profile.kind == "nic":
            for name, (bit, _, what) in NIC_CAUSES.items():
                out[name] = f"{what}: sets ICR bit {bit}; signalled when IMS has it, on the IVAR vector"
        else:
            for q in range(min(self.vectors, 8)):
                out[f"cq{q}"] = f"completion queue {q} posted an entry: signals vector {q}"
        n = self.vectors if self.has_msix else self.msi_count()
        out.update({f"vector:{v}": f"raise vector {v} directly" for v in range(n)})
        return out

    def raise_cause(self, cause: str) -> None:
        if cause.startswith("vector:"):
            try:
                vector = int(cause[7:], 0)
            except ValueError:
                raise InputError(f"bad cause {cause!r}: want vector:N", device=str(self.address)) from None
            self.raise_vector(vector)
        elif self.profile.kind == "nic" and cause in NIC_CAUSES:
            self._nic_cause(1 << NIC_CAUSES[cause][0])
        elif self.profile.kind == "nvme" and cause.startswith("cq") and cause[2:].isdigit():
            self.raise_vector(int(cause[2:]))
        else:
            raise InputError(f"unknown interrupt cause {cause!r}; this device has: "
                             f"{', '.join(c for c in self.causes() if not c.startswith('vector:'))}, vector:N",
                             device=str(self.address))

    def _nic_cause(self, bits: int) -> None:
        """ICR |= bits; each newly signalled cause enabled in IMS goes to its IVAR vector (MSI-X),
        or to the one MSI/INTx interrupt otherwise (as e1000e does)."""
        self._bar_put(0, E1000_ICR, self._bar_get(0, E1000_ICR) | bits)
        active = bits & self._bar_get(0, E1000_IMS)
        if not active:
            return
        if not (self.has_msix and self.msix_enabled()):
            self._signal_legacy()
            return
        ivar = self._bar_get(0, E1000_IVAR)
        sent = set()
        for bit, field, _ in NIC_CAUSES.values():
            if active >> bit & 1:
                entry = (ivar >> (4 * field)) & 0xF
                if entry & IVAR_VALID and entry & 7 < self.vectors and entry & 7 not in sent:
                    sent.add(entry & 7)
                    self.msix_notify(entry & 7)

    def _nic_reg_write(self, offset: int, value: int) -> None:
        if offset == E1000_ICS:
            self._nic_cause(value)
        elif offset == E1000_ICR:  # write 1 to clear
            self._bar_put(0, E1000_ICR, self._bar_get(0, E1000_ICR) & ~value)
        elif offset == E1000_IMS:
            self._bar_put(0, E1000_IMS, self._bar_get(0, E1000_IMS) | value)
        elif offset == E1000_IMC:
            self._bar_put(0, E1000_IMS, self._bar_get(0, E1000_IMS) & ~value)
        else:
            self._bar_put(0, offset, value)

    # -- BAR access ---------------------------------------------------------------------------------
    def _check_bar(self, bar: int, offset: int, size: int) -> None:
        if bar not in self.bar_mem:
            raise InputError(f"BAR {bar} is not implemented by this device", device=str(self.address))
        if offset < 0 or size < 0 or offset + size > self.bar_sizes[bar]:
            raise InputError(f"BAR {bar} access 0x{offset:x}+0x{size:x} outside the BAR (size "
                             f"0x{self.bar_sizes[bar]:x})", device=str(self.address), offset=offset)

    def read_bar(self, bar: int, offset: int, size: int) -> bytes:
        self._check_bar(bar, offset, size)
        if not self.cfg(PCI_COMMAND, 2) & PCI_COMMAND_MEMORY:
            return b"\xff" * size  # memory decoding off: the request ends in Unsupported Request, all ones
        if self.has_msix and bar == self.msix_bir:
            pba_end = self.pba_offset + (self.vectors + 7) // 8
            if offset < pba_end and offset + size > self.pba_offset:  # msix_pba_mmio_read polls first
                first = max(offset - self.pba_offset, 0) * 8
                self._pba_read(first, min(self.vectors, (offset + size - self.pba_offset) * 8))
        return bytes(self.bar_mem[bar][offset : offset + size])

    def write_bar(self, bar: int, offset: int, data: bytes) -> None:
        self._check_bar(bar, offset, len(data))
        if not self.cfg(PCI_COMMAND, 2) & PCI_COMMAND_MEMORY:
            return
        if offset % 4 or len(data) % 4:
            raise InputError("this device takes DWORD-aligned BAR writes of whole DWORDs",
                             device=str(self.address), offset=offset)
        for at in range(offset, offset + len(data), 4):
            value = int.from_bytes(data[at - offset : at - offset + 4], "little")
            self._write_dword(bar, at, value)

    def _write_dword(self, bar: int, at: int, value: int) -> None:
        if self.has_msix and bar == self.msix_bir:
            table_end = self.table_offset + self.vectors * PCI_MSIX_ENTRY_SIZE
            if self.table_offset <= at < table_end:
                self._msix_table_write(at - self.table_offset, value)
            # the PBA and the rest of this BAR ignore writes (the PBA is read-only to software)
            return
        if bar == 0 and self.profile.kind == "nic":
            self._nic_reg_write(at, value)
            return
        self._bar_put(bar, at, value)

    def bar_regions(self) -> dict[int, BarRegion]:
        out = {}
        for index, size in self.bar_sizes.items():
            low = self.cfg(0x10 + 4 * index, 4)
            base = low & ~0xF
            flags = IORESOURCE_MEM
            if self.profile.wide_bars:
                base |= self.cfg(0x14 + 4 * index, 4) << 32
                flags |= IORESOURCE_MEM_64
            out[index] = BarRegion(index, base, size, flags)
        return out

    # -- a Linux driver's set-up, for "driver" ------------------------------------------------------
    def driver_setup(self) -> None:
        """Bus Master and INTx Disable on, every vector programmed (x86 fixed, edge, its own message, spread over
        APIC IDs) and unmasked,
        MSI-X enabled; for the NIC also IMS and IVAR as e1000e's driver sets them."""
        # Linux sets INTx Disable when it turns MSI/MSI-X on (pci_intx_for_msi)
        command = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE
        self.write_config(PCI_COMMAND, command.to_bytes(2, "little"))
        if not self.has_msix:
            return
        self.write_config(MSIX_CAP + 2, (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL).to_bytes(2, "little"))
        for v in range(self.vectors):
            entry = self.table_offset + v * PCI_MSIX_ENTRY_SIZE
            # x86 has ~207 usable vectors per CPU: past that, move on to the next pair of APIC IDs, so
            # every vector keeps its own message (as Linux spreads a large table over CPUs)
            address = 0xFEE00000 | (v % 2 + 2 * (v // 0xCF)) << 12
            data = 0x4000 | (0x21 + v % 0xCF)
            self.write_bar(self.msix_bir, entry, address.to_bytes(8, "little") + data.to_bytes(4, "little"))
            self.write_bar(self.msix_bir, entry + PCI_MSIX_ENTRY_VECTOR_CTRL, bytes(4))
        self.write_config(MSIX_CAP + 2, PCI_MSIX_FLAGS_ENABLE.to_bytes(2, "little"))
        if self.profile.kind == "nic":
            n = min(self.vectors, 3)
            ivar = (IVAR_VALID | 0) | (IVAR_VALID | min(1, n - 1)) << 8 | (IVAR_VALID | min(2, n - 1)) << 16
            self._nic_reg_write(E1000_IVAR, ivar)
            self._nic_reg_write(E1000_IMS, sum(1 << bit for bit, _, _ in NIC_CAUSES.values()))


class SimSource(Source):
    """One or more simulated functions on bus 0 (device 2, 3, ...), recording every message sent."""

    kind = "sim"
    writable = True

    def __init__(self, spec: str = "nic") -> None:
        super().__init__(f"sim:{spec}")
        self.devices: dict[Address, SimFunction] = {}
        self._deliveries: list[Delivery] = []
        self._clock = itertools.count().__next__
        parts = [p.strip() for p in spec.split("+")] if spec.strip() else ["nic"]
        if len(parts) > MAX_DEVICES:  # each device gets a 4 MiB window below 4 GiB, from 0xFC000000/0xFD000000
            raise InputError(f"{len(parts)} simulated devices; at most {MAX_DEVICES} fit in the 32-bit BAR window",
                             file=self.name)
        from .delivery import MODES as DELIVERY_MODES
        from .sim_virtio import PROFILES as VIRTIO_PROFILES
        from .sim_virtio import VirtioNetFunction

        known = {**PROFILES, **VIRTIO_PROFILES}
        for i, part in enumerate(parts):
            kind, *opts = [t.strip() for t in part.split(",")]
            if kind not in known:
                raise InputError(f"unknown simulated device {kind!r}; known: {', '.join(known)}",
                                 file=self.name)
            profile = known[kind]
            options = {}
            for opt in opts:
                key, eq, value = opt.partition("=")
                virtio_only = key in ("transitional", "delivery")
                if key not in ("vectors", "driver", "msix", "transitional", "delivery") \
                        or (key in ("vectors", "delivery") and not eq) or (virtio_only and kind not in VIRTIO_PROFILES):
                    raise InputError(f"unknown option {opt!r}; options: vectors=N, driver, msix=0"
                                     + (", transitional, delivery=" + "|".join(DELIVERY_MODES)
                                        if kind in VIRTIO_PROFILES else ""), file=self.name)
                if key == "delivery" and value not in DELIVERY_MODES:
                    raise InputError(f"unknown delivery mode {value!r}; modes: {', '.join(DELIVERY_MODES)}",
                                     file=self.name)
                options[key] = value
            try:
                vectors = int(options.get("vectors", str(profile.vectors)), 0)
            except ValueError:
                raise InputError(f"vectors={options['vectors']!r} is not a number", file=self.name) from None
            addr = Address(0, 0, 2 + i, 0)
            base = 0xFC000000 + i * 0x00400000 if not profile.wide_bars else 0xFD000000 + i * 0x00400000
            has_msix = options.get("msix", "1") != "0"
            command = PCI_COMMAND_MEMORY
            if kind in VIRTIO_PROFILES:
                fn: SimFunction = VirtioNetFunction(profile, addr, vectors, base, has_msix, self._record,
                                                    "transitional" in options, 0xC000 + 0x40 * i,
                                                    options.get("delivery", "emulated"))
                command |= 0x1 if "transitional" in options else 0  # PCI_COMMAND_IO for the legacy BAR
            else:
                fn = SimFunction(profile, addr, vectors, base, has_msix, self._record)
            if isinstance(fn, VirtioNetFunction):
                fn.clock = self._clock  # one order for the writes of every function
            fn.write_config(PCI_COMMAND, command.to_bytes(2, "little"))  # firmware enabled decoding
            if "driver" in options:
                fn.driver_setup()
            self.devices[addr] = fn

    def _record(self, function: Address, address: int, data: int, vector: int, via: str | None = None) -> None:
        self._deliveries.append(Delivery(len(self._deliveries), address, data, function, vector, via))

    def _dev(self, addr: Address) -> SimFunction:
        try:
            return self.devices[addr]
        except KeyError:
            raise InputError(f"no simulated function {addr}", file=self.name) from None

    def addresses(self) -> list[Address]:
        return list(self.devices)

    def read_config(self, addr: Address) -> bytes:
        return self._dev(addr).config_bytes()

    @contextmanager
    def _named(self) -> Iterator[None]:
        """The simulated function names its address and offset; this adds the spec ("sim:nic") as the file."""
        try:
            yield
        except PciError as e:
            if e.file is None:
                e.file = self.name
            raise

    def write_config(self, addr: Address, offset: int, data: bytes) -> None:
        with self._named():
            self._dev(addr).write_config(offset, bytes(data))

    def bar_regions(self, addr: Address) -> dict[int, BarRegion]:
        return self._dev(addr).bar_regions()

    def read_bar(self, addr: Address, bar: int, offset: int, size: int) -> bytes:
        with self._named():
            return self._dev(addr).read_bar(bar, offset, size)

    def write_bar(self, addr: Address, bar: int, offset: int, data: bytes) -> None:
        with self._named():
            self._dev(addr).write_bar(bar, offset, bytes(data))

    def triggers(self, addr: Address) -> dict[str, str]:
        return self._dev(addr).causes()

    def trigger(self, addr: Address, cause: str) -> None:
        with self._named():
            self._dev(addr).raise_cause(cause)

    def deliveries(self) -> list[Delivery]:
        return list(self._deliveries)

    def delivery(self, addr: Address | str):  # -> sources.delivery.DeliveryMode
        """How simulated virtio function `addr` delivers its messages: the mode's `name`, `routes()` and
        `journal` (every route built, refreshed, released or bypassed)."""
        fn = self._dev(addr if isinstance(addr, Address) else Address.parse(str(addr)))
        if not hasattr(fn, "delivery"):
            raise InputError(f"{fn.address} is not a simulated virtio function: it has no delivery mode", file=self.name)
        return fn.delivery

    def timeline(self):  # -> Timeline | None (sources/qemu/timeline.py, imported only when asked)
        """The writes made to the virtio functions in order (from the firmware's PCI_COMMAND on), as
        `pciexplore vm` records a guest's; None when the source has no virtio function."""
        from .qemu.timeline import Timeline

        steps = [s for fn in self.devices.values() for s in getattr(fn, "steps", ())]
        if not any(hasattr(fn, "steps") for fn in self.devices.values()):
            return None
        return Timeline(sorted(steps, key=lambda s: s.step), name=self.name)


def open_spec(rest: str = "", **options) -> SimSource:
    if options:
        raise InputError(f"sim: unexpected options {sorted(options)}")
    return SimSource(rest or "nic")

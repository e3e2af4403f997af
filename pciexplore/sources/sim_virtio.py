"""A simulated virtio-net function ("sim:virtio-net", "sim:virtio-net,transitional"), with the
common-configuration semantics of QEMU's hw/virtio/virtio-pci.c.

Layout, like QEMU's virtio-net-pci: BAR 1 holds the MSI-X table and PBA, BAR 4 the modern structures
(common 0x0000, ISR 0x1000, device 0x2000, notify 0x3000, notify_off_multiplier 4), a transitional
function also has the legacy interface in I/O BAR 0.  The vendor capabilities point to them, and a
PCI_CFG access capability reaches them through config space.  Rules as QEMU has them: a vector at or
past the table size is refused and reads back VIRTIO_MSI_NO_VECTOR; device_status 0 resets the device
(every vector unbound, queues disabled, features cleared); ISR reads clear it; a notify on a queue
uses one buffer and signals the queue's vector (with MSI-X on; NO_VECTOR then signals nothing) or
INTx with ISR bit 0 (MSI-X off).  Three queues: rx0, tx0 and ctrl (virtio-net without multiqueue).
How a message reaches the CPU ("delivery=emulated|irqfd|cloud-hypervisor") is sources/delivery.py's.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import InputError
from ..regs import virtio as V
from . import delivery as D
from .base import BarRegion
from .sim import (
    EXP_CAP,
    MSIX_CAP,
    PCI_COMMAND,
    PCI_STATUS,
    PCI_STATUS_INTERRUPT,
    PM_CAP,
    Profile,
    SimFunction,
)

COMMON_CAP, ISR_CAP, NOTIFY_CAP, DEVICE_CAP, PCI_CFG_CAP = 0x50, 0x60, 0xBC, 0xD0, 0xE0
MODERN_BAR, LEGACY_BAR, MODERN_SIZE, LEGACY_SIZE = 4, 0, 0x4000, 0x20
COMMON_AT, ISR_AT, DEVICE_AT, NOTIFY_AT, NOTIFY_MULT = 0x0000, 0x1000, 0x2000, 0x3000, 4
PCI_COMMAND_IO = 0x1
IORESOURCE_IO = 0x100
QUEUE_MAX = 1024  # VIRTIO_QUEUE_MAX: queue_select takes values below it
QUEUES = ("rx0", "tx0", "ctrl")
QUEUE_SIZES = (256, 256, 64)  # QEMU's virtio-net: rx and tx 256 entries, the control queue 64
MAC = bytes.fromhex("525400123456")
HOST_FEATURES = sum(1 << b for b in (V.VIRTIO_NET_F_STATUS, V.VIRTIO_NET_F_CTRL_VQ, 5, 15, 28, 29, V.VIRTIO_F_VERSION_1))
LEGACY_ONLY_FEATURES = (1 << 24) | (1 << 27)  # NOTIFY_ON_EMPTY, ANY_LAYOUT: offered on the legacy interface only
NET_CONFIG_LEN = 8  # mac and status (no MQ, MTU, speed): reads past it give all ones, as QEMU's do

PROFILES = {
    "virtio-net": Profile("virtio-net", 0x1AF4, 0x1041, 0x020000, (0x1AF4, 0x1100), 4, MODERN_SIZE, 1, False,
                          "virtio-net (modern)"),
}


@dataclass
class VirtQueue:
    size: int
    vector: int = V.VIRTIO_MSI_NO_VECTOR
    enable: int = 0
    desc: int = 0
    driver: int = 0
    device: int = 0


class VirtioNetFunction(SimFunction):
    """virtio-net over PCI.  Device state lives in these attributes; registers are views of it."""

    def __init__(self, profile: Profile, address, vectors: int, bar_base: int, has_msix: bool, send,
                 transitional: bool = False, io_base: int = 0xC000, delivery: str = "emulated") -> None:
        self.transitional = transitional
        self.io_base = io_base
        #: QEMU's vdev->config: the device configuration as the last read of it loaded it (zeros before);
        #: a driver's write lands in this copy, which is then applied whole (virtio_config_write*)
        self.config_copy = bytes(NET_CONFIG_LEN)
        self.dfselect = self.gfselect = 0
        self.queues = [VirtQueue(n) for n in QUEUE_SIZES]
        self._reset_state()
        #: the driver's writes in order, as `pciexplore vm` records a guest's (sources/qemu/timeline.py):
        #: the evidence of order the delivery doctor and `replay` need; `clock` numbers them source-wide
        self.steps: list = []
        self.clock: Callable[[], int] = itertools.count().__next__
        self._recording = False
        super().__init__(profile, address, vectors, bar_base, has_msix, send)
        self.delivery: D.DeliveryMode = D.make(delivery, self)

    def _reset_state(self) -> None:
        """virtio_reset: status, features, ISR and every vector back to their reset values."""
        self.status = 0
        self.isr = 0
        self.guest_features = [0, 0]
        self.config_vector = V.VIRTIO_MSI_NO_VECTOR
        self.queue_sel = 0
        self.generation = getattr(self, "generation", 0)
        self.queues = [VirtQueue(n) for n in QUEUE_SIZES]
        self.link_up = getattr(self, "link_up", True)
        self.mac = MAC  # QEMU's virtio_net_reset takes the MAC address back from the NIC's configuration

    # -- config space --------------------------------------------------------------------------------
    def _build_config(self, bar_base: int) -> None:
        self.bar_sizes = {MODERN_BAR: MODERN_SIZE, **{i: s for i, s in self.bar_sizes.items() if i}}
        self.bar_mem = {i: bytearray(size) for i, size in self.bar_sizes.items()}
        super()._build_config(bar_base)
        if self.transitional:  # legacy interface: I/O BAR 0, device id by type, subsystem id = type (§4.1.2.1)
            self._put(0x10, 4, self.io_base | 1, ~(LEGACY_SIZE - 1) & 0xFFFFFFFC)
            self._put(0x02, 2, 0x1000)
            self._put(0x2E, 2, V.VIRTIO_ID_NET)
        else:
            self._put(0x08, 1, 1)  # non-transitional devices have revision 1 or higher (§4.1.2.2)
        self._put(PCI_COMMAND, 2, 0, 0x0547)
        # chain: PM -> common -> ISR -> Express -> MSI-X -> notify -> device -> PCI_CFG (MSI left unlinked:
        # virtio-pci has none; its bytes are overwritten and read-only)
        for at in range(COMMON_CAP, EXP_CAP):
            self._put(at, 1, 0)
        self._put(PM_CAP + 1, 1, COMMON_CAP)
        self._vcap(COMMON_CAP, ISR_CAP, V.VIRTIO_PCI_CAP_COMMON_CFG, COMMON_AT, 0x38)
        self._vcap(ISR_CAP, EXP_CAP, V.VIRTIO_PCI_CAP_ISR_CFG, ISR_AT, 1)
        self._put((MSIX_CAP if self.has_msix else EXP_CAP) + 1, 1, NOTIFY_CAP)
        self._vcap(NOTIFY_CAP, DEVICE_CAP, V.VIRTIO_PCI_CAP_NOTIFY_CFG, NOTIFY_AT, NOTIFY_MULT * len(QUEUES), 20)
        self._put(NOTIFY_CAP + 16, 4, NOTIFY_MULT)
        self._vcap(DEVICE_CAP, PCI_CFG_CAP, V.VIRTIO_PCI_CAP_DEVICE_CFG, DEVICE_AT, NET_CONFIG_LEN)
        self._vcap(PCI_CFG_CAP, 0, V.VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 20, bar=0)
        self._put(PCI_CFG_CAP + 4, 1, 0, 0xFF)  # the window's bar, offset, length and data are written
        self._put(PCI_CFG_CAP + 8, 4, 0, 0xFFFFFFFF)
        self._put(PCI_CFG_CAP + 12, 4, 0, 0xFFFFFFFF)
        self._put(PCI_CFG_CAP + 16, 4, 0, 0xFFFFFFFF)

    def _vcap(self, at: int, nxt: int, cfg_type: int, offset: int, length: int, cap_len: int = 16,
              bar: int = MODERN_BAR) -> None:
        self._put(at, 4, 0x09 | nxt << 8 | cap_len << 16 | cfg_type << 24)
        self._put(at + 4, 4, bar)
        self._put(at + 8, 4, offset)
        self._put(at + 12, 4, length)

    def config_bytes(self) -> bytes:
        """Config space as read now: the PCI_CFG window's data is the device register it points at."""
        self._cfg_put(PCI_CFG_CAP + 16, 4, int.from_bytes(self._window_read() or bytes(4), "little"))
        return bytes(self.config)

    def _window(self) -> tuple[int, int, int]:
        return self.cfg(PCI_CFG_CAP + 4, 1), self.cfg(PCI_CFG_CAP + 8, 4), self.cfg(PCI_CFG_CAP + 12, 4)

    def _window_read(self) -> bytes | None:
        bar, offset, length = self._window()
        if length not in (1, 2, 4) or bar not in self.bar_sizes or offset + length > self.bar_sizes[bar]:
            return None
        if bar == MODERN_BAR and ISR_AT <= offset < ISR_AT + 0x1000:
            return bytes(length)  # an ISR read through the window would clear it: show 0, read nothing
        return self.read_bar(bar, offset, length).ljust(4, b"\0")

    def _record(self, kind: str, register: str, index: int | None, value: int, text: str) -> None:
        from .qemu.timeline import Step

        bdf = self.address.short
        self.steps.append(Step(self.clock(), bdf, "virtio-net-pci (sim)", kind, register, index, value, None,
                               f"{bdf} {text}"))

    def _record_config(self, offset: int, data: bytes) -> None:
        for name, at in (("PCI_COMMAND", PCI_COMMAND), ("PCI_MSIX_FLAGS", MSIX_CAP + 2)):
            if offset == at and len(data) >= 2:
                value = int.from_bytes(data[:2], "little")
                self._record("config", name, None, value, f"{name} ← {value:#x}")

    def _record_bar(self, bar: int, offset: int, data: bytes) -> None:
        from .qemu.timeline import PCI_MSIX_ENTRY_FIELDS, VIRTIO_COMMON

        if self.has_msix and bar == self.msix_bir and offset < self.vectors * 16:
            for at in range(offset, min(offset + len(data), self.vectors * 16), 4):
                entry, field = divmod(at, 16)
                value = int.from_bytes(data[at - offset : at - offset + 4], "little")
                name = PCI_MSIX_ENTRY_FIELDS[field]
                self._record("msix-table", name, entry, value, f"MSI-X entry {entry} {name} ← {value:#x}")
        elif bar == MODERN_BAR and COMMON_AT <= offset < COMMON_AT + 0x40:
            at = offset - COMMON_AT
            while at < offset - COMMON_AT + len(data) and at in VIRTIO_COMMON:
                name, width, per_queue = VIRTIO_COMMON[at]
                if name.endswith("_select"):  # selectors: the model's own reads write them; per-queue steps
                    at += width  # name their queue (the feature halves do not matter to delivery)
                    continue
                chunk = data[at - (offset - COMMON_AT) : at - (offset - COMMON_AT) + width]
                value = int.from_bytes(chunk, "little")
                index = self.queue_sel if per_queue else None
                where = f"queue {index} " if per_queue else ""
                self._record("virtio", name, index, value, f"virtio-net {where}{name} ← {value:#x}")
                at += width

    def write_config(self, offset: int, data: bytes) -> None:
        self._record_config(offset, data)
        super().write_config(offset, data)
        if offset < PCI_CFG_CAP + 20 and offset + len(data) > PCI_CFG_CAP + 16:  # data written: to the device
            bar, at, length = self._window()
            if length in (1, 2, 4) and bar in self.bar_sizes and at + length <= self.bar_sizes[bar]:
                self.write_bar(bar, at, self.config[PCI_CFG_CAP + 16 : PCI_CFG_CAP + 16 + length])

    def bar_regions(self) -> dict[int, BarRegion]:
        out = super().bar_regions()
        if self.transitional:
            out[LEGACY_BAR] = BarRegion(LEGACY_BAR, self.cfg(0x10, 4) & ~3, LEGACY_SIZE, IORESOURCE_IO)
        return out

    # -- register views --------------------------------------------------------------------------------
    def _common_read(self, name: str) -> int:
        q = self.queues[self.queue_sel] if self.queue_sel < len(self.queues) else None
        return {
            "VIRTIO_PCI_COMMON_DFSELECT": self.dfselect,
            "VIRTIO_PCI_COMMON_DF": (HOST_FEATURES >> 32 * self.dfselect) & 0xFFFFFFFF if self.dfselect < 2 else 0,
            "VIRTIO_PCI_COMMON_GFSELECT": self.gfselect,
            "VIRTIO_PCI_COMMON_GF": self.guest_features[self.gfselect] if self.gfselect < 2 else 0,
            "VIRTIO_PCI_COMMON_MSIX": self.config_vector,
            "VIRTIO_PCI_COMMON_NUMQ": len(self.queues),
            "VIRTIO_PCI_COMMON_STATUS": self.status,
            "VIRTIO_PCI_COMMON_CFGGENERATION": self.generation & 0xFF,
            "VIRTIO_PCI_COMMON_Q_SELECT": self.queue_sel,
            "VIRTIO_PCI_COMMON_Q_SIZE": q.size if q else 0,
            "VIRTIO_PCI_COMMON_Q_MSIX": q.vector if q else V.VIRTIO_MSI_NO_VECTOR,
            "VIRTIO_PCI_COMMON_Q_ENABLE": q.enable if q else 0,
            "VIRTIO_PCI_COMMON_Q_NOFF": self.queue_sel,  # QEMU: each queue its own notify slot
            "VIRTIO_PCI_COMMON_Q_DESCLO": q.desc if q else 0,
            "VIRTIO_PCI_COMMON_Q_AVAILLO": q.driver if q else 0,
            "VIRTIO_PCI_COMMON_Q_USEDLO": q.device if q else 0,
        }[name]

    def _vector(self, old: int, value: int) -> int:
        """What the device keeps of a vector written (QEMU: below the table size, else NO_VECTOR, refused);
        the old vector's pending bit clears once nothing names it (msix_vector_unuse)."""
        kept = self.delivery.keep_vector(value)
        if old != kept and old < self.vectors and self.has_msix:
            users = [q.vector for q in self.queues] + [self.config_vector]
            if users.count(old) == 1 and self.delivery.uses_vectors:
                self._set_pending(old, False)
        return kept

    def _common_write(self, name: str, value: int, part: int = 0) -> None:
        q = self.queues[self.queue_sel] if self.queue_sel < len(self.queues) else None
        if name == "VIRTIO_PCI_COMMON_DFSELECT":
            self.dfselect = value
        elif name == "VIRTIO_PCI_COMMON_GFSELECT":
            self.gfselect = value
        elif name == "VIRTIO_PCI_COMMON_GF" and self.gfselect < 2:
            self.guest_features[self.gfselect] = value
        elif name == "VIRTIO_PCI_COMMON_MSIX":
            self.config_vector = self._vector(self.config_vector, value)
        elif name == "VIRTIO_PCI_COMMON_STATUS":
            self._set_status(value)
        elif name == "VIRTIO_PCI_COMMON_Q_SELECT":
            if value < QUEUE_MAX:
                self.queue_sel = value
        elif q is None:
            return  # a queue the device does not have: nothing to change
        elif name == "VIRTIO_PCI_COMMON_Q_SIZE":
            q.size = value
        elif name == "VIRTIO_PCI_COMMON_Q_MSIX":
            q.vector = self._vector(q.vector, value)
        elif name == "VIRTIO_PCI_COMMON_Q_ENABLE":
            q.enable = 1 if value == 1 else q.enable  # QEMU takes only 1 (anything else is a driver error)
        elif name in ("VIRTIO_PCI_COMMON_Q_DESCLO", "VIRTIO_PCI_COMMON_Q_AVAILLO", "VIRTIO_PCI_COMMON_Q_USEDLO"):
            attr = {"VIRTIO_PCI_COMMON_Q_DESCLO": "desc", "VIRTIO_PCI_COMMON_Q_AVAILLO": "driver",
                    "VIRTIO_PCI_COMMON_Q_USEDLO": "device"}[name]
            old = getattr(q, attr)
            setattr(q, attr, (old & ~(0xFFFFFFFF << part)) | value << part)

    def _set_status(self, value: int) -> None:
        old = self.status
        if value == 0:
            self.delivery.status_written(old, 0)  # vhost stops before the device resets
            self._reset_state()
            self._cfg_put(PCI_STATUS, 2, self.cfg(PCI_STATUS, 2) & ~PCI_STATUS_INTERRUPT)
            if self.has_msix and self.delivery.uses_vectors:  # virtio_pci_reset -> msix_unuse_all_vectors
                for v in range(self.vectors):
                    self._set_pending(v, False)
        else:
            self.status = value & 0xFF
            self.delivery.status_written(old, self.status)

    def _common_image(self) -> bytearray:
        img = bytearray(0x40)
        for r in V.COMMON.registers + V.QUEUE.registers:
            img[r.offset : r.offset + r.width] = self._common_read(r.name).to_bytes(r.width, "little")
        return img

    def _legacy_regs(self) -> list[tuple[str, int, int]]:
        """(name, offset, width) of the legacy registers present now (the vectors only with MSI-X on)."""
        return [(r.name, r.offset, r.width) for r in V.LEGACY.registers
                if self.msix_enabled() or r.name not in V.LEGACY_MSIX_REGS]

    def _legacy_image(self) -> bytearray:
        q = self.queues[self.queue_sel] if self.queue_sel < len(self.queues) else None
        values = {"VIRTIO_PCI_HOST_FEATURES": (HOST_FEATURES | LEGACY_ONLY_FEATURES) & 0xFFFFFFFF,
                  "VIRTIO_PCI_GUEST_FEATURES": self.guest_features[0],
                  "VIRTIO_PCI_QUEUE_PFN": (q.desc >> 12) if q else 0, "VIRTIO_PCI_QUEUE_NUM": q.size if q else 0,
                  "VIRTIO_PCI_QUEUE_SEL": self.queue_sel, "VIRTIO_PCI_QUEUE_NOTIFY": 0,
                  "VIRTIO_PCI_STATUS": self.status, "VIRTIO_PCI_ISR": self.isr,
                  "VIRTIO_MSI_CONFIG_VECTOR": self.config_vector,
                  "VIRTIO_MSI_QUEUE_VECTOR": q.vector if q else V.VIRTIO_MSI_NO_VECTOR}
        img = bytearray(LEGACY_SIZE)
        for name, off, width in self._legacy_regs():
            img[off : off + width] = values[name].to_bytes(width, "little")
        base = V.LEGACY_CONFIG_OFF[self.msix_enabled()]
        net = self._net_config()
        img[base:] = net[: LEGACY_SIZE - base].ljust(LEGACY_SIZE - base, b"\xff")
        return img

    def _net_config(self) -> bytes:
        """struct virtio_net_config as far as this device has it, all ones past that."""
        return (self.mac + (V.VIRTIO_NET_S_LINK_UP if self.link_up else 0).to_bytes(2, "little")).ljust(0x1000, b"\xff")

    # -- BAR access -------------------------------------------------------------------------------------
    def read_bar(self, bar: int, offset: int, size: int) -> bytes:
        if bar not in (MODERN_BAR, LEGACY_BAR) or (bar == LEGACY_BAR and not self.transitional):
            return super().read_bar(bar, offset, size)
        self._check_virtio(bar, offset, size)
        if not self._decodes(bar):
            return b"\xff" * size
        if bar == LEGACY_BAR:
            out = bytes(self._legacy_image()[offset : offset + size])
            if offset <= V.LEGACY.register("VIRTIO_PCI_ISR").offset < offset + size:
                self._isr_read()
            if offset + size > V.LEGACY_CONFIG_OFF[self.msix_enabled()]:
                self.config_copy = self._net_config()[:NET_CONFIG_LEN]  # a read loads the device's copy
            return out
        out = bytearray()
        for at in range(offset, offset + size):  # byte by byte through the structures, as the device decodes
            out += self._modern_byte(at)
        return bytes(out)

    def _modern_byte(self, at: int) -> bytes:
        if COMMON_AT <= at < COMMON_AT + 0x40:
            return bytes(self._common_image()[at - COMMON_AT : at - COMMON_AT + 1])
        if at == ISR_AT:
            return bytes([self._isr_read()])
        if DEVICE_AT <= at < DEVICE_AT + 0x1000:
            self.config_copy = self._net_config()[:NET_CONFIG_LEN]  # a read loads the device's copy
            return self._net_config()[at - DEVICE_AT : at - DEVICE_AT + 1]
        return b"\0"

    def _isr_read(self) -> int:
        """ISR read: returns the bits and clears them, deasserting INTx (§4.1.4.5)."""
        value, self.isr = self.isr, 0
        self._cfg_put(PCI_STATUS, 2, self.cfg(PCI_STATUS, 2) & ~PCI_STATUS_INTERRUPT)
        return value

    def _decodes(self, bar: int) -> bool:
        return bool(self.cfg(PCI_COMMAND, 2) & (PCI_COMMAND_IO if bar == LEGACY_BAR else 0x2))

    def _check_virtio(self, bar: int, offset: int, size: int) -> None:
        limit = LEGACY_SIZE if bar == LEGACY_BAR else MODERN_SIZE
        if offset < 0 or size < 0 or offset + size > limit:
            raise InputError(f"BAR {bar} access 0x{offset:x}+0x{size:x} outside the BAR (size 0x{limit:x})",
                             device=str(self.address), offset=offset)

    def write_bar(self, bar: int, offset: int, data: bytes) -> None:
        if self._decodes(bar if bar in (MODERN_BAR, LEGACY_BAR) else MODERN_BAR):  # a write that reaches the device
            self._record_bar(bar, offset, data)
        if bar not in (MODERN_BAR, LEGACY_BAR) or (bar == LEGACY_BAR and not self.transitional):
            super().write_bar(bar, offset, data)
            return
        self._check_virtio(bar, offset, len(data))
        if not self._decodes(bar):
            return
        value = int.from_bytes(data, "little")
        if bar == LEGACY_BAR:
            self._legacy_write(offset, len(data), value)
        elif COMMON_AT <= offset < COMMON_AT + 0x40:
            self._modern_common_write(offset - COMMON_AT, data)
        elif DEVICE_AT <= offset < DEVICE_AT + NET_CONFIG_LEN:
            self._config_write(offset - DEVICE_AT, data)
        elif NOTIFY_AT <= offset < NOTIFY_AT + NOTIFY_MULT * len(QUEUES):
            self.notify_queue((offset - NOTIFY_AT) // NOTIFY_MULT)

    def _modern_common_write(self, rel: int, data: bytes) -> None:
        """A write lands on the register it starts at; a 64-bit address field takes DWORD halves."""
        for r in V.COMMON.registers + V.QUEUE.registers:
            if r.width == 8 and rel in (r.offset, r.offset + 4):
                for k in range(0, len(data), 4):
                    self._common_write(r.name, int.from_bytes(data[k : k + 4], "little"), 8 * (rel - r.offset + k))
                return
            if rel == r.offset:
                self._common_write(r.name, int.from_bytes(data[: r.width], "little"))
                return

    def _config_write(self, rel: int, data: bytes) -> None:
        """A write to struct virtio_net_config: the MAC address takes it as long as neither VERSION_1 nor
        CTRL_MAC_ADDR was negotiated (QEMU's virtio_net_set_config); the rest is read-only."""
        if rel + len(data) > NET_CONFIG_LEN:
            return  # past the configuration: QEMU drops the write
        copy = bytearray(self.config_copy)
        copy[rel : rel + len(data)] = data
        self.config_copy = bytes(copy)
        features = self.guest_features[0] | self.guest_features[1] << 32
        if not features & ((1 << V.VIRTIO_F_VERSION_1) | (1 << 23)):
            self.mac = self.config_copy[:6]

    def _legacy_write(self, offset: int, width: int, value: int) -> None:
        base = V.LEGACY_CONFIG_OFF[self.msix_enabled()]
        if offset >= base:  # the device configuration (where the vectors are while MSI-X is on)
            self._config_write(offset - base, value.to_bytes(width, "little"))
            return
        regs = {off: name for name, off, _ in self._legacy_regs()}
        name = regs.get(offset)
        q = self.queues[self.queue_sel] if self.queue_sel < len(self.queues) else None
        if name == "VIRTIO_PCI_GUEST_FEATURES":
            self.guest_features[0] = value
        elif name == "VIRTIO_PCI_QUEUE_PFN":
            if value == 0:
                self._set_status(0)  # QEMU: a zero PFN resets the device
            elif q is not None:  # legacy rings: descriptors, then available, then used at the next 4 KiB
                q.desc = value << 12
                q.driver = q.desc + 16 * q.size
                q.device = (q.driver + 6 + 2 * q.size + 0xFFF) & ~0xFFF
                q.enable = 1
        elif name == "VIRTIO_PCI_QUEUE_SEL":
            self._common_write("VIRTIO_PCI_COMMON_Q_SELECT", value)
        elif name == "VIRTIO_PCI_QUEUE_NOTIFY":
            self.notify_queue(value)
        elif name == "VIRTIO_PCI_STATUS":
            self._set_status(value)
        elif name == "VIRTIO_MSI_CONFIG_VECTOR":
            self.config_vector = self._vector(self.config_vector, value)
        elif name == "VIRTIO_MSI_QUEUE_VECTOR" and q is not None:
            q.vector = self._vector(q.vector, value)

    # -- interrupts -----------------------------------------------------------------------------------------
    def _virtio_notify(self, isr_bit: int, queue: int | None = None) -> None:
        """virtio_pci_notify: MSI-X on: the delivery mode sends the queue's (or msix_config's) message,
        none for NO_VECTOR; off: ISR bit and INTx.  A queue vhost owns (irqfd) bypasses both."""
        if queue is not None and self.delivery.owns(queue):
            self.delivery.queue_event(queue)
            return
        self.isr |= isr_bit
        if self.msix_enabled():
            if queue is None:
                self.delivery.config_event()
            else:
                self.delivery.queue_event(queue)
        else:
            self._cfg_put(PCI_STATUS, 2, self.cfg(PCI_STATUS, 2) | PCI_STATUS_INTERRUPT)

    def msix_notify(self, vector: int) -> None:
        self.delivery.msix_notify(vector)

    def _mask_changed(self, vector: int, masked: bool) -> None:
        self.delivery.mask_changed(vector, masked)

    def _table_written(self, vector: int, old: bytes) -> None:
        self.delivery.table_written(vector, old)

    def _msg_ctl_written(self, old_flags: int) -> None:
        self.delivery.msg_ctl_written(old_flags)

    def _pba_read(self, first: int, end: int) -> None:
        self.delivery.pba_read(first, end)

    def notify_queue(self, q: int) -> None:
        """The driver rang queue `q`: the device uses one buffer and signals the queue's interrupt."""
        if q < len(self.queues) and self.queues[q].enable and self.status & V.VIRTIO_CONFIG_S_DRIVER_OK:
            self._virtio_notify(V.VIRTIO_PCI_ISR_QUEUE, q)

    def config_change(self) -> None:
        """The link flips (as QMP set_link does to QEMU's): generation moves on, the config vector fires."""
        self.link_up = not self.link_up
        self.generation += 1
        if self.status & V.VIRTIO_CONFIG_S_DRIVER_OK:  # QEMU's virtio_notify_config sets both ISR bits
            self._virtio_notify(V.VIRTIO_PCI_ISR_CONFIG | V.VIRTIO_PCI_ISR_QUEUE)
        self.delivery.link_changed()  # then virtio_net_set_status: vhost stops or starts

    def causes(self) -> dict[str, str]:
        out = {"config": "link flip: configuration change on msix_config's vector"}
        out.update({name: f"queue {i} ({name}) used a buffer: its queue_msix_vector"
                    for i, name in enumerate(QUEUES)})
        out.update({f"vector:{v}": f"raise vector {v} directly" for v in range(self.vectors)})
        return out

    def raise_cause(self, cause: str) -> None:
        if cause == "config":
            self.config_change()
        elif cause in QUEUES:
            self.notify_queue(QUEUES.index(cause))
        else:
            super().raise_cause(cause)

    # -- a driver's set-up ------------------------------------------------------------------------------
    def driver_setup(self) -> None:
        """Linux's MSI-X set-up (as the other simulated devices), then virtio 1.x §3.1.1 as QEMU's source
        does it: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, config vector 0, queue i on vector
        i + 1 (the last shared), 16 entries each, DRIVER_OK."""
        super().driver_setup()
        self.write_config(PCI_COMMAND, (self.cfg(PCI_COMMAND, 2) | (PCI_COMMAND_IO if self.transitional else 0))
                          .to_bytes(2, "little"))
        status = V.COMMON.register("VIRTIO_PCI_COMMON_STATUS").offset
        wanted = HOST_FEATURES & ((1 << V.VIRTIO_F_VERSION_1) | (1 << V.VIRTIO_NET_F_STATUS) | (1 << V.VIRTIO_NET_F_CTRL_VQ))
        for rel, width, value in [(status, 1, 0), (status, 1, V.VIRTIO_CONFIG_S_ACKNOWLEDGE | V.VIRTIO_CONFIG_S_DRIVER),
                                  *V.driver_writes(wanted, len(QUEUES), self.vectors, lambda q: 0x0200_0000 + q * 0x4000)]:
            self.write_bar(MODERN_BAR, COMMON_AT + rel, value.to_bytes(width, "little"))

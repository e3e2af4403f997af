"""The virtio-pci transport of one function: its structures, common configuration, queues and the chain
queue -> vector -> MSI-X entry -> message -> CPU.

Every value is read from the device when asked (through the Source: BAR windows, or config space
through the PCI_CFG access capability); nothing is kept beside it.  Per-queue registers and the upper
feature words sit behind select registers, so reading them means writing queue_select /
*_feature_select: on sources the kit drives (simulator, QEMU) the model selects and puts the old
selection back; on any other source only with `select=True` (a live host also needs its writes opted
in); otherwise it shows what the current selection lets it read and says what it did not read.  The
ISR status clears when read: it is read only by `read_isr()`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from ..errors import InputError, NotSupported, PciError
from ..msi import x86
from ..msi.common import EventLog
from ..regs import virtio as V
from ..regs.base import Layout, Register
from ..regs.caps.vndr import PCI_CAP_ID_VNDR, VIRTIO_CFG_TYPES, VIRTIO_VENDOR, is_virtio
from ..sources.base import ByteRange

if TYPE_CHECKING:
    from ..model import Capability, Function

#: sources the kit drives itself: selecting a queue there changes nobody else's device
DRIVEN_KINDS = ("sim", "qemu")
_SELECTS = ("VIRTIO_PCI_COMMON_Q_SELECT", "VIRTIO_PCI_COMMON_DFSELECT", "VIRTIO_PCI_COMMON_GFSELECT")
QUEUE_MAX = 1024  # VIRTIO_QUEUE_MAX in QEMU: queue_select values a device may take
_CAP_BAR, _CAP_OFFSET, _CAP_LENGTH, _CAP_DATA = 4, 8, 12, 16  # struct virtio_pci_cfg_cap


@dataclass(frozen=True, slots=True)
class Structure:
    """One virtio_pci_cap: which structure (cfg_type) lives where (BAR, offset, length)."""

    cfg_type: int
    bar: int
    offset: int
    length: int
    cap_offset: int  # where the capability is in config space
    id: int = 0
    notify_off_multiplier: int | None = None  # notify structures only

    @property
    def name(self) -> str:
        return VIRTIO_CFG_TYPES.get(self.cfg_type, f"type {self.cfg_type}")

    def to_dict(self) -> dict[str, Any]:
        d = {"cfg_type": self.cfg_type, "name": self.name, "bar": self.bar, "offset": self.offset,
             "length": self.length, "cap_offset": self.cap_offset, "id": self.id}
        if self.notify_off_multiplier is not None:
            d["notify_off_multiplier"] = self.notify_off_multiplier
        return d


@dataclass(slots=True)
class Queue:
    """One virtqueue as read (None: not read, see `Snapshot.unread`)."""

    index: int
    size: int | None = None
    msix_vector: int | None = None
    enable: int | None = None
    notify_off: int | None = None
    desc: int | None = None
    driver: int | None = None
    device: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(slots=True)
class Snapshot:
    """What one read of the transport found: common configuration, features, queues, device config."""

    transport: str  # "modern" (common configuration) or "legacy" (I/O BAR 0)
    common: dict[str, int | None]  # struct field name -> value (msix_config, num_queues, device_status, ...)
    device_features: int | None
    driver_features: int | None
    queues: list[Queue]
    device_config: dict[str, int | str | None]
    msix_enabled: bool
    unread: list[str] = field(default_factory=list)  # what could not be read, in words


class Virtio:
    """virtio-pci transport of `fn`.  `snapshot()` reads it all; `queues` is the DataFrame view."""

    def __init__(self, fn: Function, select: bool | None = None, pci_cfg: bool | None = None,
                 legacy: bool = False) -> None:
        self.function = fn
        #: drive a transitional device through its legacy interface (I/O BAR 0), as a legacy driver does
        self.legacy_interface = legacy
        #: may the model write queue_select / feature selects (restoring them)?  None: only on driven sources
        self.select = select
        #: may it reach the structures through the PCI_CFG window (writes config space)?  None: only when the
        #: source cannot read BARs and is driven
        self.pci_cfg = pci_cfg
        self.log = EventLog()
        #: vectors the device refused through our verbs and still does not hold: queue (None: config) -> asked
        self.refused: dict[int | None, int] = {}

    @property
    def source(self):
        return self.function.source

    # -- what the capabilities say -----------------------------------------------------------------
    @property
    def structures(self) -> list[Structure]:
        """Every virtio_pci_cap of the function, in capability-list order."""
        out = []
        for cap in self.function.capabilities:
            if cap.id != PCI_CAP_ID_VNDR or cap.extended or not is_virtio(cap):
                continue
            kind = cap.get("VIRTIO_PCI_CAP_CFG_TYPE")
            if kind is None or (cap.get("VIRTIO_PCI_CAP_LEN") or 0) < 16:
                continue
            offset, length = cap.get("VIRTIO_PCI_CAP_OFFSET") or 0, cap.get("VIRTIO_PCI_CAP_LENGTH") or 0
            if kind == V.VIRTIO_PCI_CAP_SHARED_MEMORY_CFG:
                offset |= (cap.get("VIRTIO_PCI_CAP_OFFSET_HI") or 0) << 32
                length |= (cap.get("VIRTIO_PCI_CAP_LENGTH_HI") or 0) << 32
            mult = cap.get("VIRTIO_PCI_NOTIFY_CAP_MULT") if kind == V.VIRTIO_PCI_CAP_NOTIFY_CFG else None
            out.append(Structure(kind, cap.get("VIRTIO_PCI_CAP_BAR") or 0, offset, length, cap.offset,
                                 cap.get("VIRTIO_PCI_CAP_ID") or 0, mult))
        return out

    def structure(self, cfg_type: int) -> Structure | None:
        """The first structure of this type: the one a driver uses (§4.1.4.1)."""
        return next((s for s in self.structures if s.cfg_type == cfg_type), None)

    @property
    def device_type(self) -> int | None:
        """Virtio device type (§5): 1 net, 2 block, ...; modern ids say it, transitional ones by Subsystem ID."""
        did = self.function.device_id
        if did >= V.MODERN_BASE:
            return did - V.MODERN_BASE
        return self.function.read(0x2E, 2) or V.TRANSITIONAL_IDS.get(did)

    @property
    def device_type_name(self) -> str:
        t = self.device_type
        return V.DEVICE_TYPES.get(t, f"type {t}") if t is not None else "?"

    @property
    def transport(self) -> str:
        """"modern" with a common configuration structure (unless asked for legacy), else "legacy" (I/O BAR 0)."""
        if self.legacy_interface or not self.structure(V.VIRTIO_PCI_CAP_COMMON_CFG):
            return "legacy"
        return "modern"

    @property
    def transitional(self) -> bool:
        """A device id below 0x1040 offers the legacy interface as well (§4.1.2.1)."""
        return self.function.device_id < V.MODERN_BASE

    # -- access ------------------------------------------------------------------------------------
    def may_select(self) -> bool:
        # a running VM's source selects a queue in itself, not in the guest (QmpSource.selects_virtually)
        return self.select if self.select is not None else (self.source.kind in DRIVEN_KINDS or
                                                            getattr(self.source, "selects_virtually", False))

    def _via_pci_cfg(self) -> Structure | None:
        """The PCI_CFG window when it is the way in: asked for (pci_cfg=True), or the source cannot read
        BARs and drives the device itself."""
        window = self.structure(V.VIRTIO_PCI_CAP_PCI_CFG)
        if window is None or self.pci_cfg is False or (self.pci_cfg is None and self.source.can_read_bars):
            return None
        return window if self.pci_cfg or self.source.kind in DRIVEN_KINDS else None

    def reachable(self) -> str | None:
        """Why the structures cannot be read from this source, or None when they can."""
        if self._via_pci_cfg() or self.source.can_read_bars:
            return None
        if self.structure(V.VIRTIO_PCI_CAP_PCI_CFG) is not None:
            return (f"{self.source.kind} source cannot read BARs; the PCI_CFG access capability could reach them "
                    "but writes config space (Virtio(fn, pci_cfg=True) to allow it)")
        return f"{self.source.kind} source cannot read BARs"

    def _window(self, s: Structure, rel: int, width: int) -> int:
        """BAR offset of `width` bytes at `rel` of structure `s` (the length 0 of a PCI_CFG structure: unchecked)."""
        if s.length and rel + width > s.length:
            raise InputError(f"virtio {s.name} register at 0x{rel:x} lies past its structure (0x{s.length:x} "
                             f"bytes at BAR {s.bar} + 0x{s.offset:x})", **self.function.where(s.cap_offset))
        return s.offset + rel

    def _read(self, s: Structure, regs: list[tuple[int, int]], action: Callable[[], None] | None = None) -> list[int]:
        """Values of (offset, width) registers of structure `s`, each read with its own width (devices
        decode virtio registers by their exact offset and size: a wide read would see only the first);
        after `action` when given (QEMU reads them in the action's own exchange)."""
        addr = self.function.address
        window = self._via_pci_cfg() if s.cap_offset >= 0 else None  # the legacy BAR has no window
        if window is None:
            ranges = [ByteRange(s.bar, self._window(s, rel, w), w) for rel, w in regs]
            raw = (self.source.read_ranges(addr, ranges) if action is None
                   else self.source.act_then_read(addr, action, ranges))
            return [int.from_bytes(b, "little") for b in raw]
        if action is not None:
            action()
        with self._aimed(window):
            out = []
            for rel, w in regs:
                self._aim(window, s, rel, w)
                out.append(self.source.read_ranges(addr, [ByteRange(None, window.cap_offset + _CAP_DATA, w)])[0])
        return [int.from_bytes(b, "little") for b in out]

    @contextmanager
    def _aimed(self, window: Structure) -> Iterator[None]:
        """Put the PCI_CFG window's bar, offset and length back as they were once done with it."""
        addr, at = self.function.address, window.cap_offset + _CAP_BAR
        (saved,) = self.source.read_ranges(addr, [ByteRange(None, at, _CAP_DATA - _CAP_BAR)])
        try:
            yield
        except PciError:
            with suppress(PciError):  # the first error is the one to tell (a refused write refuses this too)
                self.source.write_config(addr, at, saved)
            raise
        self.source.write_config(addr, at, saved)

    def _aim(self, window: Structure, s: Structure, rel: int, width: int) -> None:
        """Point the PCI_CFG window at `width` bytes at `rel` of `s` (§4.1.4.9: bar, offset, length)."""
        at = window.cap_offset
        src, addr = self.source, self.function.address
        src.write_config(addr, at + _CAP_BAR, bytes([s.bar]))
        src.write_config(addr, at + _CAP_OFFSET, self._window(s, rel, width).to_bytes(4, "little"))
        src.write_config(addr, at + _CAP_LENGTH, width.to_bytes(4, "little"))

    def _write(self, s: Structure, rel: int, width: int, value: int) -> None:
        data = value.to_bytes(width, "little")
        window = self._via_pci_cfg() if s.cap_offset >= 0 else None
        if window is None:
            self.source.write_bar(self.function.address, s.bar, self._window(s, rel, width), data)
            return
        with self._aimed(window):
            self._aim(window, s, rel, width)
            self.source.write_config(self.function.address, window.cap_offset + _CAP_DATA, data)

    def _common(self) -> Structure:
        s = self.structure(V.VIRTIO_PCI_CAP_COMMON_CFG)
        if s is None:
            raise NotSupported("no virtio common configuration structure (a legacy-only device)",
                               **self.function.where())
        return s

    def _regs(self, s: Structure, layout: Layout, names: tuple[str, ...] | None = None,
              action: Callable[[], None] | None = None) -> dict[str, int]:
        """Declared registers of `layout` in structure `s` by label (after `action`, see `_read`)."""
        decls = [r for r in layout.registers if names is None or r.name in names]
        plan: list[tuple[Register, int, int]] = []
        for r in decls:  # 64-bit fields as two DWORDs, as drivers access them (§4.1.3.1)
            plan += [(r, r.offset, 4), (r, r.offset + 4, 4)] if r.width == 8 else [(r, r.offset, r.width)]
        values = self._read(s, [(off, w) for _, off, w in plan], action)
        out: dict[str, int] = {}
        for (r, off, _), v in zip(plan, values, strict=True):
            out[r.label or r.name] = out.get(r.label or r.name, 0) | v << 8 * (off - r.offset)
        return out

    def _sel_write(self, name: str, value: int) -> None:
        decl = self._common_reg(name)
        self._write(self._common(), decl.offset, decl.width, value)

    def _selected(self, select: str, value: int, layout: Layout, names: tuple[str, ...] | None = None) -> dict[str, int]:
        """Write a select register, then read registers it selects (one exchange on QEMU)."""
        return self._regs(self._common(), layout, names, lambda: self._sel_write(select, value))

    # -- reading -----------------------------------------------------------------------------------
    def _msix_enabled(self) -> bool:
        cap = self.function.cap("msix")
        return bool(cap and cap.get("PCI_MSIX_FLAGS", "PCI_MSIX_FLAGS_ENABLE"))

    def snapshot(self) -> Snapshot:
        """Everything readable now, in as few exchanges as the selects allow; selections put back."""
        self.function.refresh()
        why = self.reachable()
        if why is not None:
            raise NotSupported(why, **self.function.where())
        if self.transport == "legacy":
            return self._legacy_snapshot()
        s = self._common()
        common = self._regs(s, V.COMMON)
        unread: list[str] = []
        if common["device_status"] == 0xFF and common["num_queues"] == 0xFFFF:
            raise PciError("the virtio common configuration reads all ones: the device does not answer "
                               "(memory decoding off, or the device is gone)", **self.function.where(s.cap_offset))
        n = common["num_queues"]
        if n > QUEUE_MAX:  # more than any device model offers: read the first QUEUE_MAX, say so
            unread.append(f"queues {QUEUE_MAX}-{n - 1} of the {n} num_queues claims")
            n = QUEUE_MAX
        queues = [Queue(q) for q in range(n)]
        features: dict[str, int | None] = {"device_feature": None, "driver_feature": None}
        if self.may_select():
            # a running VM's source selects queues in itself (its recording knows each queue), but the feature
            # selects would be the guest's own registers: there only the word the guest selected is shown
            virtual = getattr(self.source, "selects_virtually", False)
            for sel, word in () if virtual else (("VIRTIO_PCI_COMMON_DFSELECT", "device_feature"),
                                                 ("VIRTIO_PCI_COMMON_GFSELECT", "driver_feature")):
                names = (sel.replace("SELECT", ""),)  # VIRTIO_PCI_COMMON_DF / _GF
                features[word] = sum(self._selected(sel, half, V.COMMON, names)[word] << 32 * half for half in (0, 1))
                self._sel_write(sel, common[V.COMMON.register(sel).label])
            if virtual:
                unread.append("the 64-bit feature words: their select registers are the guest's, so only the "
                              "selected words are shown")
            for q in queues:
                self._fill(q, self._selected("VIRTIO_PCI_COMMON_Q_SELECT", q.index, V.QUEUE))
            self._sel_write("VIRTIO_PCI_COMMON_Q_SELECT", common["queue_select"])
        else:
            captured = self._captured_selects()
            if common["queue_select"] < n:
                self._fill(queues[common["queue_select"]], self._regs(s, V.QUEUE))
            for q in queues:  # a capture taken where selects were allowed holds every queue's registers
                window = captured.get(f"virtio-queue:{q.index}")
                if window is not None and q.size is None:
                    self._fill(q, unpack(V.QUEUE, window, QUEUE_WINDOW_AT))
            halves = [captured.get(f"virtio-feature:{half}") for half in (0, 1)]
            if all(halves):
                words = [unpack(V.COMMON, h, 0) for h in halves]
                features = {w: words[0][w] | words[1][w] << 32 for w in ("device_feature", "driver_feature")}
            missing = [q.index for q in queues if q.size is None]
            # (the selected feature words are in `common`: device_feature with device_feature_select)
            parts = (["the 64-bit feature words"] if features["device_feature"] is None else []) + (
                [f"queues {', '.join(map(str, missing))}"] if missing else [])
            if parts:
                unread.append(f"{' and '.join(parts)}: they need select writes, which this source does not allow "
                              "(select=True to allow)")
        return Snapshot("modern", common, features["device_feature"], features["driver_feature"], queues,
                        self._device_config(), self._msix_enabled(), unread)

    @staticmethod
    def _fill(q: Queue, regs: dict[str, int]) -> None:
        for label, attr in QUEUE_FIELDS.items():
            setattr(q, attr, regs[label])

    def _captured_selects(self) -> dict[str, bytes]:
        """Windows a capture holds of registers behind selects ("virtio-queue:N", "virtio-feature:K")."""
        windows = getattr(self.source, "windows", None)
        if windows is None:
            return {}
        return {w.what: w.data for w in windows(self.function.address) if w.what.startswith("virtio-")}

    def windows(self) -> list[tuple[str, int, int, bytes]]:
        """(what, bar, offset, bytes) of the structures as read register by register now, for a capture: the
        common configuration as selected ("virtio-common"), each queue's registers ("virtio-queue:N") and
        each feature half ("virtio-feature:K") as their selects show them, the device configuration
        ("virtio-device").  Never the ISR (reading it clears it).  Modern transport only."""
        if self.transport != "modern":
            return []
        snap = self.snapshot()
        s = self._common()
        out: list[tuple[str, int, int, bytes]] = []
        sel = snap.common["queue_select"]
        selected = snap.queues[sel] if sel < len(snap.queues) else None
        queue_values = queue_regs(selected) if selected is not None and selected.size is not None else {}
        out.append(("virtio-common", s.bar, s.offset, pack(V.COMMON, snap.common, 0)
                    + (pack(V.QUEUE, queue_values, QUEUE_WINDOW_AT) if queue_values else b"")))
        for q in snap.queues:
            if q.size is not None:
                out.append((f"virtio-queue:{q.index}", s.bar, s.offset + QUEUE_WINDOW_AT,
                            pack(V.QUEUE, queue_regs(q), QUEUE_WINDOW_AT)))
        if snap.device_features is not None and snap.driver_features is not None:
            for half in (0, 1):
                values = {"device_feature_select": half, "device_feature": snap.device_features >> 32 * half,
                          "driver_feature_select": half, "driver_feature": snap.driver_features >> 32 * half}
                out.append((f"virtio-feature:{half}", s.bar, s.offset,
                            pack(V.COMMON, values, 0)[: V.COMMON.register("VIRTIO_PCI_COMMON_MSIX").offset]))
        device = self.structure(V.VIRTIO_PCI_CAP_DEVICE_CFG)
        layout = V.DEVICE_CONFIGS.get(self.device_type or 0)
        if device is not None and layout is not None and layout.length:
            size = min(layout.length, device.length) if device.length else layout.length
            values = {k: bytes.fromhex(v.replace(":", "")) if isinstance(v, str) else v
                      for k, v in snap.device_config.items()}
            out.append(("virtio-device", device.bar, device.offset, pack(layout, values, 0)[:size]))
        return out

    def _device_config(self) -> dict[str, int | str | None]:
        layout = V.DEVICE_CONFIGS.get(self.device_type or 0)
        if layout is None:
            return {}
        if self.transport == "legacy":
            s = self._legacy_bar()
            base = V.LEGACY_CONFIG_OFF[self._msix_enabled()]
            s = Structure(V.VIRTIO_PCI_CAP_DEVICE_CFG, s.bar, s.offset + base, max(s.length - base, 0), -1)
        else:
            s = self.structure(V.VIRTIO_PCI_CAP_DEVICE_CFG)
        if s is None:
            return {}
        regs = [r for r in layout.registers if s.length == 0 or r.offset + r.width <= s.length]
        values = self._read(s, [(r.offset + i, 1) for r in regs if r.width == 6 for i in range(6)]
                            + [(r.offset, r.width) for r in regs if r.width != 6])
        out: dict[str, int | str | None] = {}
        for r in [r for r in regs if r.width == 6]:  # a MAC address, as people write it
            out[r.name] = ":".join(f"{b:02x}" for b in values[:6])
            values = values[6:]
        for r, v in zip([r for r in regs if r.width != 6], values, strict=True):
            out[r.name] = v
        return out

    # -- the legacy interface (I/O BAR 0 of legacy and transitional devices) -----------------------
    def _legacy_bar(self) -> Structure:
        regions = self.source.bar_regions(self.function.address) or {}
        size = regions[0].size if 0 in regions else 0
        return Structure(0, 0, 0, size, -1)

    def legacy(self) -> Snapshot:
        """The legacy interface of a transitional device (the same device state seen through BAR 0)."""
        self.function.refresh()
        return self._legacy_snapshot()

    def _legacy_snapshot(self) -> Snapshot:
        s = self._legacy_bar()
        msix = self._msix_enabled()
        names = tuple(r.name for r in V.LEGACY.registers if r.name != "VIRTIO_PCI_ISR"
                      and (msix or r.name not in V.LEGACY_MSIX_REGS))
        regs = self._regs(s, V.LEGACY, names)
        common = {"msix_config": regs.get("config_msix_vector"), "device_status": regs["device_status"],
                  "queue_select": regs["queue_select"], "num_queues": None}
        queues: list[Queue] = []
        unread = [] if msix else ["MSI-X vector registers: the legacy layout has them only while MSI-X is enabled"]
        if self.may_select():
            sel = V.LEGACY.register("VIRTIO_PCI_QUEUE_SEL").offset
            names = ("VIRTIO_PCI_QUEUE_NUM", "VIRTIO_PCI_QUEUE_PFN", *(("VIRTIO_MSI_QUEUE_VECTOR",) if msix else ()))
            for q in range(QUEUE_MAX):  # legacy has no num_queues: queues run until the first of size 0
                r = self._regs(s, V.LEGACY, names, partial(self._write, s, sel, 2, q))
                if not r["queue_size"]:
                    break
                queues.append(Queue(q, r["queue_size"], r.get("queue_msix_vector"), int(bool(r["queue_address"])),
                                    None, r["queue_address"] << 12))
            self._write(s, sel, 2, regs["queue_select"])
            common["num_queues"] = len(queues)
        else:
            unread.append("queues: each needs a queue_select write, which this source does not allow")
        return Snapshot("legacy", common, regs["device_features"], regs["driver_features"], queues,
                        self._device_config(), msix, unread)

    # -- the chain to the interrupt ----------------------------------------------------------------
    def _entries(self) -> dict[int, Any]:
        m = self.function.msix
        try:
            return {e.vector: e for e in m.entries} if m is not None else {}
        except PciError:
            return {}

    @property
    def queues(self):
        """pandas DataFrame, one row per queue: its registers and the MSI-X entry its vector names
        (address, data, masked, pending, x86 meaning); NaN where not read (see `snapshot().unread`)."""
        import pandas as pd

        snap = self.snapshot()
        rows = [chain_row(q.to_dict(), self._entries(), snap.msix_enabled) for q in snap.queues]
        df = pd.DataFrame(rows, columns=["index", "size", "enable", "msix_vector", "notify_off", "desc", "driver",
                                         "device", "bound", "address", "data", "masked", "pending", "meaning"])
        return df.rename(columns={"index": "queue"}).set_index("queue")

    # -- verbs (through the common configuration, or the legacy I/O BAR of a legacy-only device) ----------
    def _common_reg(self, name: str) -> Register:
        return V.COMMON.register(name) if name in V.COMMON._by_name else V.QUEUE.register(name)

    def _verb_reg(self, what: str) -> tuple[Structure, Layout, Register]:
        """Where a verb's register is on this transport (the legacy vector registers only with MSI-X on)."""
        modern, legacy = VERB_REGISTERS[what]
        if self.transport == "modern":
            return self._common(), V.COMMON if modern in V.COMMON._by_name else V.QUEUE, self._common_reg(modern)
        if legacy in V.LEGACY_MSIX_REGS and not self._msix_enabled():
            at = V.LEGACY.register(legacy).offset
            raise InputError(f"the legacy interface has no {legacy} while MSI-X is disabled: a write at I/O BAR 0 "
                             f"+ 0x{at:x} would land in the device configuration (virtio 1.2 §4.1.4.10); enable "
                             "MSI-X first", **self.function.where())
        return self._legacy_bar(), V.LEGACY, V.LEGACY.register(legacy)

    def _write_read(self, what: str, value: int) -> int:
        """Write a verb's register and read the device's answer back (one exchange on QEMU)."""
        s, layout, r = self._verb_reg(what)
        return self._regs(s, layout, (r.name,), lambda: self._write(s, r.offset, r.width, value))[r.label or r.name]

    def _read_one(self, what: str) -> int:
        s, layout, r = self._verb_reg(what)
        return self._regs(s, layout, (r.name,))[r.label or r.name]

    def set_status(self, status: int) -> int:
        """Write device_status (0: reset, which unbinds every vector, §4.1.4.3.1); returns what it reads back."""
        got = self._write_read("status", status)
        if status == 0:
            self.refused.clear()  # a reset unbinds everything: nothing asked for stands any more
        names = "+".join(V.status_names(status)) or "0 (reset)"
        self.log.add("set_status()", f"set_status({names}): reads back 0x{got:02x}")
        return got

    def reset(self) -> int:
        return self.set_status(0)

    def set_config_vector(self, vector: int) -> int:
        """Write msix_config and return the device's answer (NO_VECTOR: it refused, §4.1.5.1.2)."""
        got = self._write_read("config_vector", vector)
        self._answer(None, vector, got)
        self.log.add("set_config_vector()", f"msix_config ← 0x{vector:x}: reads back 0x{got:x}"
                     + (" (refused)" if got != vector else ""))
        return got

    def set_queue_vector(self, queue: int, vector: int) -> int:
        """Select `queue`, write queue_msix_vector, read the answer back (Linux's vp_modern_queue_vector);
        queue_select is put back."""
        self._verb_reg("queue_vector")  # a legacy device without MSI-X has no such register: say so first
        old = self._read_one("queue_select")
        self._write_read("queue_select", queue)
        got = self._write_read("queue_vector", vector)
        self._write_read("queue_select", old)
        self._answer(queue, vector, got)
        self.log.add("set_queue_vector()", f"queue {queue} queue_msix_vector ← 0x{vector:x}: reads back 0x{got:x}"
                     + (" (refused)" if got != vector else ""))
        return got

    def _answer(self, queue: int | None, asked: int, got: int) -> None:
        if got == V.VIRTIO_MSI_NO_VECTOR and asked != got:
            self.refused[queue] = asked
        else:
            self.refused.pop(queue, None)

    def read_isr(self) -> int:
        """Read the ISR status.  This CLEARS it (and deasserts INTx, §4.1.4.5): only when you mean it."""
        if self.transport == "legacy":
            s, rel = self._legacy_bar(), V.LEGACY.register("VIRTIO_PCI_ISR").offset
        else:
            s, rel = self.structure(V.VIRTIO_PCI_CAP_ISR_CFG), 0
            if s is None:
                raise NotSupported("no virtio ISR structure", **self.function.where())
        value = self._read(s, [(rel, 1)])[0]
        self.log.add("read_isr()", f"ISR read (and cleared): 0x{value:02x}")
        return value

    # -- showing -----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (docs/json-schema.md, `virtio` object)."""
        out: dict[str, Any] = {"device_type": self.device_type, "device_type_name": self.device_type_name,
                               "transitional": self.transitional, "transport": self.transport,
                               "structures": [s.to_dict() for s in self.structures]}
        try:
            snap = self.snapshot()
        except PciError as e:  # the structures cannot be reached from this source, or are cut short
            out["unread"] = [e.message]
            if isinstance(e, NotSupported) and self._via_pci_cfg() is None and self.structure(V.VIRTIO_PCI_CAP_PCI_CFG):
                out["unread"].append("the PCI_CFG access capability reaches the same registers through config space: "
                                     "Virtio(fn, pci_cfg=True) on a source open for writes (it writes the window's "
                                     "bar/offset/length registers, and puts them back)")
            return out
        entries = self._entries()
        out.update({k: snap.common.get(k) for k in ("device_status", "msix_config", "num_queues", "queue_select",
                                                     "config_generation")})
        out["device_status_names"] = V.status_names(snap.common["device_status"] or 0)
        out["msix_enabled"] = snap.msix_enabled
        out["features"] = {
            "device": snap.device_features, "driver": snap.driver_features,
            "device_names": None if snap.device_features is None else V.feature_names(self.device_type, snap.device_features),
            "driver_names": None if snap.driver_features is None else V.feature_names(self.device_type, snap.driver_features)}
        out["config_vector"] = chain_row({"msix_vector": snap.common.get("msix_config")}, entries, snap.msix_enabled)
        out["queues"] = [chain_row(q.to_dict(), entries, snap.msix_enabled) for q in snap.queues]
        out["device_config"] = snap.device_config
        out["isr"] = None  # never read here: reading clears it
        out["unread"] = snap.unread + ["ISR status: reading it clears it (read_isr() when you mean it)"]
        return out

    def _repr_html_(self) -> str:
        from html import escape

        from .html import queues_html

        return f"<div><b>{escape(repr(self))}</b>{queues_html(self.to_dict())}</div>"

    def __repr__(self) -> str:
        return (f"<virtio {self.device_type_name} ({self.transport}{', transitional' if self.transitional else ''}) "
                f"at {self.function.address}: {len(self.structures)} structures>")


#: a verb's register: (in the common configuration, in the legacy layout)
VERB_REGISTERS = {"status": ("VIRTIO_PCI_COMMON_STATUS", "VIRTIO_PCI_STATUS"),
                  "config_vector": ("VIRTIO_PCI_COMMON_MSIX", "VIRTIO_MSI_CONFIG_VECTOR"),
                  "queue_select": ("VIRTIO_PCI_COMMON_Q_SELECT", "VIRTIO_PCI_QUEUE_SEL"),
                  "queue_vector": ("VIRTIO_PCI_COMMON_Q_MSIX", "VIRTIO_MSI_QUEUE_VECTOR")}
#: struct field of each per-queue register -> its Queue attribute
QUEUE_FIELDS = {"queue_size": "size", "queue_msix_vector": "msix_vector", "queue_enable": "enable",
                "queue_notify_off": "notify_off", "queue_desc": "desc", "queue_driver": "driver",
                "queue_device": "device"}
QUEUE_WINDOW_AT = V.QUEUE.registers[0].offset  # where the per-queue registers start in the common structure


def queue_regs(q: Queue) -> dict[str, int | None]:
    return {label: getattr(q, attr) for label, attr in QUEUE_FIELDS.items()}


def pack(layout: Layout, values: dict[str, Any], base: int) -> bytes:
    """The bytes of `layout`'s registers from `base` on, from their values by label (absent: zero; an
    integer too wide for its register keeps its low bytes, a bytes value is taken as it is)."""
    out = bytearray(layout.length - base)
    for r in layout.registers:
        v = values.get(r.label or r.name)
        if v is None:
            continue
        raw = v if isinstance(v, bytes) else (v & ((1 << 8 * r.width) - 1)).to_bytes(r.width, "little")
        out[r.offset - base : r.offset - base + r.width] = raw[: r.width]
    return bytes(out)


def unpack(layout: Layout, data: bytes, base: int) -> dict[str, int]:
    """Register values by label out of bytes that start at `base` of `layout`."""
    return {r.label or r.name: int.from_bytes(data[r.offset - base : r.offset - base + r.width], "little")
            for r in layout.registers if r.offset >= base and r.offset + r.width - base <= len(data)}


def chain_row(q: dict[str, Any], entries: dict[int, Any], msix_enabled: bool) -> dict[str, Any]:
    """A queue's (or the config vector's) registers with the MSI-X entry its vector names: `bound` says
    whether the vector leads to an entry at all (NO_VECTOR and vectors past the table do not)."""
    v = q.get("msix_vector")
    e = entries.get(v) if v is not None else None
    row = dict(q)
    row["bound"] = e is not None
    row.update({"address": e.address if e else None, "data": e.data if e else None,
                "masked": e.masked if e else None, "pending": e.pending if e else None,
                "meaning": (x86.describe(e.address, e.data) if msix_enabled else "MSI-X disabled: INTx and ISR")
                if e else None})
    return row


def is_virtio_function(fn: Function) -> bool:
    """1af4:1000-107f with a vendor capability or a legacy I/O BAR: a virtio-pci function."""
    caps: list[Capability] = [c for c in fn.capabilities if c.id == PCI_CAP_ID_VNDR and not c.extended]
    return fn.vendor_id == VIRTIO_VENDOR and 0x1000 <= fn.device_id < 0x1080 and (bool(caps) or fn.device_id < 0x1040)

"""The MSI-X model: capability fields, vector table and PBA read from the BAR, checks, verbs.

Rules (PCI Local Bus 3.0 §6.8.2, PCIe Base §7.7.2; QEMU hw/pci/msix.c is the reference model):
a vector is masked when its entry's mask bit, the Function Mask or a disabled MSI-X says so; an
event on a masked vector sets its PBA bit and sends nothing; when a vector becomes unmasked with its
PBA bit set the message is sent once and the bit cleared; the PBA is read-only to software.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ..regs.caps.msix import MSIX, MSIX_ENTRY, PCI_MSIX_ENTRY_SIZE
from ..sources.base import ByteRange
from ..words import plural
from . import x86
from .common import (
    BAR_PROBLEMS,
    PCI_COMMAND_MASTER,
    PCI_COMMAND_MEMORY,
    Check,
    InterruptModel,
    bar_facts,
    check_vector,
    write_field,
)

if TYPE_CHECKING:
    from collections.abc import Callable

FLAGS = MSIX.register("PCI_MSIX_FLAGS")
QSIZE = FLAGS.field("PCI_MSIX_FLAGS_QSIZE")
MASKALL = FLAGS.field("PCI_MSIX_FLAGS_MASKALL")
ENABLE = FLAGS.field("PCI_MSIX_FLAGS_ENABLE")
LOWER_ADDR = MSIX_ENTRY.register("PCI_MSIX_ENTRY_LOWER_ADDR").offset
UPPER_ADDR = MSIX_ENTRY.register("PCI_MSIX_ENTRY_UPPER_ADDR").offset
DATA = MSIX_ENTRY.register("PCI_MSIX_ENTRY_DATA").offset
VECTOR_CTRL_REG = MSIX_ENTRY.register("PCI_MSIX_ENTRY_VECTOR_CTRL")
VECTOR_CTRL = VECTOR_CTRL_REG.offset
MASKBIT = VECTOR_CTRL_REG.field("PCI_MSIX_ENTRY_CTRL_MASKBIT")
#: an entry as four little-endian DWORDs, and where each register is among them
_ENTRY_DWORDS = struct.Struct(f"<{PCI_MSIX_ENTRY_SIZE // 4}I")
_LO, _HI, _DATA, _CTRL = LOWER_ADDR // 4, UPPER_ADDR // 4, DATA // 4, VECTOR_CTRL // 4


@dataclass(frozen=True, slots=True)
class MsixRegs:
    """The three capability registers, read together from config space."""

    flags: int
    table: int
    pba: int

    @property
    def size(self) -> int:
        return QSIZE.extract(self.flags) + 1

    @property
    def enabled(self) -> bool:
        return bool(ENABLE.extract(self.flags))

    @property
    def function_masked(self) -> bool:
        return bool(MASKALL.extract(self.flags))

    @property
    def table_bir(self) -> int:
        return self.table & 7

    @property
    def table_offset(self) -> int:
        return self.table & ~7

    @property
    def pba_bir(self) -> int:
        return self.pba & 7

    @property
    def pba_offset(self) -> int:
        return self.pba & ~7

    @property
    def pba_bytes(self) -> int:
        """The PBA is whole QWORDs: one bit per vector, rounded up to 64 (spec §7.7.2.5)."""
        return (self.size + 63) // 64 * 8

    def table_range(self, first: int = 0, count: int | None = None) -> ByteRange:
        """Where entries `first`.. (all from there when `count` is None) lie in the table's BAR."""
        count = self.size - first if count is None else count
        return ByteRange(self.table_bir, self.table_offset + first * PCI_MSIX_ENTRY_SIZE, count * PCI_MSIX_ENTRY_SIZE)

    @property
    def pba_range(self) -> ByteRange:
        return ByteRange(self.pba_bir, self.pba_offset, self.pba_bytes)

    def pending_bits(self, pba: bytes) -> int:
        """The PBA as read, as one integer: bit n = vector n (bits past the last vector dropped)."""
        return int.from_bytes(pba, "little") & ((1 << self.size) - 1)


@dataclass(frozen=True, slots=True)
class MsixLook:
    """What one verb reads before it acts, each thing once: the capability registers (with PCI_COMMAND
    when the verb needs it) in one read of config space, then the vector's entry and the PBA in one read
    of the BAR windows."""

    regs: MsixRegs
    command: int | None  # when the verb asked for it
    pending: int  # PBA bits, bit n = vector n
    entry: MsixEntry | None  # when the verb names a vector


@dataclass(frozen=True, slots=True)
class MsixEntry:
    """One vector as read: its message, raw vector control and PBA bit, and the effective mask."""

    vector: int
    address: int
    data: int
    ctrl: int
    pending: bool
    masked: bool

    @property
    def entry_masked(self) -> bool:
        return bool(MASKBIT.extract(self.ctrl))

    @property
    def meaning(self) -> str:
        return x86.describe(self.address, self.data)

    @classmethod
    def decode(cls, vector: int, raw: bytes, pending: int, r: MsixRegs) -> MsixEntry:
        """Entry `vector` from its 16 table bytes, the PBA bits and the capability registers."""
        ctrl = int.from_bytes(raw[VECTOR_CTRL : VECTOR_CTRL + 4], "little")
        return cls(
            vector,
            int.from_bytes(raw[LOWER_ADDR : LOWER_ADDR + 4], "little")
            | int.from_bytes(raw[UPPER_ADDR : UPPER_ADDR + 4], "little") << 32,
            int.from_bytes(raw[DATA : DATA + 4], "little"),
            ctrl,
            bool(pending >> vector & 1),
            not r.enabled or r.function_masked or bool(MASKBIT.extract(ctrl)),
        )

    def __repr__(self) -> str:
        mask = "masked" if self.masked else "unmasked"
        pend = ", pending" if self.pending else ""
        return (f"<MSI-X vector {self.vector}: 0x{self.address:x} ← 0x{self.data:08x} {mask}{pend}; "
                f"{self.meaning}>")


class Msix(InterruptModel):
    """MSI-X of one function.  Every property reads the device again; verbs write through the Source.

    A verb reads what it needs once (`_look`) and tells its story from that and from the PBA read after
    the action; nothing read is kept beyond the verb."""

    name = "MSI-X"
    pending_name = "PBA"
    layout = MSIX

    # -- reading ------------------------------------------------------------------------------
    def _regs_and_command(self, with_command: bool) -> tuple[MsixRegs, int | None]:
        block, command = self._read_capability(with_command)
        values = [block.get(name) for name in ("PCI_MSIX_FLAGS", "PCI_MSIX_TABLE", "PCI_MSIX_PBA")]
        if any(v is None for v in values):
            raise self._cut_short()
        return MsixRegs(*values), command

    def regs(self) -> MsixRegs:
        """The capability registers, read from the device now."""
        return self._regs_and_command(False)[0]

    def _look(self, vector: int | None = None, with_command: bool = False) -> MsixLook:
        """What a verb needs to know before it acts, read once (PCI_COMMAND only when asked)."""
        r, command = self._regs_and_command(with_command)
        if vector is not None:
            check_vector(vector, r.size, "MSI-X vector", self.function)
        ranges = ([r.table_range(vector, 1)] if vector is not None else []) + [r.pba_range]
        *raw, pba = self.source.read_ranges(self.function.address, ranges)
        pending = r.pending_bits(pba)
        entry = MsixEntry.decode(vector, raw[0], pending, r) if vector is not None else None
        return MsixLook(r, command, pending, entry)

    @property
    def size(self) -> int:
        return self.regs().size

    @property
    def enabled(self) -> bool:
        return self.regs().enabled

    @property
    def function_masked(self) -> bool:
        return self.regs().function_masked

    def entry(self, vector: int) -> MsixEntry:
        entry = self._look(vector).entry
        assert entry is not None  # a look at a vector always has its entry
        return entry

    def masked(self, vector: int) -> bool:
        """Effective mask (msix.c's msix_is_masked): entry mask bit, Function Mask or MSI-X disabled."""
        return self.entry(vector).masked

    def pending(self, vector: int) -> bool:
        """The vector's PBA bit (msix.c's msix_is_pending)."""
        return self.entry(vector).pending

    def _table_and_pba(self, r: MsixRegs) -> tuple[bytes, bytes]:
        table, pba = self.source.read_ranges(self.function.address, [r.table_range(), r.pba_range])
        return table, pba

    @property
    def entries(self) -> list[MsixEntry]:
        r = self.regs()
        table, pba = self._table_and_pba(r)
        pending = r.pending_bits(pba)
        size = r.size * PCI_MSIX_ENTRY_SIZE
        function_level = not r.enabled or r.function_masked
        shift, mask = MASKBIT.shift, MASKBIT.value_mask
        # what MsixEntry.decode does entry by entry, with the table's DWORDs unpacked in one call (a table
        # shorter than its size reads as zeros there, as decode's int.from_bytes of a short slice does)
        return [MsixEntry(v, w[_LO] | w[_HI] << 32, w[_DATA], w[_CTRL], bool(pending >> v & 1),
                          function_level or bool(w[_CTRL] >> shift & mask))
                for v, w in enumerate(_ENTRY_DWORDS.iter_unpack(table[:size].ljust(size, b"\0")))]

    def columns(self) -> dict[str, Any]:
        """The table and PBA as numpy arrays, one element per vector: vector, address, data, ctrl,
        entry_masked, masked, pending -- what `entries` says, for thousands of vectors at once."""
        import numpy as np

        r = self.regs()
        table, pba_bytes = self._table_and_pba(r)
        size = r.size * PCI_MSIX_ENTRY_SIZE
        # short reads as zeros, as entries does
        raw = np.frombuffer(table[:size].ljust(size, b"\0"), dtype="<u4").reshape(-1, 4).astype(np.uint64)
        pba = np.unpackbits(np.frombuffer(pba_bytes[: r.pba_bytes].ljust(r.pba_bytes, b"\0"), dtype=np.uint8),
                            bitorder="little")[: r.size]
        ctrl = raw[:, _CTRL]
        entry_masked = ((ctrl >> np.uint64(MASKBIT.shift)) & np.uint64(MASKBIT.value_mask)) != 0
        return {"vector": np.arange(r.size), "address": raw[:, _LO] | (raw[:, _HI] << np.uint64(32)),
                "data": raw[:, _DATA], "ctrl": ctrl, "entry_masked": entry_masked,
                "masked": entry_masked | ((not r.enabled) or r.function_masked), "pending": pba.astype(bool)}

    @property
    def table(self):
        """pandas DataFrame, one row per vector: message, masks, pending and the x86 meaning."""
        import numpy as np
        import pandas as pd

        c = self.columns()
        address = c["address"].astype(np.int64)  # as the table always showed them (x86 addresses fit)
        df = pd.DataFrame({
            "vector": c["vector"],
            "address": address,
            "data": c["data"].astype(np.int64),
            "ctrl": c["ctrl"].astype(np.int64),
            "entry_masked": c["entry_masked"],
            "masked": c["masked"],
            "pending": c["pending"],
            **x86.columns(address, c["data"].astype(np.int64)),
        })
        from ..render.frames import hex_frame

        return hex_frame(df.set_index("vector"), {"address": 16, "data": 8, "ctrl": 8})

    # -- checks the kernel would never let a driver skip ---------------------------------------
    def checks(self, refresh: bool = True) -> list[Check]:
        """What is wrong with where the table and PBA are and with PCI_COMMAND; `refresh=False` for a
        caller that has just read the function and checks that one reading (the doctor)."""
        if refresh:
            self.function.refresh()  # BAR registers are read from the function's config: read them afresh
        r, command = self._regs_and_command(True)
        out: list[Check] = []
        sizes = {}
        for what, bir, offset, length in (("table", r.table_bir, r.table_offset, r.size * PCI_MSIX_ENTRY_SIZE),
                                           ("PBA", r.pba_bir, r.pba_offset, r.pba_bytes)):
            kind, size = bar_facts(self.function, bir)
            if kind:
                check_kind, message = BAR_PROBLEMS[kind]
                out.append(Check(check_kind, f"MSI-X {what}: " + message.format(bir=bir, below=bir - 1)))
            sizes[what] = size
            if size is not None and offset + length > size:
                out.append(Check("outside_bar", f"MSI-X {what} 0x{offset:x}..0x{offset + length - 1:x} extends "
                                                f"past the end of BAR {bir} (size 0x{size:x})"))
        t_end = r.table_offset + r.size * PCI_MSIX_ENTRY_SIZE
        p_end = r.pba_offset + r.pba_bytes
        if r.table_bir == r.pba_bir and r.table_offset < p_end and r.pba_offset < t_end:
            out.append(Check("overlap", f"MSI-X table 0x{r.table_offset:x}..0x{t_end - 1:x} and PBA "
                                        f"0x{r.pba_offset:x}..0x{p_end - 1:x} overlap in BAR {r.table_bir}"))
        command = command or 0
        if not command & PCI_COMMAND_MEMORY:
            out.append(Check("memory_off", "Memory Space Enable (PCI_COMMAND_MEMORY) is off: "
                                           "the table and PBA cannot be reached"))
        if r.enabled and not command & PCI_COMMAND_MASTER:
            out.append(Check("bus_master_off", "MSI-X is enabled but Bus Master (PCI_COMMAND_MASTER) is off: "
                                               "the function cannot send any message"))
        return out

    # -- verbs ----------------------------------------------------------------------------------
    def _tell(self, verb: str, why: str, look: MsixLook, action: Callable[[], None], wrote_config: bool) -> None:
        """Run `action` and add its story: the PBA after it is read with (QEMU: at the end of) the action."""
        r = look.regs

        def act() -> int:
            (pba,) = self.source.act_then_read(self.function.address, action, [r.pba_range])
            return r.pending_bits(pba)

        self._teller.run(verb, why, look.pending, act, wrote_config)

    def _write_flags(self, r: MsixRegs, field, value: int) -> None:
        write_field(self.function, self.offset + FLAGS.offset, FLAGS.width, field, r.flags, value)

    def _write_dword(self, r: MsixRegs, vector: int, rel: int, value: int) -> None:
        self.source.write_bar(self.function.address, r.table_bir,
                              r.table_offset + vector * PCI_MSIX_ENTRY_SIZE + rel, value.to_bytes(4, "little"))

    def enable(self) -> None:
        """Set PCI_MSIX_FLAGS_ENABLE: vectors not otherwise masked may now send."""
        look = self._look()
        pending = bin(look.pending).count("1")
        self._tell("enable()", f"MSI-X enabled, {pending or 'no'} vector(s) pending", look,
                   lambda: self._write_flags(look.regs, ENABLE, 1), wrote_config=True)

    def disable(self) -> None:
        """Clear PCI_MSIX_FLAGS_ENABLE: every vector is masked (events set PBA bits)."""
        look = self._look()
        self._tell("disable()", "MSI-X disabled: every vector now masked", look,
                   lambda: self._write_flags(look.regs, ENABLE, 0), wrote_config=True)

    def mask_all(self) -> None:
        """Set the Function Mask (PCI_MSIX_FLAGS_MASKALL)."""
        look = self._look()
        self._tell("mask_all()", "Function Mask set: every vector masked", look,
                   lambda: self._write_flags(look.regs, MASKALL, 1), wrote_config=True)

    def unmask_all(self) -> None:
        """Clear the Function Mask; vectors whose own mask bit is clear send what is pending."""
        look = self._look()
        why = "Function Mask cleared" + ("" if look.regs.enabled else " (MSI-X still disabled)")
        self._tell("unmask_all()", why, look, lambda: self._write_flags(look.regs, MASKALL, 0), wrote_config=True)

    def mask(self, vector: int) -> None:
        """Set the vector's PCI_MSIX_ENTRY_CTRL_MASKBIT (other vector-control bits kept)."""
        look = self._look(vector)
        ctrl = look.entry.ctrl
        self._tell(f"mask({vector})", f"vector {vector} entry mask bit set", look,
                   lambda: self._write_dword(look.regs, vector, VECTOR_CTRL, ctrl | MASKBIT.mask), wrote_config=False)

    def unmask(self, vector: int) -> None:
        """Clear the vector's mask bit; if it is then unmasked and pending, the message goes out once."""
        look = self._look(vector, with_command=True)
        e, r = look.entry, look.regs
        still = [w for w, on in (("MSI-X disabled", not r.enabled), ("Function Mask", r.function_masked)) if on]
        if still:
            why = f"entry mask bit cleared, still masked by {' and '.join(still)}"
        else:
            why = "pending bit set" if e.pending else "nothing pending"
            if e.pending and not look.command & PCI_COMMAND_MASTER:
                why += ", but Bus Master off: the message cannot leave the device"
        self._tell(f"unmask({vector})", why, look,
                   lambda: self._write_dword(r, vector, VECTOR_CTRL, e.ctrl & ~MASKBIT.mask), wrote_config=False)

    def set_message(self, vector: int, address: int, data: int) -> None:
        """Program the vector's address and data (three DWORD writes, as drivers do)."""
        look = self._look(vector)
        r = look.regs
        if not 0 <= address < 1 << 64 or address & 3 or not 0 <= data < 1 << 32:
            raise InputError(f"bad MSI-X message 0x{address:x} ← 0x{data:x}: address must be DWORD aligned "
                             "and 64-bit, data 32-bit", **self.function.where())
        note = "" if look.entry.masked else " (while unmasked: the spec asks software to mask it first)"

        def write() -> None:
            self._write_dword(r, vector, LOWER_ADDR, address & 0xFFFFFFFF)
            self._write_dword(r, vector, UPPER_ADDR, address >> 32)
            self._write_dword(r, vector, DATA, data)

        self._tell(f"set_message({vector})", f"0x{address:x} ← 0x{data:x} ({x86.describe(address, data)}){note}",
                   look, write, wrote_config=False)

    def trigger(self, vector: int) -> None:
        """Make the device raise vector `vector` (source cause "vector:N")."""
        look = self._look(vector, with_command=True)
        e = look.entry
        if e.masked:
            why = f"vector {vector} masked ({self._mask_reason(look)})"
        elif not look.command & PCI_COMMAND_MASTER:
            why = f"vector {vector} unmasked but Bus Master off: the message cannot leave the device"
        else:
            why = f"vector {vector} unmasked"
        self._tell(f"trigger({vector})", why, look,
                   lambda: self.source.trigger(self.function.address, f"vector:{vector}"), wrote_config=False)

    @staticmethod
    def _mask_reason(look: MsixLook) -> str:
        r, e = look.regs, look.entry
        reasons = [w for w, on in (("MSI-X disabled", not r.enabled), ("Function Mask", r.function_masked),
                                   ("entry mask bit", e.entry_masked)) if on]
        return " and ".join(reasons)

    # -- showing ----------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        r = self.regs()
        return {"offset": self.offset, "size": r.size, "enabled": r.enabled, "function_masked": r.function_masked,
                "table_bir": r.table_bir, "table_offset": r.table_offset,
                "pba_bir": r.pba_bir, "pba_offset": r.pba_offset}

    def __repr__(self) -> str:
        r = self.regs()
        return (f"<MSI-X @0x{self.offset:02x} of {self.function.address}: {plural(r.size, 'vector')}, "
                f"{'enabled' if r.enabled else 'disabled'}{', function masked' if r.function_masked else ''}, "
                f"table BAR {r.table_bir}+0x{r.table_offset:x}, PBA BAR {r.pba_bir}+0x{r.pba_offset:x}>")

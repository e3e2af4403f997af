"""The MSI model: one address/data pair in config space, 1-32 vectors, optional per-vector masking.

Rules (PCI Local Bus 3.0 §6.8.1, QEMU hw/pci/msi.c as the reference): vector n of N enabled vectors
sends the data with its low log2(N) bits replaced by n; with per-vector masking (PCI_MSI_FLAGS_MASKBIT)
a masked vector's event sets its pending bit, and unmasking a pending vector sends it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InputError, NotSupported
from ..model import Block
from ..regs.caps.msi import MSI, is_64bit, is_maskable
from . import x86
from .common import (
    PCI_COMMAND_MASTER,
    Check,
    InterruptModel,
    check_vector,
    write_field,
)

if TYPE_CHECKING:
    from collections.abc import Callable

FLAGS = MSI.register("PCI_MSI_FLAGS")
ENABLE = FLAGS.field("PCI_MSI_FLAGS_ENABLE")
QMASK = FLAGS.field("PCI_MSI_FLAGS_QMASK")  # Multiple Message Capable
QSIZE = FLAGS.field("PCI_MSI_FLAGS_QSIZE")  # Multiple Message Enable


@dataclass(frozen=True, slots=True)
class MsiRegs:
    """The MSI registers as read together; `mask`/`pending` are None without per-vector masking."""

    flags: int
    address: int
    data: int
    mask: int | None
    pending: int | None
    # absolute config offsets of the registers that move with PCI_MSI_FLAGS_64BIT
    address_hi_at: int | None
    data_at: int
    mask_at: int | None

    @property
    def enabled(self) -> bool:
        return bool(ENABLE.extract(self.flags))

    @property
    def capable(self) -> int:
        return 1 << min(QMASK.extract(self.flags), 5)

    @property
    def count(self) -> int:
        """Vectors software enabled (Multiple Message Enable), as msi.c's msi_nr_vectors."""
        return 1 << min(QSIZE.extract(self.flags), 5)

    @property
    def is_64bit(self) -> bool:
        return self.address_hi_at is not None

    @property
    def maskable(self) -> bool:
        return self.mask is not None

    def message(self, vector: int) -> tuple[int, int]:
        """(address, data) vector `vector` sends: data's low log2(count) bits replaced by the vector."""
        return self.address, (self.data & ~(self.count - 1)) | vector

    @property
    def pending_bits(self) -> int:
        """Pending bits of the enabled vectors as one integer (0 without per-vector masking)."""
        return (self.pending or 0) & ((1 << self.count) - 1)


class Msi(InterruptModel):
    """MSI of one function.  Every property reads config space again; verbs write through the Source.

    A verb reads the capability and PCI_COMMAND once, in one read of just those bytes, and tells its story
    from that and from the pending bits read after the action; nothing read is kept beyond the verb."""

    name = "MSI"
    pending_name = "pending"
    layout = MSI

    def _decode(self, b: Block) -> MsiRegs:
        values = {rv.name: rv for rv in b.registers()}
        if any(rv.value is None for rv in values.values()):
            raise self._cut_short()
        wide = is_64bit(b)
        hi = values.get("PCI_MSI_ADDRESS_HI")
        data = values["PCI_MSI_DATA_64" if wide else "PCI_MSI_DATA_32"]
        mask = values.get("PCI_MSI_MASK_64" if wide else "PCI_MSI_MASK_32")
        pending = values.get("PCI_MSI_PENDING_64" if wide else "PCI_MSI_PENDING_32")
        return MsiRegs(
            values["PCI_MSI_FLAGS"].value,
            values["PCI_MSI_ADDRESS_LO"].value | ((hi.value << 32) if hi else 0),
            data.value,
            mask.value if mask and is_maskable(b) else None,
            pending.value if pending and is_maskable(b) else None,
            hi.offset if hi else None,
            data.offset,
            mask.offset if mask else None,
        )

    def regs(self) -> MsiRegs:
        """The MSI registers, read from the device now."""
        return self._decode(self._read_capability()[0])

    def _look(self) -> tuple[MsiRegs, int]:
        """The registers and PCI_COMMAND, as one verb reads them before it acts."""
        block, command = self._read_capability(with_command=True)
        return self._decode(block), command or 0

    @property
    def enabled(self) -> bool:
        return self.regs().enabled

    @property
    def count(self) -> int:
        return self.regs().count

    def masked(self, vector: int) -> bool:
        r = self.regs()
        check_vector(vector, r.count, "MSI vector", self.function)
        return not r.enabled or bool((r.mask or 0) >> vector & 1)

    def pending(self, vector: int) -> bool:
        r = self.regs()
        check_vector(vector, r.count, "MSI vector", self.function)
        return bool((r.pending or 0) >> vector & 1)

    @property
    def table(self):
        """pandas DataFrame, one row per enabled vector, with the message it sends and its meaning."""
        import numpy as np
        import pandas as pd

        r = self.regs()
        vectors = np.arange(r.count)
        address = np.full(r.count, r.address, dtype=np.int64)
        data = (r.data & ~(r.count - 1)) | vectors
        mask_bits = ((r.mask or 0) >> vectors) & 1
        return pd.DataFrame({
            "vector": vectors,
            "address": address,
            "data": data,
            "mask_bit": mask_bits.astype(bool),
            "masked": mask_bits.astype(bool) | (not r.enabled),
            "pending": (((r.pending or 0) >> vectors) & 1).astype(bool),
            **x86.columns(address, data),
        }).set_index("vector")

    def checks(self) -> list[Check]:
        r, command = self._look()
        out = []
        if QSIZE.extract(r.flags) > QMASK.extract(r.flags):
            out.append(Check("too_many_vectors", f"Multiple Message Enable ({1 << QSIZE.extract(r.flags)}) "
                                                 f"exceeds Multiple Message Capable ({r.capable})"))
        if r.enabled and not command & PCI_COMMAND_MASTER:
            out.append(Check("bus_master_off", "MSI is enabled but Bus Master (PCI_COMMAND_MASTER) is off: "
                                               "the function cannot send any message"))
        return out

    # -- verbs ----------------------------------------------------------------------------------
    def _tell(self, verb: str, why: str, r: MsiRegs, action: Callable[[], None], wrote_config: bool = True) -> None:
        """Run `action` and add its story.  With per-vector masking the capability is read again with
        (QEMU: at the end of) the action; without it there are no pending bits to read."""

        def act() -> int:
            if not r.maskable:  # PCI_MSI_FLAGS_MASKBIT is read-only: no action adds pending bits
                action()
                return 0
            (cap,) = self.source.act_then_read(self.function.address, action, [self._capability_range])
            return self._decode(self._capability_block(cap)).pending_bits

        self._teller.run(verb, why, r.pending_bits, act, wrote_config)

    def _write_flags(self, r: MsiRegs, field, value: int) -> None:
        write_field(self.function, self.offset + FLAGS.offset, FLAGS.width, field, r.flags, value)

    def enable(self) -> None:
        r = self.regs()
        self._tell("enable()", "MSI enabled", r, lambda: self._write_flags(r, ENABLE, 1))

    def disable(self) -> None:
        r = self.regs()
        self._tell("disable()", "MSI disabled", r, lambda: self._write_flags(r, ENABLE, 0))

    def set_vectors(self, count: int) -> None:
        """Write Multiple Message Enable (count a power of two up to Multiple Message Capable)."""
        r = self.regs()
        if count not in (1, 2, 4, 8, 16, 32) or count > r.capable:
            raise InputError(f"MSI vector count {count}: must be a power of two up to {r.capable}",
                             **self.function.where())
        self._tell(f"set_vectors({count})", f"Multiple Message Enable = {count}", r,
                   lambda: self._write_flags(r, QSIZE, count.bit_length() - 1))

    def _write_mask(self, r: MsiRegs, vector: int, on: bool) -> None:
        check_vector(vector, r.count, "MSI vector", self.function)
        if r.mask is None or r.mask_at is None:
            raise NotSupported("this function's MSI has no per-vector masking (PCI_MSI_FLAGS_MASKBIT clear)",
                               **self.function.where())
        new = r.mask | (1 << vector) if on else r.mask & ~(1 << vector)
        self.source.write_config(self.function.address, r.mask_at, new.to_bytes(4, "little"))

    def mask(self, vector: int) -> None:
        r = self.regs()
        self._tell(f"mask({vector})", f"vector {vector} mask bit set", r, lambda: self._write_mask(r, vector, True))

    def unmask(self, vector: int) -> None:
        r = self.regs()
        if r.maskable:
            check_vector(vector, r.count, "MSI vector", self.function)
        why = "pending bit set" if r.maskable and (r.pending or 0) >> vector & 1 else "nothing pending"
        self._tell(f"unmask({vector})", why, r, lambda: self._write_mask(r, vector, False))

    def set_message(self, address: int, data: int) -> None:
        r = self.regs()
        limit = 1 << (64 if r.is_64bit else 32)
        if not 0 <= address < limit or address & 3 or not 0 <= data <= 0xFFFF:
            raise InputError(f"bad MSI message 0x{address:x} ← 0x{data:x}: address DWORD aligned and "
                             f"{'64' if r.is_64bit else '32'}-bit, data 16-bit", **self.function.where())
        a = self.function.address

        def write() -> None:
            self.source.write_config(a, self.offset + 4, (address & 0xFFFFFFFF).to_bytes(4, "little"))
            if r.address_hi_at is not None:
                self.source.write_config(a, r.address_hi_at, (address >> 32).to_bytes(4, "little"))
            self.source.write_config(a, r.data_at, data.to_bytes(2, "little"))

        self._tell("set_message()", f"0x{address:x} ← 0x{data:x} ({x86.describe(address, data)})", r, write)

    def trigger(self, vector: int) -> None:
        r, command = self._look()
        check_vector(vector, r.count, "MSI vector", self.function)
        if not command & PCI_COMMAND_MASTER:
            why = "Bus Master off"
        elif not r.enabled:
            why = "MSI disabled"
        elif (r.mask or 0) >> vector & 1:
            why = f"vector {vector} masked"
        else:
            why = f"vector {vector} unmasked"
        self._tell(f"trigger({vector})", why, r,
                   lambda: self.source.trigger(self.function.address, f"vector:{vector}"), wrote_config=False)

    def summary(self) -> dict[str, Any]:
        r = self.regs()
        return {"offset": self.offset, "enabled": r.enabled, "capable": r.capable, "count": r.count,
                "64bit": r.is_64bit, "maskable": r.maskable, "address": r.address, "data": r.data,
                "mask": r.mask, "pending": r.pending}

    def __repr__(self) -> str:
        r = self.regs()
        mask = f", mask 0x{r.mask:x} pending 0x{r.pending:x}" if r.mask is not None else ""
        return (f"<MSI @0x{self.offset:02x} of {self.function.address}: "
                f"{'enabled' if r.enabled else 'disabled'}, {r.count}/{r.capable} vectors, "
                f"{'64' if r.is_64bit else '32'}-bit, 0x{r.address:x} ← 0x{r.data:04x}{mask}>")

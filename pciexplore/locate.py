"""Where a name's bytes are: the kit's register names, for `pciexplore set` and `annotate`.

    PCI_COMMAND, PCI_COMMAND_MASTER, PCI_EXP_DEVCTL_READRQ   registers and fields of pci_regs.h, as
                                                            declared in regs/ (header and capabilities)
    MSIX[3].VECTOR_CTRL, MSIX[3].CTRL_MASKBIT, MSIX[0].DATA  an MSI-X table entry by vector: the names of
                                                            MSIX_ENTRY without PCI_MSIX_ENTRY_ (full ones too)

A name is looked up in the function's own header and capabilities, so it resolves to where that
function has the register (the first capability of that kind, as `Capability.get` does).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import InputError
from .regs import Field, Register
from .regs.caps.msix import MSIX_ENTRY, PCI_MSIX_ENTRY_SIZE

if TYPE_CHECKING:
    from .model import Function

MSIX_NAME = re.compile(r"MSIX\[(0x[0-9a-fA-F]+|\d+)\]\.(\w+)", re.IGNORECASE)
_ENTRY_PREFIX = "PCI_MSIX_ENTRY_"


@dataclass(frozen=True, slots=True)
class Target:
    """A register (or one field of it) of one function: in config space, or at `offset` in BAR `bar`."""

    name: str
    register: Register
    offset: int  # of the whole register
    field: Field | None = None
    bar: int | None = None

    @property
    def width(self) -> int:
        return self.register.width

    @property
    def byte_range(self) -> tuple[int, int]:
        """(offset, length) of the bytes the name covers: the register's, or those holding the field."""
        if self.field is None:
            return self.offset, self.width
        return self.offset + self.field.lo // 8, self.field.hi // 8 - self.field.lo // 8 + 1

    @property
    def where(self) -> str:
        return "config" if self.bar is None else f"BAR {self.bar}"


def encode(fn: Function, target: Target, old: int, value: int, mask: int | None = None) -> int:
    """The register's new value: `value` encoded into the field's bits with the rest of `old` kept, or
    the whole register (only the bits of `mask`, when given)."""
    full = (1 << 8 * target.width) - 1
    f = target.field
    if f is None:
        if not 0 <= value <= full or (mask is not None and not 0 <= mask <= full):
            raise InputError(f"0x{value:x} does not fit {target.name} ({target.width} bytes)", **fn.where())
        keep = full if mask is None else mask
        return (old & ~keep) | (value & keep)
    if mask is not None:
        raise InputError(f"{target.name} is a field: give its value without a mask", **fn.where())
    if not 0 <= value <= f.low_mask:
        raise InputError(f"0x{value:x} does not fit {target.name} ({f.width} bits)", **fn.where())
    return (old & ~f.mask) | (value << f.lo)


def read(fn: Function, target: Target) -> int:
    """The whole register's value now (config: read again from the source; BAR: read from it)."""
    if target.bar is None:
        cfg = fn.source.read_config(fn.address)[target.offset : target.offset + target.width]
        if len(cfg) < target.width:
            raise InputError(f"{target.name} is past the {target.offset} bytes of config space this source has",
                             **fn.where(target.offset))
        return int.from_bytes(cfg, "little")
    return int.from_bytes(fn.source.read_bar(fn.address, target.bar, target.offset, target.width), "little")


def write(fn: Function, target: Target, value: int) -> None:
    """Write the whole register through the source (which decides whether that is allowed)."""
    data = value.to_bytes(target.width, "little")
    if target.bar is None:
        fn.source.write_config(fn.address, target.offset, data)
    else:
        fn.source.write_bar(fn.address, target.bar, target.offset, data)
    fn.refresh()


def assign(fn: Function, name: str, value: int) -> tuple[int, int]:
    """Set register or field `name` of `fn` to `value` (a field keeps the rest of its register): returns
    the register's (old, new) value."""
    target = resolve(fn, name)
    old = read(fn, target)
    new = encode(fn, target, old, value)
    write(fn, target, new)
    return old, new


def is_kit_name(text: str) -> bool:
    """True for the names this module resolves (setpci's own names never start with PCI_ or MSIX[)."""
    return text.upper().startswith("PCI_") or MSIX_NAME.fullmatch(text) is not None


def resolve(fn: Function, name: str) -> Target:
    """The register or field `name` of `fn`; InputError (with the closest names of the same block) if none."""
    m = MSIX_NAME.fullmatch(name)
    if m:
        return _msix_entry(fn, name, int(m[1], 0), m[2].upper())
    wanted = name.upper()
    blocks = [fn.header, *fn.capabilities]
    for block in blocks:
        for rv in block.registers():
            if rv.decl.name == wanted:
                return Target(wanted, rv.decl, rv.offset)
            for f in rv.decl.fields:
                if f.name == wanted:
                    return Target(wanted, rv.decl, rv.offset, f)
    raise InputError(f"no register or field {name} in this function's header or capabilities"
                     f"{_did_you_mean(wanted, blocks)}", **fn.where())


def _did_you_mean(wanted: str, blocks: list) -> str:
    """Suggestions from the block whose names share the longest prefix with `wanted` (its capability:
    PCI_EXP_DEVCTL_X is a typo inside Express), ranked by similarity."""
    def names(block) -> list[str]:
        return [n for rv in block.registers() for n in (rv.decl.name, *(f.name for f in rv.decl.fields))]

    def shared(a: str, b: str) -> int:  # leading words in common: PCI, EXP, DEVCTL, ...
        n = 0
        for x, y in zip(a.split("_"), b.split("_"), strict=False):
            if x != y:
                break
            n += 1
        return n

    scored = [(max((shared(wanted, n) for n in names(b)), default=0), i, b) for i, b in enumerate(blocks)]
    best = max((s for s, _, _ in scored), default=0)
    # only "PCI" in common names no capability: the header's names are the likely ones
    pool = names(blocks[0]) if best <= 1 else [n for s, _, b in scored if s == best for n in names(b)]
    close = difflib.get_close_matches(wanted, pool, n=3, cutoff=0.5)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def _msix_entry(fn: Function, name: str, vector: int, part: str) -> Target:
    model = fn.msix
    if model is None:
        raise InputError(f"{name}: the function has no MSI-X capability", **fn.where())
    if vector >= model.size:
        raise InputError(f"{name}: vector {vector} is past the table's {model.size} entries", **fn.where())
    short = part.removeprefix(_ENTRY_PREFIX)
    base = model.regs().table_offset + vector * PCI_MSIX_ENTRY_SIZE
    bar = model.regs().table_bir
    known = []
    for r in MSIX_ENTRY.registers:
        for decl_name, f in ((r.name, None), *((x.name, x) for x in r.fields)):
            key = decl_name.removeprefix(_ENTRY_PREFIX)
            known.append(key)
            if short in (key, key.removeprefix("CTRL_")):
                return Target(f"MSIX[{vector}].{key}", r, base + r.offset, f, bar)
    close = difflib.get_close_matches(short, known, n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(f'MSIX[{vector}].{c}' for c in close)}?)" if close else ""
    raise InputError(f"{name}: an MSI-X entry has {', '.join(known)}{hint}", **fn.where())

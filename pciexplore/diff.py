"""Field-level differences between two sources (captures, dumps, the live host, QEMU, the simulator).

Every difference is named from the declarations: "00:03.0 PCI_COMMAND_MASTER (BusMaster): 1 → 0",
"00:03.0 MSI-X entry 2 Masked: yes → no".  Bytes no declaration covers are still compared, as byte
ranges, so nothing that changed goes unreported.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import PciError
from .regs.caps.msix import MSIX_ENTRY, PCI_MSIX_ENTRY_SIZE

if TYPE_CHECKING:
    import pandas

    from .model import Block, Function
    from .regs.base import Field, Register
    from .sources.base import Source

ARROW = "→"


@dataclass(frozen=True, slots=True)
class Difference:
    function: str  # "00:03.0" (or "00:03.0/00:04.0" when two different functions are compared)
    where: str  # "header", "[98] MSI-X", "MSI-X table", "MSI-X PBA", "config", "kernel", "function"
    name: str  # pci_regs.h register or field name, or a description when there is none
    label: str  # lspci's word, or the entry's title ("MSI-X entry 2 Masked")
    old: str
    new: str
    offset: int | None = None  # config offset (or BAR offset for table/PBA)

    @property
    def title(self) -> str:
        if self.where in ("MSI-X table", "MSI-X PBA", "virtio"):
            return self.label
        return f"{self.name} ({self.label})" if self.label else self.name

    def __str__(self) -> str:
        return f"{self.function} {self.title}: {self.old} {ARROW} {self.new}"


class DiffResult:
    """The differences between two sources: iterate, print (one line each) or `to_frame()`."""

    def __init__(self, a_name: str, b_name: str, differences: list[Difference], notes: list[str]) -> None:
        self.a_name = a_name
        self.b_name = b_name
        self.differences = differences
        #: what could not be compared and why (e.g. a side without the MSI-X table)
        self.notes = notes

    def __iter__(self) -> Iterator[Difference]:
        return iter(self.differences)

    def __len__(self) -> int:
        return len(self.differences)

    def __str__(self) -> str:
        lines = [str(d) for d in self.differences] or ["no differences"]
        return "\n".join(lines + [f"note: {n}" for n in self.notes]) + "\n"

    def to_frame(self) -> pandas.DataFrame:
        import pandas

        from .render.frames import hex_frame

        columns = ["function", "where", "name", "label", "old", "new", "offset"]
        frame = pandas.DataFrame([{c: getattr(d, c) for c in columns} for d in self.differences], columns=columns)
        return hex_frame(frame, {"offset": 3})

    def _repr_html_(self) -> str:
        return self.to_frame()._repr_html_()

    def __repr__(self) -> str:
        return f"<DiffResult {self.a_name} vs {self.b_name}: {len(self.differences)} differences>"


def diff(a: Source | str, b: Source | str, selector: str | None = None,
         other_selector: str | None = None) -> DiffResult:
    """Compare every function both sources have (or the one each has, when each has exactly one).

    `selector` picks functions of both sides, `other_selector` (when given) those of `b`: so two
    different functions can be compared, e.g. selector="01:00.0", other_selector="02:00.0"."""
    from .sources import open_source

    sa, sb = open_source(a), open_source(b)
    fa = {f.address: f for f in sa.functions(selector)}
    fb = {f.address: f for f in sb.functions(other_selector if other_selector is not None else selector)}
    out: list[Difference] = []
    notes: list[str] = []
    if len(fa) == 1 and len(fb) == 1 and fa.keys() != fb.keys():
        (x,), (y,) = fa.values(), fb.values()
        _compare_function(out, notes, f"{x.address.short}/{y.address.short}", x, y)
    else:
        for addr in sorted(fa.keys() | fb.keys()):
            name = addr.short if addr.domain == 0 else str(addr)
            if addr not in fb or addr not in fa:
                out.append(Difference(name, "function", "present", "", "yes" if addr in fa else "no",
                                      "yes" if addr in fb else "no"))
            else:
                _compare_function(out, notes, name, fa[addr], fb[addr])
    return DiffResult(sa.name, sb.name, out, notes)


def _compare_function(out: list[Difference], notes: list[str], name: str, a: Function, b: Function) -> None:
    covered: set[int] = set()
    if a.header_type != b.header_type:
        out.append(Difference(name, "header", "PCI_HEADER_TYPE", "header type", str(a.header_type),
                              str(b.header_type), 0x0E))
    else:
        _compare_block(out, name, "header", a.header, b.header, covered)

    caps_b: dict[tuple[bool, int], list] = {}
    for cap in b.capabilities:
        caps_b.setdefault((cap.extended, cap.id), []).append(cap)
    seen: dict[tuple[bool, int], int] = {}
    for cap in a.capabilities:
        key = (cap.extended, cap.id)
        n = seen.get(key, 0)
        seen[key] = n + 1
        other = caps_b.get(key, [])
        where = f"[{cap.offset:0{3 if cap.extended else 2}x}] {cap.name}"
        if n >= len(other):
            out.append(Difference(name, where, cap.key, "capability", "present", "absent", cap.offset))
            continue
        if other[n].offset != cap.offset:
            out.append(Difference(name, where, cap.key, "capability offset", f"0x{cap.offset:x}",
                                  f"0x{other[n].offset:x}", cap.offset))
        _compare_block(out, name, where, cap, other[n], covered)
    for key, caps in caps_b.items():
        for cap in caps[seen.get(key, 0):]:
            where = f"[{cap.offset:0{3 if cap.extended else 2}x}] {cap.name}"
            out.append(Difference(name, where, cap.key, "capability", "absent", "present", cap.offset))

    _compare_bytes(out, name, a.config, b.config, covered)
    _compare_msix(out, notes, name, a, b)
    _compare_virtio(out, notes, name, a, b)
    _compare_kernel(out, name, a, b)


def _compare_block(out: list[Difference], name: str, where: str, a: Block, b: Block, covered: set[int]) -> None:
    regs_b = {rv.name: rv for rv in b.registers()}
    for ra in a.registers():
        rb = regs_b.get(ra.name)
        if rb is None:
            continue
        covered.update(range(ra.offset, ra.offset + ra.decl.width))  # the bytes of both sides: a capability
        covered.update(range(rb.offset, rb.offset + rb.decl.width))  # may sit at different offsets
        _compare_register(out, name, where, ra.decl, ra.offset, ra.value, rb.value, flags=("1", "0"))


def _compare_register(out: list[Difference], name: str, where: str, decl: Register, offset: int,
                      va: int | None, vb: int | None, flags: tuple[str, str], title: str = "") -> None:
    if va == vb:
        return
    if va is None or vb is None or not decl.fields:
        out.append(Difference(name, where, decl.name, f"{title}{decl.label}".strip(), _hex(va, decl.width),
                              _hex(vb, decl.width), offset))
        return
    covered = 0
    for f in decl.fields:
        covered |= f.mask
        x, y = f.extract(va), f.extract(vb)
        if x != y:
            out.append(Difference(name, where, f.name, f"{title}{f.label}".strip(), _field_value(f, x, flags),
                                  _field_value(f, y, flags), offset + f.lo // 8))
    if (va ^ vb) & ~covered:
        out.append(Difference(name, where, decl.name, f"{title}{decl.label} (other bits)".strip(),
                              _hex(va & ~covered, decl.width), _hex(vb & ~covered, decl.width), offset))


def _field_value(f: Field, raw: int, flags: tuple[str, str]) -> str:
    if f.is_flag:
        return flags[0] if raw else flags[1]
    meaning = f.meaning(raw)
    number = str(raw) if raw < 10 else f"0x{raw:x}"
    return f"{meaning} ({number})" if meaning else number


def _hex(v: int | None, width: int) -> str:
    return "unreadable" if v is None else f"0x{v:0{2 * width}x}"


def _compare_bytes(out: list[Difference], name: str, a: bytes, b: bytes, covered: set[int]) -> None:
    """Bytes no declared register covers, as runs of differing bytes; then the lengths."""
    common = min(len(a), len(b))
    i = 0
    while i < common:
        if i in covered or a[i] == b[i]:
            i += 1
            continue
        start = i
        while i < common and i not in covered and a[i] != b[i]:
            i += 1
        span = f"0x{start:03x}" if i - start == 1 else f"0x{start:03x}-0x{i - 1:03x}"
        out.append(Difference(name, "config", f"config {span}", "", _bytes(a[start:i]), _bytes(b[start:i]), start))
    if len(a) != len(b):
        out.append(Difference(name, "config", "config length", "", f"{len(a)} bytes", f"{len(b)} bytes"))


def _bytes(data: bytes, shown: int = 16) -> str:
    text = data[:shown].hex(" ")
    return text if len(data) <= shown else f"{text} … ({len(data)} bytes)"


def _read_windows(fn: Function) -> tuple[dict[str, tuple[int, int, bytes]], str | None]:
    from .capture.take import read_msix

    try:
        return read_msix(fn), None
    except PciError as e:
        return {}, e.message


def _compare_msix(out: list[Difference], notes: list[str], name: str, a: Function, b: Function) -> None:
    if a.cap("msix") is None or b.cap("msix") is None:
        return
    wa, why_a = _read_windows(a)
    wb, why_b = _read_windows(b)
    if why_a or why_b:
        side = "first" if why_a else "second"
        why = why_a or why_b or ""
        why = why if len(why) <= 160 else why[:159] + "…"
        notes.append(f"{name}: MSI-X table and PBA not compared: the {side} source: {why}")
        return
    bar, offset, ta = wa["msix-table"]
    tb = wb["msix-table"][2]
    for n in range(min(len(ta), len(tb)) // PCI_MSIX_ENTRY_SIZE):
        base = n * PCI_MSIX_ENTRY_SIZE
        for decl in MSIX_ENTRY.registers:
            at = base + decl.offset
            va = int.from_bytes(ta[at : at + decl.width], "little")
            vb = int.from_bytes(tb[at : at + decl.width], "little")
            _compare_register(out, name, "MSI-X table", decl, offset + at, va, vb, flags=("yes", "no"),
                              title=f"MSI-X entry {n} ")
    if len(ta) != len(tb):
        out.append(Difference(name, "MSI-X table", "PCI_MSIX_FLAGS_QSIZE", "MSI-X vectors",
                              str(len(ta) // PCI_MSIX_ENTRY_SIZE), str(len(tb) // PCI_MSIX_ENTRY_SIZE)))
    _, pba_offset, pa = wa["msix-pba"]
    pb = wb["msix-pba"][2]
    vectors = min(len(ta), len(tb)) // PCI_MSIX_ENTRY_SIZE
    for n in range(min(vectors, 8 * min(len(pa), len(pb)))):
        x, y = pa[n // 8] >> (n % 8) & 1, pb[n // 8] >> (n % 8) & 1
        if x != y:
            out.append(Difference(name, "MSI-X PBA", "PBA", f"MSI-X entry {n} Pending", "yes" if x else "no",
                                  "yes" if y else "no", pba_offset + n // 8))


def _compare_virtio(out: list[Difference], notes: list[str], name: str, a: Function, b: Function) -> None:
    from .virtio.diff import compare

    found, why = compare(a, b)
    if why:
        notes.append(f"{name}: virtio transport not compared: {why if len(why) <= 160 else why[:159] + '…'}")
    out += [Difference(name, "virtio", n, label, old, new) for n, label, old, new in found]


def _compare_kernel(out: list[Difference], name: str, a: Function, b: Function) -> None:
    ka, kb = a.kernel, b.kernel
    if ka is None or kb is None:
        return
    for attr in ("driver", "irq", "msi_irqs", "iommu_group"):
        x, y = getattr(ka, attr), getattr(kb, attr)
        if x != y:
            out.append(Difference(name, "kernel", attr, "", str(x), str(y)))

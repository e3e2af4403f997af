"""The fleet's tables: their Arrow schemas and the rows one opened source gives for each.

Every value comes from the decoded model (registers and fields through their declarations, the MSI-X
model's entries, the doctor's findings, a capture's metadata and notes); nothing here decodes bytes
itself.  Rows are gathered per chunk of captures in column form, so a chunk of 256 captures of 9
functions (about 700,000 field rows) costs a few lists and arrays, not a Python object per row.

`virtio_queues` holds each virtio queue with the MSI-X entry its vector names (the virtio model's chain,
`fn.virtio`), where the capture holds the virtio BAR windows.
"""

from __future__ import annotations

import functools
import hashlib
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from ..errors import PciError
from ..msi import x86
from ..render.json import function_names

if TYPE_CHECKING:
    from ..model import Function
    from ..sources.base import Source

_S, _I, _U, _B = pa.string(), pa.int64(), pa.uint64(), pa.bool_()

#: table name -> schema; the column meanings are in docs/fleet.md.  No column is named after an SQL
#: keyword (offset, check, where), so queries need no quoting.
SCHEMAS: dict[str, pa.Schema] = {
    "captures": pa.schema([
        ("capture", _S), ("host", _S), ("title", _S), ("time", _S), ("kernel", _S), ("tool", _S),
        ("source_kind", _S), ("source", _S), ("input_kind", _S), ("path", _S), ("size", _I),
        ("functions", _I), ("annotations", _I),
    ]),
    "functions": pa.schema([
        ("capture", _S), ("host", _S), ("address", _S), ("domain", _I), ("bus", _I), ("device", _I),
        ("function", _I), ("vendor_id", _I), ("device_id", _I), ("class", _I), ("revision", _I),
        ("header_type", _I), ("subsystem_vendor_id", _I), ("subsystem_id", _I), ("config_length", _I),
        ("capabilities", pa.list_(_S)), ("problems", _I), ("driver", _S), ("vendor_name", _S),
        ("device_name", _S), ("class_name", _S), ("msix_size", _I), ("msix_enabled", _B),
        ("msix_function_masked", _B), ("msix_table_captured", _B),
    ]),
    "fields": pa.schema([
        ("capture", _S), ("host", _S), ("address", _S), ("capability", _S), ("cap_offset", _I),
        ("register", _S), ("reg_offset", _I), ("field", _S), ("value", _U), ("slot", _I),
    ]),
    "msix_vectors": pa.schema([
        ("capture", _S), ("host", _S), ("address", _S), ("vector", _I), ("message_address", _U),
        ("message_data", _I), ("ctrl", _I), ("entry_masked", _B), ("masked", _B), ("pending", _B),
        ("meaning", _S),
    ]),
    "findings": pa.schema([
        ("capture", _S), ("host", _S), ("address", _S), ("check_id", _S), ("severity", _S), ("location", _S),
        ("message", _S), ("rule", _S), ("fix", _S), ("byte_offset", _I), ("vector", _I),
    ]),
    "annotations": pa.schema([
        ("capture", _S), ("host", _S), ("address", _S), ("bar", _I), ("byte_offset", _I), ("length", _I),
        ("field", _S), ("text", _S), ("author", _S), ("time", _S), ("tags", pa.list_(_S)),
    ]),
}
SCHEMAS["virtio_queues"] = pa.schema([
    ("capture", _S), ("host", _S), ("address", _S), ("device_type", _S), ("device_status", _I), ("queue", _I),
    ("size", _I), ("enable", _I), ("msix_vector", _I), ("bound", _B), ("message_address", _U),
    ("message_data", _I), ("masked", _B), ("pending", _B), ("meaning", _S),
])
TABLES = tuple(SCHEMAS)


class _Coded:
    """Distinct values of a string column, each with a code (register names repeat millions of times):
    the column is kept as codes and becomes a plain Arrow string column when written."""

    __slots__ = ("index", "values")

    def __init__(self) -> None:
        self.index: dict[str | None, int] = {None: -1}
        self.values: list[str] = []

    def code(self, value: str | None) -> int:
        c = self.index.get(value)
        if c is None:
            c = self.index[value] = len(self.values)
            self.values.append(value)  # type: ignore[arg-type]  # None is never added: it is -1
        return c


class _Rows:
    """Rows of a small table (one per function, vector, finding, note) as tuples in schema order."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.rows: list[tuple] = []

    def add(self, **row: Any) -> None:
        self.rows.append(tuple(row.get(name) for name in self.schema.names))

    def __len__(self) -> int:
        return len(self.rows)

    def truncate(self, n: int) -> None:
        del self.rows[n:]

    def table(self) -> pa.Table:
        columns = list(zip(*self.rows, strict=True)) if self.rows else [()] * len(self.schema)
        return pa.Table.from_arrays([pa.array(c, f.type) for c, f in zip(columns, self.schema, strict=True)],
                                    schema=self.schema)


class _VectorRows:
    """The `msix_vectors` rows in column form: each function's vectors as the MSI-X model's arrays (up to
    2048 a function), joined when the chunk is written, with no Python object per vector but its meaning."""

    def __init__(self) -> None:
        self.capture, self.host, self.address = _Coded(), _Coded(), _Coded()
        self.pieces: list[tuple[int, int, int, dict[str, np.ndarray], list[str]]] = []

    def add(self, capture: str, host: str, address: str, columns: dict[str, np.ndarray]) -> None:
        meanings = list(map(_meaning, columns["address"].tolist(), columns["data"].tolist()))
        self.pieces.append((self.capture.code(capture), self.host.code(host), self.address.code(address), columns,
                            meanings))

    def __len__(self) -> int:
        return len(self.pieces)

    def truncate(self, n: int) -> None:
        del self.pieces[n:]

    def table(self) -> pa.Table:
        schema = SCHEMAS["msix_vectors"]
        if not self.pieces:
            return schema.empty_table()
        counts = np.array([len(p[3]["vector"]) for p in self.pieces], np.int64)

        def strings(coded: _Coded, at: int) -> pa.Array:
            codes = np.repeat(np.array([p[at] for p in self.pieces], np.int32), counts)
            return pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(coded.values, _S))

        def numbers(name: str, column: str) -> pa.Array:
            kind = schema.field(name).type
            dtype = {_I: np.int64, _U: np.uint64, _B: np.bool_}[kind]
            return pa.array(np.concatenate([p[3][column] for p in self.pieces]).astype(dtype, copy=False), kind)

        meaning = pa.array([m for p in self.pieces for m in p[4]], _S)
        cols = [strings(self.capture, 0), strings(self.host, 1), strings(self.address, 2), numbers("vector", "vector"),
                numbers("message_address", "address"), numbers("message_data", "data"), numbers("ctrl", "ctrl"),
                numbers("entry_masked", "entry_masked"), numbers("masked", "masked"),
                numbers("pending", "pending"), meaning]
        return pa.Table.from_arrays(cols, names=schema.names)


_ALL = (1 << 64) - 1
#: a function's decode: [(block key, block offset, register declarations, values)] and the columns of its
#: `functions` row that its config bytes alone decide (ids, names, capabilities)
_Decode = tuple[list[tuple[str, int, list, list[int | None]]], dict[str, Any]]
#: config bytes -> decode: kept for reuse by the functions of other hosts with the same bytes
_DECODED: dict[bytes, _Decode] = {}
_DECODED_MAX = 4096


def _decoded(fn: Function) -> _Decode:
    """`fn`'s decode, reused when a function with the same config bytes was decoded before.  Its registers,
    their conditions, the capability walk and the names read nothing but those bytes."""
    config = fn.config
    found = _DECODED.get(config)
    if found is None:
        header = fn.header
        blocks = [(header.layout.key, 0, header.registers())] if header.layout is not None else []
        blocks += [(cap.key, cap.offset, cap.registers()) for cap in fn.capabilities]
        found = ([(key, offset, [rv.decl for rv in regs], [rv.value for rv in regs]) for key, offset, regs in blocks],
                 _config_columns(fn))
        if len(_DECODED) >= _DECODED_MAX:
            _DECODED.clear()
        _DECODED[config] = found
    return found


def _config_columns(fn: Function) -> dict[str, Any]:
    """The columns of `fn`'s `functions` row that its config bytes decide."""
    header = fn.header
    names = function_names(fn)
    subsystem = header.layout is not None and header.layout.key == "header0"  # bridges have none
    return {"vendor_id": fn.vendor_id, "device_id": fn.device_id, "class": fn.class_code, "revision": fn.revision,
            "header_type": fn.header_type,
            "subsystem_vendor_id": header.get("PCI_SUBSYSTEM_VENDOR_ID") if subsystem else None,
            "subsystem_id": header.get("PCI_SUBSYSTEM_ID") if subsystem else None,
            "config_length": len(fn.config), "capabilities": [c.key for c in fn.capabilities],
            "vendor_name": names["vendor"], "device_name": names["device"], "class_name": names["class"]}


class _FieldRows:
    """The `fields` table in column form: one row per declared field (per register without fields).

    A block (header or capability) keeps its register values and a reference to its plan: what the
    declarations say of that sequence of registers (names, field bit ranges, offsets), worked out once
    per distinct sequence.  The field rows are spread out and their values extracted with numpy when
    the chunk is written, so a field costs nothing in Python."""

    def __init__(self) -> None:
        self.capture, self.host, self.address, self.capability = _Coded(), _Coded(), _Coded(), _Coded()
        self.register, self.field = _Coded(), _Coded()
        # one entry per register
        self.value: list[int | None] = []
        self.rel_offset: list[int] = []
        self.reg_code: list[int] = []
        # one entry per block
        self.block_codes: list[tuple[int, int, int, int]] = []  # capture, host, address, capability
        self.block_offset: list[int] = []
        self.block_first: list[int] = []  # index of its first register
        self.block_plan: list[int] = []
        #: per distinct register sequence: (register codes, register offsets, field codes, lows, masks,
        #: the register of each field row as an index from the block's first)
        self.plans: list[tuple[np.ndarray, ...]] = []
        self._plan_index: dict[tuple, int] = {}

    def _plan(self, decls: list) -> int:
        key = tuple(map(id, decls))  # declarations are module constants: their ids stay theirs
        at = self._plan_index.get(key)
        if at is None:
            fields, lows, masks, rel = [], [], [], []
            for i, d in enumerate(decls):
                ex = d.extractors or ((None, 0, _ALL),)  # a register without fields: one row, its whole value
                fields += [self.field.code(n) for n, _, _ in ex]
                lows += [lo for _, lo, _ in ex]
                masks += [m for _, _, m in ex]
                rel += [i] * len(ex)
            self.plans.append((np.array([self.register.code(d.name) for d in decls], np.int32),
                               np.array([d.offset for d in decls], np.int64), np.array(fields, np.int32),
                               np.array(lows, np.uint64), np.array(masks, np.uint64), np.array(rel, np.int64)))
            at = self._plan_index[key] = len(self.plans) - 1
        return at

    def add_function(self, capture: int, host: int, address: int, blocks: list) -> None:
        """The field rows of a function's header and capabilities, from its decode's blocks."""
        for key, offset, decls, values in blocks:
            self.block_codes.append((capture, host, address, self.capability.code(key)))
            self.block_offset.append(offset)
            self.block_first.append(len(self.value))
            self.block_plan.append(self._plan(decls))
            self.value.extend(values)

    def __len__(self) -> int:
        return len(self.block_plan)

    def truncate(self, n: int) -> None:
        """Forget the blocks from index `n` on."""
        if n < len(self.block_plan):
            del self.value[self.block_first[n]:]
        for col in (self.block_codes, self.block_offset, self.block_first, self.block_plan):
            del col[n:]

    def table(self) -> pa.Table:
        # every plan's field rows one after the other, then each block's rows picked out of them
        types = (np.int32, np.int64, np.int32, np.uint64, np.uint64, np.int64)
        per_plan = [(p[0][p[5]], p[1][p[5]], p[2], p[3], p[4], p[5]) for p in self.plans]
        reg_codes, rel_offsets, field_codes, lows, masks, rel = (
            np.concatenate([pp[i] for pp in per_plan]) if per_plan else np.zeros(0, t) for i, t in enumerate(types))
        sizes = np.array([len(p[2]) for p in self.plans], np.int64)
        starts = np.concatenate(([0], np.cumsum(sizes)[:-1])) if len(sizes) else sizes
        bplan = np.asarray(self.block_plan, np.int64)
        nfields = sizes[bplan] if len(bplan) else np.zeros(0, np.int64)
        block = np.repeat(np.arange(len(bplan)), nfields)  # the block of each field row
        first_row = np.concatenate(([0], np.cumsum(nfields)[:-1])) if len(nfields) else nfields
        row_in_block = np.arange(len(block)) - first_row[block]
        pick = starts[bplan][block] + row_in_block  # row within the plans' rows
        codes = np.asarray(self.block_codes, np.int32).reshape(-1, 4)  # per block
        # rows in the order of (capability, register, field) names, so a row group holds few names and a
        # query for some fields (degraded-links reads five of ~230) skips the others by their statistics.
        # Each column is then gathered once, in that order, from the per-block and per-plan-row arrays
        order = _order_by(_rank(self.capability, codes[:, 3])[block], _rank(self.register, reg_codes)[pick],
                          _rank(self.field, field_codes)[pick])
        block, pick, row_in_block = block[order], pick[order], row_in_block[order]
        reg = np.asarray(self.block_first, np.int64)[block] + rel[pick]  # index into self.value
        raw = pa.array(self.value, _U)
        nulls = np.asarray(raw.is_null(), bool)[reg]
        values = (np.asarray(raw.fill_null(0), np.uint64)[reg] >> lows[pick]) & masks[pick]
        cap_offset = np.asarray(self.block_offset, np.int64)[block]

        def strings(coded: _Coded, c: np.ndarray) -> pa.Array:
            # left dictionary-encoded: Parquet stores strings that way, and without the Arrow schema in
            # the file (see build._write_part) every reader reads them back as plain strings
            c = np.asarray(c, np.int32)
            return pa.DictionaryArray.from_arrays(pa.array(c, mask=c < 0), pa.array(coded.values, _S))

        slots = self._slots(block, row_in_block)
        cols = [strings(self.capture, codes[:, 0][block]), strings(self.host, codes[:, 1][block]),
                strings(self.address, codes[:, 2][block]), strings(self.capability, codes[:, 3][block]),
                pa.array(cap_offset, _I), strings(self.register, reg_codes[pick]),
                pa.array(cap_offset + rel_offsets[pick], _I), strings(self.field, field_codes[pick]),
                pa.array(values, _U, mask=nulls), pa.array(slots, _I)]
        return pa.Table.from_arrays(cols, names=SCHEMAS["fields"].names)

    def _slots(self, block: np.ndarray, row_in_block: np.ndarray) -> np.ndarray:
        """The `slot` of each field row (its block, its row within the block's plan), hashed once per
        distinct (address, capability, offset, plan) of the chunk: a few hundred, not 700,000."""
        if not len(block):
            return np.zeros(0, np.int64)
        codes = np.asarray(self.block_codes, np.int64).reshape(-1, 4)
        # a block's place as one number (offsets are below 4096, codes below the table sizes): sorting
        # one column is cheaper than np.unique's rows
        n_cap, n_plan = len(self.capability.values), len(self.plans)
        place = ((codes[:, 2] * n_cap + codes[:, 3]) * 4096 + np.asarray(self.block_offset, np.int64)) * n_plan \
            + np.asarray(self.block_plan, np.int64)
        distinct, which = np.unique(place, return_inverse=True)
        per_place = [self._place_slots(p // n_plan // 4096 // n_cap, p // n_plan // 4096 % n_cap,
                                       p // n_plan % 4096, p % n_plan) for p in distinct.tolist()]
        starts = np.cumsum([0] + [len(s) for s in per_place[:-1]])
        return np.concatenate(per_place)[starts[which[block]] + row_in_block]

    def _place_slots(self, address: int, capability: int, offset: int, plan: int) -> np.ndarray:
        reg_codes, reg_offsets, field_codes, _, _, rel = self.plans[plan]
        a, c = self.address.values[address], self.capability.values[capability]
        return np.array([slot(a, c, offset + int(reg_offsets[r]), self.register.values[reg_codes[r]],
                              self.field.values[f] if f >= 0 else None)
                         for r, f in zip(rel.tolist(), field_codes.tolist(), strict=True)], np.int64)


@functools.lru_cache(maxsize=65536)
def slot(address: str, capability: str, reg_offset: int, register: str, field: str | None) -> int:
    """A field's place as one integer (the `slot` column): the first 8 bytes of the BLAKE2b of its
    address, capability, register offset, register and field names, as a signed 64-bit number.  Two
    rows with the same slot are the same field of the same function, so differs-from compares hosts
    by two integer columns instead of five strings (2^-64 odds of two places sharing one)."""
    key = "\0".join((address, capability, str(reg_offset), register, field or "")).encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little", signed=True)


@functools.lru_cache(maxsize=65536)
def _meaning(address: int, data: int) -> str:
    """What a message means on x86; the same few messages recur on every host of a fleet."""
    return x86.describe(address, data)


def _order_by(*ranks: np.ndarray) -> np.ndarray:
    """The order of rows sorted by `ranks` (each from -1 up), first to last, ties in their order as they are.
    The ranks are folded into one int64 key for one stable sort: a third of what np.lexsort takes over
    four keys (names number in the hundreds, so the key stays far below 2^63)."""
    key = np.zeros(len(ranks[0]), np.int64)
    for r in ranks:
        key = key * (int(r.max(initial=-1)) + 2) + (r + 1)
    return np.argsort(key, kind="stable")


def _rank(coded: _Coded, codes: np.ndarray) -> np.ndarray:
    """Each code's place in the sorted order of the values (NULL, code -1, first)."""
    rank = np.empty(len(coded.values) + 1, np.int64)
    rank[np.argsort(np.array(coded.values + [""], dtype=object), kind="stable")] = np.arange(len(coded.values) + 1)
    rank[-1] = -1
    return rank[codes]


class Chunk:
    """The rows of a chunk of captures, for every table."""

    def __init__(self) -> None:
        self.fields = _FieldRows()
        self.vectors = _VectorRows()
        self.rows = {name: _Rows(schema) for name, schema in SCHEMAS.items() if name not in ("fields", "msix_vectors")}

    def add_source(self, src: Source, capture: str, host: str, input_kind: str, path: str, size: int) -> int:
        """Every table's rows for one opened source (a capture, dump or raw file); returns its number of
        functions.  On an error nothing of the source is kept."""
        marks = {name: len(rows) for name, rows in self.rows.items()}, len(self.fields), len(self.vectors)
        try:
            return self._add_source(src, capture, host, input_kind, path, size)
        except BaseException:
            for name, rows in self.rows.items():
                rows.truncate(marks[0][name])
            self.fields.truncate(marks[1])
            self.vectors.truncate(marks[2])
            raise

    def _add_source(self, src: Source, capture: str, host: str, input_kind: str, path: str, size: int) -> int:
        from ..doctor import diagnose

        meta: dict[str, Any] = dict(getattr(src, "metadata", {}) or {})
        notes = list(getattr(src, "annotations", ()) or ())
        seen = set()
        fns = []
        for fn in src.functions():
            if fn.address not in seen:  # a dump may list a function twice: keep the first, as capture does
                seen.add(fn.address)
                fns.append(fn)
        codes = (self.fields.capture.code(capture), self.fields.host.code(host))
        for fn in fns:
            self._add_function(fn, capture, host, codes)
        for f in diagnose(src):
            self.rows["findings"].add(capture=capture, host=host, address=f.device, check_id=f.check,
                                      severity=f.severity, location=f.where, message=f.message, rule=f.rule,
                                      fix=f.fix, byte_offset=f.offset, vector=f.vector)
        for a in notes:
            self.rows["annotations"].add(capture=capture, host=host, address=str(a.function), bar=a.bar,
                                         byte_offset=a.offset, length=a.length, field=a.field, text=a.text,
                                         author=a.author, time=a.time, tags=list(a.tags))
        self.rows["captures"].add(capture=capture, host=host, title=meta.get("title"), time=meta.get("time"),
                                  kernel=meta.get("kernel"), tool=meta.get("tool"),
                                  source_kind=meta.get("source_kind", src.kind), source=meta.get("source", src.name),
                                  input_kind=input_kind, path=path, size=size, functions=len(fns),
                                  annotations=len(notes))
        return len(fns)

    def _add_function(self, fn: Function, capture: str, host: str, codes: tuple[int, int]) -> None:
        address = str(fn.address)
        blocks, columns = _decoded(fn)
        self.fields.add_function(codes[0], codes[1], self.fields.address.code(address), blocks)
        msix = self._add_vectors(fn, capture, host, address)
        self._add_queues(fn, capture, host, address)
        kernel = fn.kernel
        self.rows["functions"].add(
            capture=capture, host=host, address=address, domain=fn.address.domain, bus=fn.address.bus,
            device=fn.address.device, function=fn.address.function, problems=len(fn.problems),
            driver=kernel.driver if kernel else None, **msix, **columns)

    def _add_vectors(self, fn: Function, capture: str, host: str, address: str) -> dict[str, Any]:
        """msix_vectors rows of `fn` (when its table was captured); its MSI-X columns of `functions`."""
        out: dict[str, Any] = {"msix_size": None, "msix_enabled": None, "msix_function_masked": None,
                               "msix_table_captured": None}
        model = fn.msix
        if model is None:
            return out
        try:
            r = model.regs()
        except PciError:
            return out  # the capability is cut short by the end of the config bytes
        out.update(msix_size=r.size, msix_enabled=r.enabled, msix_function_masked=r.function_masked,
                   msix_table_captured=False)
        try:
            c = model.columns()
        except PciError:
            return out  # a dump, or a capture without the table's BAR window: config space only
        self.vectors.add(capture, host, address, c)
        out["msix_table_captured"] = True
        return out

    def _add_queues(self, fn: Function, capture: str, host: str, address: str) -> None:
        """virtio_queues rows of a virtio function whose common configuration the capture holds."""
        if fn.virtio is None:
            return
        try:
            info = fn.virtio.to_dict()
        except PciError:
            return  # a dump, or a capture without the virtio windows: config space only
        for q in info.get("queues") or ():
            self.rows["virtio_queues"].add(
                capture=capture, host=host, address=address, device_type=info["device_type_name"],
                device_status=info["device_status"], queue=q["index"], size=q["size"], enable=q["enable"],
                msix_vector=q["msix_vector"], bound=q.get("bound"), message_address=q.get("address"),
                message_data=q.get("data"), masked=q.get("masked"), pending=q.get("pending"),
                meaning=q.get("meaning"))

    def tables(self) -> dict[str, pa.Table]:
        out = {name: rows.table() for name, rows in self.rows.items()}
        out["fields"], out["msix_vectors"] = self.fields.table(), self.vectors.table()
        return {name: out[name] for name in TABLES}

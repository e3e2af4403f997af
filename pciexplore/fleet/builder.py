"""Building a fleet dataset: inputs walked, each opened as a source and decoded once, rows written as
Parquet parts, one per table per chunk of captures.

    DATASET/fleet.json                      format and version
    DATASET/<table>/part-<digest>.parquet   one per chunk; <digest> names the captures it holds

Adding hosts adds parts and never rewrites one: a capture already in the dataset (same content, and
for dumps and raw files the same host name) is left as it is.  The parts of a chunk are written
table by table, `captures` last, each atomically (temporary name, then rename), so a capture listed
in `captures` has all its rows, and an interrupted build is finished by running it again.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import repeat
from multiprocessing import get_context
from pathlib import Path

from ..errors import InputError, PciError
from ..words import plural

FORMAT = "pciexplore-fleet"
VERSION = 2  # 2: fields has slot
MANIFEST = "fleet.json"
#: captures per part: bounds what a worker holds (about 700,000 field rows for 9-function captures)
CHUNK = 256
#: rows per Parquet row group: small enough that a query for a few fields skips most of a part
ROW_GROUP = 32768
#: the string columns whose row-group statistics (min, max) are written: those queries select by (a host;
#: the fields' names, by which a part's rows are sorted).  A string column's statistics cost as much to
#: write as its values; numbers' cost little and are all written
STRING_STATISTICS = frozenset({"host", "capability", "register", "field"})
MAX_INPUT_BYTES = 256 << 20  # the dump reader's own bound (captures are bounded lower by theirs)


@dataclass(frozen=True)
class Input:
    path: str
    capture: str  # id: digest of the content (and of the host name, where the name says the host)
    kind: str  # "capture", "dump" or "raw" as far as the first byte tells; the opener decides
    host: str | None  # from the file name for dumps and raw files; captures name their host inside
    size: int


@dataclass
class BuildReport:
    """What a build did: captures written, inputs skipped (and why), captures already there."""

    dataset: Path
    written: int = 0
    functions: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (input, reason)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (input, the input it repeats)
    present: int = 0  # already in the dataset
    parts: int = 0

    def __str__(self) -> str:
        extra = [f"{len(self.skipped)} skipped"] if self.skipped else []
        extra += [f"{self.present} already in the dataset"] if self.present else []
        extra += [plural(len(self.duplicates), "duplicate input")] if self.duplicates else []
        tail = f" ({', '.join(extra)})" if extra else ""
        return (f"{self.dataset}: {plural(self.written, 'capture')}, {plural(self.functions, 'function')} written in "
                f"{plural(self.parts, 'part')}{tail}")


def walk(inputs: Iterable[str | os.PathLike]) -> Iterator[str]:
    """Input files in order: files as given, folders walked (sorted, hidden names and symlinked folders
    skipped so a link cannot make a loop); each file once."""
    seen: set[str] = set()
    for item in inputs:
        p = os.fspath(item)
        if os.path.isdir(p):
            found = []
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found += [os.path.join(root, f) for f in sorted(files) if not f.startswith(".")]
            candidates = sorted(found)
        else:
            candidates = [p]
        for c in candidates:
            real = os.path.realpath(c)
            if real not in seen:
                seen.add(real)
                yield c


def identify(path: str) -> Input:
    """Read the file once to name it: its capture id, kind and (for dumps and raw files) host."""
    try:
        size = os.stat(path).st_size
        if size > MAX_INPUT_BYTES:
            raise InputError(f"{size} bytes, more than any capture, dump or raw config file", file=path)
        with open(path, "rb") as f:
            data = f.read(MAX_INPUT_BYTES + 1)
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", file=path) from None
    if not data.strip():
        raise InputError("empty file", file=path)
    digest = hashlib.sha256()
    kind = "capture" if data.lstrip()[:1] == b"{" else "file"
    host = None if kind == "capture" else Path(path).stem  # a dump says nothing of where it was taken
    if host is not None:
        digest.update(host.encode("utf-8", "surrogateescape") + b"\0")
    digest.update(data)
    return Input(path, digest.hexdigest()[:16], kind, host, len(data))


def existing_captures(dataset: Path) -> set[str]:
    """Capture ids already in a dataset (empty for a new one); refuses a folder that is not a dataset."""
    if not dataset.exists():
        return set()
    if not dataset.is_dir():
        raise InputError("exists and is not a folder: a fleet dataset is a folder", file=str(dataset))
    manifest = dataset / MANIFEST
    if not manifest.exists():
        if any(dataset.iterdir()):
            raise InputError(f"not a fleet dataset (no {MANIFEST}) and not empty: refusing to write into it",
                             file=str(dataset))
        return set()
    check_manifest(dataset)
    import pyarrow.parquet as pq

    ids: set[str] = set()
    for part in sorted((dataset / "captures").glob("*.parquet")):
        ids.update(pq.read_table(part, columns=["capture"]).column("capture").to_pylist())
    return ids


def check_manifest(dataset: Path) -> dict:
    """The dataset's fleet.json (format, version, tables), checked."""
    try:
        doc = json.loads((dataset / MANIFEST).read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"unreadable {MANIFEST}: {e}", file=str(dataset)) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(f"{MANIFEST} does not describe a {FORMAT} dataset", file=str(dataset))
    if doc.get("version") != VERSION:
        raise InputError(f"fleet dataset version {doc.get('version')!r}; this pciexplore reads version {VERSION}",
                         file=str(dataset))
    return doc


def _write_manifest(dataset: Path) -> None:
    from ..capture.atomic import write_atomic
    from .tables import TABLES

    dataset.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        (dataset / name).mkdir(exist_ok=True)
    path = dataset / MANIFEST
    if not path.exists():
        doc = {"format": FORMAT, "version": VERSION, "tables": list(TABLES)}
        write_atomic(path, (json.dumps(doc, indent=1) + "\n").encode())


def build(output: str | os.PathLike, inputs: Iterable[str | os.PathLike], *, jobs: int | None = None,
          chunk: int = CHUNK, on_skip: Callable[[str, str], None] | None = None) -> BuildReport:
    """Decode `inputs` (captures, lspci dumps, raw config files, folders of them) into the dataset at
    `output`, created or added to.  A bad input is skipped, reported through `on_skip(path, reason)`
    and counted in the report; the others go on.  `jobs` worker processes (default: the CPUs, at most
    the chunks); 1 decodes in this process."""
    dataset = Path(output)
    known = existing_captures(dataset)
    report = BuildReport(dataset)

    def skip(path: str, reason: str) -> None:
        report.skipped.append((path, reason))
        if on_skip is not None:
            on_skip(path, reason)

    paths = list(walk(inputs))
    _write_manifest(dataset)
    chunks = _new_chunks(paths, chunk, known, report, skip)
    jobs = max(1, min(jobs or os.cpu_count() or 1, -(-len(paths) // chunk)))
    if jobs == 1:
        results: Iterable[_ChunkResult] = (build_chunk(dataset, c) for c in chunks)
        _collect(results, report, skip)
    else:
        # spawned, not forked: the caller may hold threads (DuckDB, a Jupyter kernel) a fork would copy.
        # map submits each chunk as soon as it is identified, so the workers decode while this process
        # reads and hashes the next inputs
        with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
            _collect(pool.map(build_chunk, repeat(dataset), chunks), report, skip)
    return report


def _new_chunks(paths: list[str], chunk: int, known: set[str], report: BuildReport,
                skip: Callable[[str, str], None]) -> Iterator[list[Input]]:
    """The inputs not yet in the dataset, identified in order, `chunk` at a time; unreadable inputs are
    skipped, inputs already there or repeated counted in `report`."""
    todo: list[Input] = []
    first: dict[str, str] = {}
    for path in paths:
        try:
            item = identify(path)
        except PciError as e:
            skip(path, e.message)
            continue
        if item.capture in known:
            report.present += 1
        elif item.capture in first:
            report.duplicates.append((path, first[item.capture]))
        else:
            first[item.capture] = path
            todo.append(item)
            if len(todo) == chunk:
                yield todo
                todo = []
    if todo:
        yield todo


def _collect(results: Iterable[_ChunkResult], report: BuildReport, skip: Callable[[str, str], None]) -> None:
    for r in results:
        report.written += r.written
        report.functions += r.functions
        report.parts += r.parts
        for path, reason in r.skipped:
            skip(path, reason)


@dataclass
class _ChunkResult:
    written: int
    functions: int
    parts: int
    skipped: list[tuple[str, str]]


@contextmanager
def _heap_frozen() -> Iterator[None]:
    """Leave what is alive now (modules, declarations, caches) out of the cyclic collector's passes while
    a chunk is decoded: each full pass walks all of it again (bench/RESULTS.md: -1.4% instructions).
    Garbage is collected first and the objects are handed back after, so a caller's heap is not kept."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def build_chunk(dataset: Path, items: list[Input]) -> _ChunkResult:
    """Decode one chunk of inputs and write its parts (runs in a worker process)."""
    with _heap_frozen():
        return _build_chunk(dataset, items)


def _build_chunk(dataset: Path, items: list[Input]) -> _ChunkResult:
    from .. import open_source
    from .tables import TABLES, Chunk

    rows = Chunk()
    skipped: list[tuple[str, str]] = []
    done: list[str] = []
    functions = 0
    for item in items:
        try:
            with open_source(item.path) as src:
                host = item.host or str(getattr(src, "metadata", {}).get("host") or Path(item.path).stem)
                if not src.functions():
                    raise InputError("no PCI functions in it", file=item.path)
                functions += rows.add_source(src, item.capture, host, src.kind, item.path, item.size)
                done.append(item.capture)
        except PciError as e:
            skipped.append((item.path, e.message if e.file == item.path else str(e)))
        except Exception as e:  # a decoder bug must not stop a fleet of thousands; it is reported as such
            skipped.append((item.path, f"internal error {type(e).__name__}: {e} (please report it)"))
    if not done:
        return _ChunkResult(0, 0, 0, skipped)
    name = "part-" + hashlib.sha256(" ".join(done).encode()).hexdigest()[:16] + ".parquet"
    tables = rows.tables()
    for table in [t for t in TABLES if t != "captures"] + ["captures"]:
        _write_part(dataset / table / name, tables[table])
    return _ChunkResult(len(done), functions, 1, skipped)


def _write_part(path: Path, table) -> None:
    import pyarrow.parquet as pq

    tmp = path.with_name(f".{path.name}.tmp")
    # no Arrow schema in the file: the dictionary-encoded string columns read back as plain strings
    pq.write_table(table, tmp, compression="zstd", store_schema=False, row_group_size=ROW_GROUP,
                   write_statistics=_with_statistics(table.schema))
    os.replace(tmp, path)


def _with_statistics(schema) -> list[str]:
    """The columns of `schema` written with statistics: every number and flag, the strings in STRING_STATISTICS."""
    import pyarrow as pa

    def is_string(t) -> bool:
        return pa.types.is_string(t) or pa.types.is_dictionary(t) or pa.types.is_list(t)

    return [f.name for f in schema if not is_string(f.type) or f.name in STRING_STATISTICS]

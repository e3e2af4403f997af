"""Many captures as one dataset: Parquet tables (captures, functions, fields, msix_vectors, findings,
annotations) queried with DuckDB, readable as they are by Dask, Spark or DuckDB elsewhere.

    from pciexplore import fleet
    report = fleet.build("fleet/", ["captures/"])     # streaming: one chunk of captures held at a time
    f = fleet.open("fleet/")
    f.ask("degraded-links"); f.sql("SELECT ..."); f.functions   # DataFrames; f.con is DuckDB

Tables and columns: docs/fleet.md.  Needs the `fleet` extra (pyarrow, duckdb).
"""

from __future__ import annotations

from .builder import BuildReport, build
from .dataset import Fleet, question_names, question_sql
from .dataset import open_fleet as open  # noqa: A001 - fleet.open(DATASET), like pciexplore.open

__all__ = ["BuildReport", "Fleet", "build", "open", "question_names", "question_sql"]

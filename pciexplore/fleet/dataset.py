"""A fleet dataset opened for questions: DuckDB views over the Parquet parts, DataFrames, named questions.

    fleet = pciexplore.fleet.open("fleet/")
    fleet.functions                      # a pandas DataFrame (numbers as nullable integers)
    fleet.sql("SELECT host, count(*) FROM findings GROUP BY host")
    fleet.ask("degraded-links")          # a named question: pciexplore/fleet/questions/degraded-links.sql
    fleet.con                            # the DuckDB connection itself
"""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from .builder import MANIFEST, check_manifest

if TYPE_CHECKING:
    import duckdb
    import pandas

#: the latest capture of each host (by capture time, then id): what the named questions look at
LATEST = """CREATE VIEW latest AS SELECT * FROM captures
QUALIFY row_number() OVER (PARTITION BY host ORDER BY time DESC NULLS LAST, capture) = 1"""


def question_names() -> list[str]:
    """The named questions shipped with the kit (pciexplore/fleet/questions/*.sql)."""
    return sorted(p.name[:-4] for p in resources.files(__package__).joinpath("questions").iterdir()
                  if p.name.endswith(".sql"))


def question_sql(name: str) -> str:
    if name not in question_names():
        raise InputError(f"no named question {name!r}; known: {', '.join(question_names())}")
    return resources.files(__package__).joinpath("questions", f"{name}.sql").read_text()


def question_parameters(sql: str) -> list[str]:
    """The $names a question's SQL takes (differs-from takes $golden)."""
    return sorted(set(re.findall(r"\$([a-z_]+)", re.sub(r"--[^\n]*", "", sql))))


class Fleet:
    """The tables of one dataset as DuckDB views (and DataFrames on request)."""

    def __init__(self, path: str | os.PathLike) -> None:
        import duckdb

        self.path = Path(path)
        if not (self.path / MANIFEST).is_file():
            raise InputError(f"not a fleet dataset (no {MANIFEST}; make one with `pciexplore fleet build`)",
                             file=str(self.path))
        #: the tables the dataset was built with (its manifest says, so opening needs no pyarrow)
        self.tables: list[str] = [t for t in check_manifest(self.path).get("tables", []) if t.isidentifier()]
        self.con: duckdb.DuckDBPyConnection = duckdb.connect()
        self.con.execute("SET enable_progress_bar = false")  # a query's answer, not a bar on the terminal
        for name in self.tables:
            folder = self.path / name
            if any(folder.glob("*.parquet")):
                glob = str(folder / "*.parquet").replace("'", "''")
                self.con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{glob}')")
            else:  # no part yet (every input was bad): the same columns, no rows
                from .tables import SCHEMAS

                self.con.register(f"_empty_{name}", SCHEMAS[name].empty_table())
                self.con.execute(f"CREATE VIEW {name} AS SELECT * FROM _empty_{name}")
        self.con.execute(LATEST)

    def sql(self, query: str, params: dict[str, Any] | None = None) -> pandas.DataFrame:
        """The answer to `query` (DuckDB SQL over the tables) as a DataFrame."""
        import duckdb

        try:
            return self.con.execute(query, params or None).df()
        except duckdb.Error as e:
            raise InputError(f"query failed: {str(e).splitlines()[0]}", file=str(self.path)) from None

    def rows(self, query: str, params: dict[str, Any] | None = None) -> tuple[list[str], list[tuple]]:
        """The answer to `query` as (column names, rows of Python values): integers stay integers."""
        import duckdb

        try:
            cur = self.con.execute(query, params or None)
            return [d[0] for d in cur.description], cur.fetchall()
        except duckdb.Error as e:
            raise InputError(f"query failed: {str(e).splitlines()[0]}", file=str(self.path)) from None

    def require_host(self, host: str) -> None:
        """InputError unless the dataset has a capture of `host` (a misspelt golden host would make
        every function of every host look different)."""
        if not self.con.execute("SELECT 1 FROM captures WHERE host = ? LIMIT 1", [host]).fetchone():
            raise InputError(f"no capture of host {host!r} in the dataset", file=str(self.path))

    def ask(self, name: str, **params: Any) -> pandas.DataFrame:
        """A named question (`question_names()`); differs-from needs golden="HOST"."""
        sql = question_sql(name)
        wanted = question_parameters(sql)
        missing = [p for p in wanted if p not in params]
        if missing:
            raise InputError(f"question {name} needs {', '.join(missing)}")
        if "golden" in wanted:
            self.require_host(params["golden"])
        return self.sql(sql, {k: params[k] for k in wanted})

    def table(self, name: str) -> pandas.DataFrame:
        if name not in self.tables:
            raise InputError(f"no table {name!r}; tables: {', '.join(self.tables)}")
        return self.sql(f"SELECT * FROM {name}")

    def __getattr__(self, name: str) -> pandas.DataFrame:
        # fleet.captures, fleet.functions, ...: the whole table as a DataFrame
        if name in ("captures", "functions", "fields", "msix_vectors", "findings", "annotations"):
            return self.table(name)
        raise AttributeError(name)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        n = self.con.execute("SELECT count(*), count(DISTINCT host) FROM captures").fetchone()
        return f"<Fleet {str(self.path)!r}: {n[0]} captures of {n[1]} hosts>"


def open_fleet(path: str | os.PathLike) -> Fleet:
    """Open a dataset `pciexplore fleet build` made."""
    return Fleet(path)

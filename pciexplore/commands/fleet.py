"""`pciexplore fleet build|query`: many captures as one Parquet dataset, asked questions with DuckDB.

    pciexplore fleet build -o fleet/ captures/ dumps/*.lspci     # created or added to
    pciexplore fleet query fleet/ "SELECT host, count(*) FROM findings GROUP BY host" [--json|--csv]
    pciexplore fleet query fleet/ --ask degraded-links           # a named question (--sql shows it)
    pciexplore fleet query fleet/ --ask differs-from host-00000
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any

from ..errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fleet", help="many captures as a Parquet dataset; questions over it with DuckDB")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    b = verbs.add_parser("build", help="decode captures, lspci dumps, raw config files (or folders of them)")
    b.add_argument("-o", "--output", required=True, metavar="DATASET", help="dataset folder (created or added to)")
    b.add_argument("-j", "--jobs", type=int, default=None, help="worker processes (default: one per CPU)")
    b.add_argument("inputs", nargs="+", metavar="INPUT", help="capture, dump or raw file, or a folder (walked)")
    b.set_defaults(run=run_build)
    q = verbs.add_parser("query", help="DuckDB SQL over the tables, or a named question (--ask)")
    q.add_argument("dataset", metavar="DATASET")
    q.add_argument("sql", nargs="?", metavar="SQL", help="a query over captures, functions, fields, msix_vectors, "
                   "findings, annotations (and latest: each host's newest capture)")
    q.add_argument("--ask", nargs="+", metavar=("QUESTION", "HOST"),
                   help="a named question: degraded-links, function-mask-set, masked-vectors, differs-from GOLDEN")
    q.add_argument("--sql", dest="show_sql", action="store_true", help="print the named question's SQL, do not run it")
    fmt = q.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="rows as a JSON list of objects")
    fmt.add_argument("--csv", action="store_true", help="rows as CSV with a header line")
    q.set_defaults(run=run_query)
    p.set_defaults(run=lambda args: (p.print_help(), 2)[1])


def run_build(args: argparse.Namespace) -> int:
    from ..fleet import build

    def skipped(path: str, reason: str) -> None:
        print(f"pciexplore: skipped {path}: {reason}", file=sys.stderr)

    report = build(args.output, args.inputs, jobs=args.jobs, on_skip=skipped)
    print(report)
    # skipped inputs are reported and the rest is built; only a build that kept nothing at all fails
    return 1 if report.skipped and not (report.written or report.present) else 0


def _question(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    from ..fleet.dataset import question_names, question_parameters, question_sql

    if args.ask is None:
        if args.sql is None:
            raise InputError("give a SQL query or --ask QUESTION (" + ", ".join(question_names()) + ")")
        return args.sql, {}
    if args.sql is not None:
        raise InputError("give either a SQL query or --ask, not both")
    name, *values = args.ask
    sql = question_sql(name)
    wanted = question_parameters(sql)
    if len(values) != len(wanted):
        need = " ".join(w.upper() for w in wanted) or "nothing more"
        raise InputError(f"--ask {name} takes {need}")
    return sql, dict(zip(wanted, values, strict=True))


def run_query(args: argparse.Namespace) -> int:
    from ..fleet import open as open_fleet

    sql, params = _question(args)
    if args.show_sql:
        sys.stdout.write(sql)
        return 0
    with open_fleet(args.dataset) as fleet:
        if "golden" in params:
            fleet.require_host(params["golden"])
        columns, rows = fleet.rows(sql, params)
    if args.json:
        json.dump([dict(zip(columns, r, strict=True)) for r in rows], sys.stdout, indent=1, default=str, ensure_ascii=False)
        sys.stdout.write("\n")
    elif args.csv:
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(columns)
        w.writerows([_cell(v) for v in r] for r in rows)
    else:
        sys.stdout.write(_text_table(columns, rows))
    return 0


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, (list, tuple)):
        return " ".join(_cell(x) for x in v)
    return str(v)


def _text_table(columns: list[str], rows: list[tuple]) -> str:
    cells = [[_cell(v) for v in r] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines) + "\n"

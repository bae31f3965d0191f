"""The DuckDB baseline of `mianshen screen`: bench/duckdb_screen.sql run over a Parquet data drop.

    .venv/bin/python bench/duckdb_screen.py DROP OUTDIR [--threads N] [--memory-limit 4GB] [--json]

Writes ``OUTDIR/decisions.csv`` and ``OUTDIR/decisions.parquet`` (contracts §2.2; the CSV is byte-identical to
``mianshen screen``'s, see tests/bench/test_duckdb_baseline.py) and prints the time of each step of the SQL file
and the validation summary (rows rejected per table, warnings). The policy is fixed: beijing-2021 at as-of
2021-07-01, written out in the SQL.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

SQL_FILE = Path(__file__).with_name("duckdb_screen.sql")
STEP_MARK = "-- @step "
POLICY = "beijing-2021"
AS_OF = "2021-07-01"


@dataclass
class BaselineResult:
    steps: dict[str, float] = field(default_factory=dict)  # seconds per step of the SQL file
    summary: dict[str, Any] = field(default_factory=dict)  # the `summary` step's one row
    # (table, line, codes) of every rejected row
    rejected: list[tuple[str, int, str]] = field(default_factory=list)
    seconds: float = 0.0  # connect + every step

    def as_json(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "steps": self.steps, "summary": self.summary}


def sql_steps(drop: Path, out: Path) -> list[tuple[str, str]]:
    """The named steps of the SQL file, with the drop and output paths filled in."""
    text = SQL_FILE.read_text(encoding="utf-8")
    steps: list[tuple[str, str]] = []
    name: str | None = None
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith(STEP_MARK):
            if name is not None:
                steps.append((name, "\n".join(lines)))
            name, lines = line[len(STEP_MARK) :].strip(), []
        elif name is not None:
            lines.append(line)
    if name is not None:
        steps.append((name, "\n".join(lines)))
    fill = {"{drop}": _sql_path(drop), "{out}": _sql_path(out)}
    filled = []
    for step, body in steps:
        body = _csv_files(_part_folders(body, drop), drop)
        for key, value in fill.items():
            body = body.replace(key, value)
        filled.append((step, body))
    return filled


def _part_folders(body: str, drop: Path) -> str:
    """A table that is a folder of Parquet parts (contracts §1) is read from its parts, its rows numbered across
    them in part-name order (the order mianshen reads them in, so "the first row of a repeated key" agrees)."""
    for folder in sorted(p for p in drop.iterdir() if p.is_dir()) if drop.is_dir() else []:
        single = f"read_parquet('{{drop}}/{folder.name}.parquet', file_row_number = true)"
        parts = (
            f"(SELECT * EXCLUDE (file_row_number, filename), "
            f"row_number() OVER (ORDER BY filename, file_row_number) - 1 AS file_row_number "
            f"FROM read_parquet('{{drop}}/{folder.name}/[!._]*.parquet', file_row_number = true, filename = true))"
        )
        body = body.replace(single, parts)
    return body


def _csv_files(body: str, drop: Path) -> str:
    """A table written as CSV (``X.csv``) is read as text, its records numbered in file order (a clean drop's
    records are one line each, after the header: line = row number + 2, as for Parquet). The checks cast the
    text as they cast Parquet's values."""
    for file in sorted(drop.glob("*.csv")) if drop.is_dir() else []:
        single = f"read_parquet('{{drop}}/{file.stem}.parquet', file_row_number = true)"
        text = (
            f"(SELECT *, row_number() OVER () - 1 AS file_row_number "
            f"FROM read_csv('{{drop}}/{file.name}', header = true, all_varchar = true))"
        )
        body = body.replace(single, text)
    return body


def _sql_path(path: Path) -> str:
    """A path for inside a single-quoted SQL string literal."""
    return str(path.resolve()).replace("'", "''")


def run_baseline(
    drop: Path, out: Path, *, threads: int | None = None, memory_limit: str | None = None
) -> BaselineResult:
    """Run the SQL baseline: read and check ``drop``, write the decisions into ``out`` (created if missing)."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    result = BaselineResult()
    con = duckdb.connect(":memory:")
    try:
        if threads is not None:
            con.execute(f"SET threads = {int(threads)}")
        if memory_limit is not None:
            con.execute("SET memory_limit = ?", [memory_limit])
        for name, body in sql_steps(drop, out):
            t0 = time.perf_counter()
            cursor = con.execute(body)
            if name == "rejected":
                result.rejected = [(str(t), int(line), str(codes)) for t, line, codes in cursor.fetchall()]
            elif name == "summary":
                columns = [d[0] for d in cursor.description or []]
                row = cursor.fetchone()
                result.summary = dict(zip(columns, row or (), strict=False))
            result.steps[name] = time.perf_counter() - t0
    finally:
        con.close()
    result.seconds = time.perf_counter() - started
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("drop", type=Path, help="a Parquet data drop")
    parser.add_argument("out", type=Path, help="output directory (created when missing)")
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all cores)")
    parser.add_argument("--memory-limit", default=None, help="DuckDB memory_limit, e.g. 4GB")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    args = parser.parse_args(argv)
    result = run_baseline(args.drop, args.out, threads=args.threads, memory_limit=args.memory_limit)
    if args.json:
        print(json.dumps(result.as_json()))
    else:
        for name, seconds in result.steps.items():
            print(f"{name:<28} {seconds:8.3f} s")
        print(f"{'total':<28} {result.seconds:8.3f} s")
        for key, value in result.summary.items():
            print(f"{key:<34} {value}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

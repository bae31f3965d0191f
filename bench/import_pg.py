"""Benchmark `mianshen import` of a 500,000-unit drop into PostgreSQL (design.md §4: <= 60 s).

    .venv/bin/python bench/import_pg.py                              # 500k units, Parquet, 1 run
    .venv/bin/python bench/import_pg.py --units 100k --format csv --runs 3 --record

Each run: a scratch database (``createdb -h 127.0.0.1 -U postgres mianshen_bench_import``, dropped first if a
previous run left it), ``mianshen migrate`` into it, then one subprocess that times, separately, what
``mianshen import DROP`` does: ``validate_drop(DROP)`` and ``snapshot_import(drop=..., extracted_on=2021-07-01)``
(every accepted row, rejected row and problem, COPY in one transaction). The database is dropped afterwards,
also when the run fails. Peak RSS is the import process's ``ru_maxrss``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl

HOST, USER, PORT = "127.0.0.1", "postgres", 5432
DATABASE = "mianshen_bench_import"
URL = f"postgresql://{USER}@{HOST}:{PORT}/{DATABASE}"
TARGET_S = 60.0
EXTRACTED_ON = date(2021, 7, 1)


def child(path: Path, variant: str) -> None:
    """validate + import, timed separately (runs with MIANSHEN_DATABASE_URL set to the scratch database).

    Each bulk write (``frame_insert``) is timed; what the import spends outside them is mostly the COMMIT,
    where PostgreSQL runs the deferred foreign-key checks (Django creates foreign keys DEFERRABLE INITIALLY
    DEFERRED: one queued check per row). Variant ``immediate`` sets the constraints IMMEDIATE at the start of
    the import's transaction (an experiment: the code does not do this)."""
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mianshen.settings")
    django.setup()
    from django.db import connection

    from mianshen.datadrop.validate import validate_drop
    from mianshen.registry import services

    writes: list[tuple[str, int, float]] = []
    insert = services.frame_insert

    def timed_insert(*, table: str, df: Any, **kwargs: Any) -> int:
        if variant == "immediate" and not writes:
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        t0 = time.perf_counter()
        rows = insert(table=table, df=df, **kwargs)
        writes.append((table, rows, time.perf_counter() - t0))
        return rows

    services.frame_insert = timed_insert
    started = time.perf_counter()
    drop = validate_drop(path)
    validated = time.perf_counter()
    result = services.snapshot_import(drop=drop, extracted_on=EXTRACTED_ON)
    imported = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        size = cursor.fetchone()[0]
    print(
        json.dumps(
            {
                "validate_s": validated - started,
                "import_s": imported - validated,
                "work_s": imported - started,
                "created": result.created,
                "rows_accepted": result.snapshot.rows_accepted,
                "rows_rejected": result.snapshot.rows_rejected,
                "db_bytes": size,
                "writes": writes,
                "outside_writes_s": (imported - validated) - sum(w[2] for w in writes),
            }
        )
    )


def _pg(*args: str) -> None:
    subprocess.run(
        [*args, "-h", HOST, "-p", str(PORT), "-U", USER, DATABASE], check=True, capture_output=True
    )


# Variant no-fk: the row tables' foreign keys to registry_snapshot dropped after migrating (what
# ``ForeignKey(db_constraint=False)`` would give); an experiment to size the cost of the per-row checks.
DROP_ROW_FKS = """
DO $$
DECLARE c record;
BEGIN
  FOR c IN SELECT conrelid::regclass AS tbl, conname FROM pg_constraint
           WHERE contype = 'f' AND confrelid = 'registry_snapshot'::regclass LOOP
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.tbl, c.conname);
  END LOOP;
END $$;
"""
# Variant no-fk-lean: no-fk, and the single-column snapshot_id indexes dropped where another index starts with
# snapshot_id (``db_index=False`` on those foreign keys; the composite index serves the same lookups).
DROP_REDUNDANT_INDEXES = """
DO $$
DECLARE i record;
BEGIN
  FOR i IN SELECT ix.indexrelid::regclass AS idx FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid
           WHERE t.relname LIKE 'registry%' AND ix.indnatts = 1 AND NOT ix.indisprimary AND NOT ix.indisunique
             AND (SELECT attname FROM pg_attribute WHERE attrelid = t.oid AND attnum = ix.indkey[0]) = 'snapshot_id'
             AND EXISTS (SELECT 1 FROM pg_index o WHERE o.indrelid = ix.indrelid AND o.indexrelid <> ix.indexrelid
                         AND o.indnatts > 1 AND o.indkey[0] = ix.indkey[0]) LOOP
    EXECUTE format('DROP INDEX %s', i.idx);
  END LOOP;
END $$;
"""
VARIANTS = ("as-is", "immediate", "no-fk", "no-fk-lean")


def one_run(path: Path, cap: int, variant: str = "as-is") -> dict[str, Any]:
    env = {"MIANSHEN_DATABASE_URL": URL}
    _pg("dropdb", "--if-exists")
    _pg("createdb")
    try:
        migrate = bl.run_measured(
            [str(bl.ROOT / ".venv" / "bin" / "mianshen"), "migrate", "--verbosity", "0"], env=env
        )
        if not migrate.ok:
            raise RuntimeError(f"mianshen migrate failed: {migrate.stderr.strip()[-800:]}")
        for sql in (
            DROP_ROW_FKS if variant.startswith("no-fk") else None,
            DROP_REDUNDANT_INDEXES if variant == "no-fk-lean" else None,
        ):
            if sql is None:
                continue
            subprocess.run(
                [
                    "psql",
                    "-h",
                    HOST,
                    "-p",
                    str(PORT),
                    "-U",
                    USER,
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-c",
                    sql,
                    DATABASE,
                ],
                check=True,
                capture_output=True,
            )
        argv = [bl.PYTHON, str(Path(__file__).resolve()), "--child", str(path), "--variant", variant]
        measured = bl.run_measured(argv, env=env, rss_cap_bytes=cap)
    finally:
        _pg("dropdb", "--if-exists")
    return {"migrate_s": migrate.wall_s, "measured": measured, "variant": variant}


def markdown(units: int, fmt: str, runs: list[dict[str, Any]], info: dict[str, Any], command: str) -> str:
    lines = [
        f"### import into PostgreSQL ({info['date_utc']})",
        "",
        f"- machine: {bl.machine_line(info)}",
        f"- command: `{command}`",
        f"- PostgreSQL {_server_version()} on {HOST}:{PORT} (scratch database {DATABASE}, dropped after)",
    ]
    ok_all = [r["measured"] for r in runs if r["measured"].ok]
    if ok_all:
        last = ok_all[-1].result
        rows = ", ".join(f"{k} {v:,}" for k, v in last.get("rows_accepted", {}).items())
        lines.append(f"- rows: {rows}; database size after import {last.get('db_bytes', 0) / bl.GiB:.2f} GiB")
    lines += [
        "",
        "| units | format | variant | runs | validate | import | of which bulk writes | of which outside them "
        "(COMMIT: deferred FK checks) | validate + import | process | peak RSS | load at start (1 min) | "
        "target <= 60 s |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for variant in dict.fromkeys(r["variant"] for r in runs):
        mine = [r for r in runs if r["variant"] == variant]
        ok = [r["measured"] for r in mine if r["measured"].ok]
        total = bl.median([m.result["work_s"] for m in ok])
        verdict = ("met" if total <= TARGET_S else "**missed**") if variant == "as-is" else "(experiment)"
        writes = bl.median([sum(w[2] for w in m.result["writes"]) for m in ok])
        loads = ", ".join(f"{r['measured'].load_before[0]:.2f}" for r in mine)
        lines.append(
            f"| {units:,} | {fmt} | {variant} | {len(ok)}/{len(mine)} | "
            f"{bl.median([m.result['validate_s'] for m in ok]):.1f} s | "
            f"{bl.median([m.result['import_s'] for m in ok]):.1f} s | {writes:.1f} s | "
            f"{bl.median([m.result['outside_writes_s'] for m in ok]):.1f} s | {total:.1f} s | "
            f"{bl.median([m.wall_s for m in ok]):.1f} s | "
            f"{max((r['measured'].max_rss_gib for r in mine), default=0):.2f} GiB | "
            f"{loads} | {verdict} |"
        )
    if ok_all:
        lines += ["", "Bulk writes of the last run (table, rows, seconds; empty writes left out):", ""]
        lines += ["| table | rows | seconds |", "|---|---:|---:|"]
        for table, rows_written, seconds in ok_all[-1].result["writes"]:
            if rows_written:
                lines.append(f"| {table} | {rows_written:,} | {seconds:.1f} |")
    return "\n".join(lines)


def _server_version() -> str:
    try:
        out = subprocess.run(
            ["psql", "-h", HOST, "-p", str(PORT), "-U", USER, "-tAc", "SHOW server_version", "postgres"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def run(units: int, fmt: str, runs: int, record: bool, variants: list[str]) -> int:
    info = bl.machine()
    cap = bl.rss_cap()
    print(bl.machine_line(info), file=sys.stderr)
    path = bl.ensure_drop(units, fmt)
    done = []
    for i in range(runs):
        for variant in variants:
            r = one_run(path, cap, variant)
            m = r["measured"]
            done.append(r)
            print(
                f"  import {units:,} {fmt} {variant} run {i + 1}/{runs}: validate {m.result.get('validate_s', float('nan')):.1f} s"
                f"  import {m.result.get('import_s', float('nan')):.1f} s  peak RSS {m.max_rss_gib:.2f} GiB"
                f"  load {m.load_before[0]:.2f}" + ("" if m.ok else f"  FAILED: {m.stderr.strip()[-1500:]}"),
                file=sys.stderr,
                flush=True,
            )
    text = markdown(units, fmt, done, info, bl.command_line())
    print(text)
    bl.save_raw(
        "import_pg",
        {
            "machine": info,
            "command": bl.command_line(),
            "runs": [
                {"variant": r["variant"], "migrate_s": r["migrate_s"], **r["measured"].as_json()}
                for r in done
            ],
        },
    )
    if record:
        bl.append_results(text)
    return 0 if all(r["measured"].ok for r in done) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=bl.parse_units, default=500_000, help="units (default 500k)")
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet", help="drop format")
    parser.add_argument("--runs", type=int, default=1, help="runs (default 1)")
    parser.add_argument("--record", action="store_true", help="append the table to bench/RESULTS.md")
    parser.add_argument(
        "--variants",
        default="as-is",
        help="comma separated: as-is (the code as it is), immediate (FK checks IMMEDIATE), no-fk (row tables' "
        "foreign keys dropped), no-fk-lean (and redundant snapshot_id indexes dropped); all but as-is are experiments",
    )
    parser.add_argument("--child", metavar="DROP", help=argparse.SUPPRESS)
    parser.add_argument("--variant", default="as-is", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(Path(args.child), args.variant)
        return 0
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variant(s): {', '.join(sorted(unknown))}")
    return run(args.units, args.format, args.runs, args.record, variants)


if __name__ == "__main__":
    sys.exit(main())

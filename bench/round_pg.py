"""Benchmark: a persisted screening round over a 500,000-unit snapshot on PostgreSQL (target ≤ 90 s).

Creates a scratch database, imports the drop (not timed here: see import_pg.py), then times
1. ``round_run``: read the snapshot back (COPY TO), evaluate, write every decision with its evidence (COPY);
2. ``case_apply_round``: open one case per unit, with its history row and audit event.
Prints the timings; ``--record`` appends them to bench/RESULTS.md. The scratch database is dropped after.

    .venv/bin/python bench/round_pg.py [--units 500000] [--record]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
DB = "mianshen_bench_round"
URL = f"postgresql://postgres@127.0.0.1:5432/{DB}"


def _psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", sql], check=True)


def _drop_dir(units: int) -> Path:
    path = HERE / "out" / f"drop-parquet-{units}"
    if not (path / "units.parquet").exists():
        from mianshen.datadrop.generate import generate

        generate(units=units, seed=1, out=path, fmt="parquet")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=500_000)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()

    _psql(f"DROP DATABASE IF EXISTS {DB}")
    _psql(f"CREATE DATABASE {DB}")
    os.environ["MIANSHEN_DATABASE_URL"] = URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mianshen.settings")
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from mianshen.cases.services import case_apply_round
        from mianshen.datadrop.validate import validate_drop
        from mianshen.registry.services import snapshot_import
        from mianshen.screening.models import Checkpoint
        from mianshen.screening.services import round_run, round_start

        drop = _drop_dir(args.units)
        snap = snapshot_import(drop=validate_drop(drop), extracted_on=date(2021, 7, 1)).snapshot
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        rnd = round_start(
            policy_id="beijing-2021", snapshot=snap, actor="bench", checkpoint=Checkpoint.INITIAL
        )
        rnd = round_run(round_id=rnd.pk)
        t_round = time.perf_counter() - t0
        t1 = time.perf_counter()
        applied = case_apply_round(round=rnd, actor="bench")
        t_cases = time.perf_counter() - t1
    finally:
        from django.db import connections

        connections.close_all()
        _psql(f"DROP DATABASE IF EXISTS {DB}")
    lines = [
        f"### Persisted round on PostgreSQL — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"machine: {platform.machine()}, {os.cpu_count()} cores, load {load:.2f} at start; "
        f"command: `.venv/bin/python bench/round_pg.py --units {args.units}`",
        "",
        "| step | units | seconds | target |",
        "|---|---:|---:|---|",
        f"| round (read snapshot, evaluate, write decisions + evidence) | {args.units:,} | {t_round:.1f} | ≤ 90 s |",
        f"| open cases (history + audit event each) | {applied.opened:,} | {t_cases:.1f} | – |",
        "",
    ]
    print("\n".join(lines))
    if args.record:
        with (HERE / "RESULTS.md").open("a", encoding="utf-8") as f:
            f.write("\n" + "\n".join(lines))


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent / "src"))
    main()

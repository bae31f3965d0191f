"""The job-expansion family at scale: `mianshen generate --job-expansion` and `mianshen screen --policy
job-expansion-2022` (validation as it reads, the engine, decisions.csv + .parquet), each its own measured
subprocess (benchlib.run_measured: wall, CPU, peak RSS, load before).

    .venv/bin/python bench/job_expansion.py                 # 100k and 1M units
    .venv/bin/python bench/job_expansion.py --sizes 100k --record

Drops go to bench/out/jobexp-<units>/ (git-ignored), regenerated every run (the generation is measured).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib

MIANSHEN = [sys.executable, "-m", "mianshen"]


def _row(what: str, units: int, m: benchlib.Measured) -> str:
    load = f"{m.load_before[0]:.2f}"
    cpu = m.user_s + m.sys_s
    status = "ok" if m.ok else f"FAILED ({m.returncode})"
    return f"| {what} | {units:,} | {m.wall_s:.1f} | {cpu:.1f} | {m.max_rss_gib:.2f} | {load} | {status} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100k,1M", help="unit counts, e.g. 100k,1M")
    parser.add_argument("--record", action="store_true", help="append the result table to RESULTS.md")
    args = parser.parse_args()
    info = benchlib.machine()
    rows = []
    for units in benchlib.parse_sizes(args.sizes):
        drop = benchlib.OUT_DIR / f"jobexp-{units}"
        shutil.rmtree(drop, ignore_errors=True)
        gen = benchlib.run_measured(
            [
                *MIANSHEN,
                "generate",
                "--units",
                str(units),
                "--seed",
                "1",
                "--out",
                str(drop),
                "--format",
                "parquet",
                "--job-expansion",
                "--no-progress",
            ],
            rss_cap_bytes=benchlib.rss_cap(),
        )
        rows.append(_row("generate --job-expansion (all tables, Parquet)", units, gen))
        print(rows[-1], gen.stdout.strip()[-300:], gen.stderr.strip()[-300:], sep="\n", flush=True)
        if not gen.ok:
            break
        screen = benchlib.run_measured(
            [
                *MIANSHEN,
                "screen",
                "--policy",
                "job-expansion-2022",
                "--data",
                str(drop),
                "--as-of",
                "2022-12-31",
                "--out",
                str(drop / "out"),
                "--quiet",
            ],
            rss_cap_bytes=benchlib.rss_cap(),
        )
        rows.append(_row("screen --policy job-expansion-2022", units, screen))
        print(rows[-1], screen.stdout.strip()[-400:], screen.stderr.strip()[-300:], sep="\n", flush=True)
    table = "\n".join(
        [
            f"### job-expansion family: generate and screen ({info['date_utc']})",
            "",
            f"- machine: {benchlib.machine_line(info)}",
            f"- command: `{benchlib.command_line()}`",
            "",
            "| step | units | wall s | CPU s | peak RSS GiB | load (1 min) at start | status |",
            "|---|---:|---:|---:|---:|---:|---|",
            *rows,
            "",
        ]
    )
    print(table)
    if args.record:
        benchlib.append_results(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

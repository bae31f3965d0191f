"""Benchmark `mianshen generate` and `mianshen validate` on 1,000,000 units, CSV and Parquet (design.md §4).

    .venv/bin/python bench/generate_validate.py                 # 1M units, csv and parquet, 1 run each
    .venv/bin/python bench/generate_validate.py --units 200k --formats parquet --runs 3 --record

Per format: ``generate(units=N, seed=1, out=bench/out/drop-<fmt>-<N>, fmt=...)`` (what ``mianshen generate``
runs), then ``validate_drop(DROP)`` over every file of the drop (what ``mianshen validate`` runs; the report is
not written). Each step is one subprocess: ``work`` is the wall time of the call itself (after imports),
``process`` the child's whole wall time; peak RSS is the child's ``ru_maxrss``. The generated drop stays in
bench/out/ for the other benchmarks. Targets: generate 1M units <= 120 s; validate 1M units well under a minute.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl

FORMATS = ("csv", "parquet")
TARGETS = {"generate": 120.0, "validate": 60.0}


def child(step: str, units: int, fmt: str, path: Path) -> None:
    """One measured step, in its own process: imports first, then the timed call; one JSON line on stdout."""
    extra: dict[str, Any] = {}
    if step == "generate":
        from mianshen.datadrop.generate import generate

        started = time.perf_counter()
        extra["rows"] = generate(units=units, seed=bl.SEED, out=path, fmt=fmt)
    else:
        from mianshen.datadrop.validate import validate_drop

        started = time.perf_counter()
        drop = validate_drop(path)
        extra.update(
            rows={name: frame.height for name, frame in drop.tables.items()},
            rejected=drop.rejected_rows,
            errors=drop.error_count,
            warnings=drop.warning_count,
        )
    print(json.dumps({"step": step, "work_s": time.perf_counter() - started, **extra}))


def measure(step: str, units: int, fmt: str, cap: int) -> bl.Measured:
    path = bl.drop_dir(units, fmt)
    argv = [bl.PYTHON, str(Path(__file__).resolve()), "--child", step, str(units), fmt, str(path)]
    measured = bl.run_measured(argv, rss_cap_bytes=cap)
    if step == "generate" and measured.ok:  # the fresh drop is the cached drop of the other benchmarks
        marker = {"units": units, "seed": bl.SEED, "format": fmt, "seconds": measured.result.get("work_s")}
        path.with_suffix(".json").write_text(json.dumps(marker))
    return measured


def markdown(rows: list[dict[str, Any]], info: dict[str, Any], command: str) -> str:
    lines = [
        f"### generate and validate ({info['date_utc']})",
        "",
        f"- machine: {bl.machine_line(info)}",
        f"- command: `{command}`",
        "",
        "| step | units | format | runs | work (median) | all runs | process (median) | CPU user+sys | "
        "peak RSS | load at start (1 min) | target | rows |",
        "|---|---:|---|---:|---:|---|---:|---:|---:|---|---|---|",
    ]
    for r in rows:
        ok = [m for m in r["measured"] if m.ok]
        work = [m.result.get("work_s", float("nan")) for m in ok]
        med = bl.median(work)
        target = TARGETS[r["step"]]
        verdict = "met" if med <= target else "**missed**"
        counts = ok[-1].result.get("rows", {}) if ok else {}
        rows_text = ", ".join(f"{k} {v:,}" for k, v in counts.items())
        if r["step"] == "validate" and ok:
            rows_text += f"; rejected {ok[-1].result.get('rejected', 0):,}"
        failed = [m for m in r["measured"] if not m.ok]
        runs = f"{len(ok)}/{len(r['measured'])}" + (
            f" ({'; '.join('memory cap' if m.killed_for_memory else f'exit {m.returncode}' for m in failed)})"
            if failed
            else ""
        )
        lines.append(
            f"| {r['step']} | {r['units']:,} | {r['fmt']} | {runs} | {med:.1f} s | "
            f"{', '.join(f'{x:.1f}' for x in work)} | {bl.median([m.wall_s for m in ok]):.1f} s | "
            f"{bl.median([m.user_s + m.sys_s for m in ok]):.1f} s | "
            f"{max((m.max_rss_gib for m in r['measured']), default=0):.2f} GiB | "
            f"{', '.join(f'{m.load_before[0]:.2f}' for m in r['measured'])} | <= {target:.0f} s: {verdict} | "
            f"{rows_text} |"
        )
    return "\n".join(lines)


def run(units: int, formats: list[str], runs: int, record: bool) -> int:
    info = bl.machine()
    cap = bl.rss_cap()
    print(bl.machine_line(info), file=sys.stderr)
    rows: list[dict[str, Any]] = []
    for fmt in formats:
        for step in ("generate", "validate"):
            measured = []
            for i in range(runs):
                m = measure(step, units, fmt, cap)
                measured.append(m)
                print(
                    f"  {step:<9} {fmt:<8} run {i + 1}/{runs}: work {m.result.get('work_s', float('nan')):7.1f} s"
                    f"  process {m.wall_s:7.1f} s  peak RSS {m.max_rss_gib:5.2f} GiB  load {m.load_before[0]:.2f}"
                    + ("" if m.ok else f"  FAILED: {m.stderr.strip()[-800:]}"),
                    file=sys.stderr,
                    flush=True,
                )
            rows.append({"step": step, "units": units, "fmt": fmt, "measured": measured})
    text = markdown(rows, info, bl.command_line())
    print(text)
    bl.save_raw(
        "generate_validate",
        {
            "machine": info,
            "command": bl.command_line(),
            "rows": [{**r, "measured": [m.as_json() for m in r["measured"]]} for r in rows],
        },
    )
    if record:
        bl.append_results(text)
    return 0 if all(m.ok for r in rows for m in r["measured"]) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=bl.parse_units, default=1_000_000, help="units (default 1M)")
    parser.add_argument("--formats", default="csv,parquet", help="comma separated: csv, parquet")
    parser.add_argument("--runs", type=int, default=1, help="runs of each step (default 1)")
    parser.add_argument("--record", action="store_true", help="append the table to bench/RESULTS.md")
    parser.add_argument("--child", nargs=4, metavar=("STEP", "UNITS", "FMT", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        step, units, fmt, path = args.child
        child(step, int(units), fmt, Path(path))
        return 0
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = set(formats) - set(FORMATS)
    if unknown:
        parser.error(f"unknown format(s): {', '.join(sorted(unknown))}")
    return run(args.units, formats, args.runs, args.record)


if __name__ == "__main__":
    sys.exit(main())

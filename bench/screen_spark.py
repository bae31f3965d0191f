"""Benchmark `mianshen screen --engine spark` (local mode) beside `--engine polars` and the DuckDB peer, in one run.

    .venv/bin/python bench/screen_spark.py                                  # 1M units, generator and parts layouts
    .venv/bin/python bench/screen_spark.py --units 100000 --layouts parts --record

Each implementation runs in its own subprocess, one after the other, on the same drop (bench/screen.py's
``layout_drop``: ``generator`` = one Parquet file per table as ``mianshen generate`` writes it; ``parts`` = the
rows shuffled by DuckDB into folders of Parquet parts). polars and duckdb are bench/screen.py's children. The
Spark child separates what Spark costs before any work:

- ``session``: the JVM start (``SparkSession`` in local mode, ``local[*]``);
- ``warm-up``: the engine on a 200-unit drop (the Python workers start and import Polars and mianshen);
- ``work``: ``mianshen screen --engine spark`` on the drop, file in → decisions out, validation included.

Peak memory: for polars and duckdb the child's peak RSS; for Spark the peak of the sum of the RSS of the whole
process tree (driver, JVM, Python workers), sampled every 0.2 s. Decisions are compared byte for byte.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl
import screen as sb

OUT = bl.OUT_DIR / "screen-spark-out"


def _tree_rss(root: int) -> int:
    """The resident memory of ``root`` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += bl._rss_bytes(pid)
        todo.extend(children.get(pid, []))
    return total


def spark_child(drop: Path, out: Path) -> None:
    """One measured Spark run (in a subprocess): session, warm-up, then the timed command; one JSON line."""
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss(os.getpid()))
            time.sleep(0.2)

    threading.Thread(target=sample, daemon=True).start()
    sb.setup_django()
    from django.core.management import call_command

    from mianshen.screening import spark

    started = time.perf_counter()
    session = spark.spark_session(None)
    session_s = time.perf_counter() - started
    warm = bl.ensure_drop(200, "parquet")
    started = time.perf_counter()
    argv = ["--policy", sb.POLICY, "--as-of", sb.AS_OF.isoformat(), "--engine", "spark"]
    call_command("screen", *argv, "--data", str(warm), "--out", str(OUT / "warmup"))
    warmup_s = time.perf_counter() - started
    started = time.perf_counter()
    call_command("screen", *argv, "--data", str(drop), "--out", str(out))
    work = time.perf_counter() - started
    done.set()
    cores = int(session.sparkContext.defaultParallelism)
    session.stop()
    print(
        json.dumps(
            {
                "impl": "spark",
                "work_s": work,
                "session_s": session_s,
                "warmup_s": warmup_s,
                "tree_peak_rss": peak[0],
                "cores": cores,
            }
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=bl.parse_units, default=1_000_000)
    parser.add_argument("--layouts", default="generator,parts")
    parser.add_argument(
        "--impls", default="polars,duckdb,spark", help="which to run (default all three, in this order)"
    )
    parser.add_argument("--record", action="store_true", help="append the table to bench/RESULTS.md")
    parser.add_argument("--child", nargs=2, metavar=("DROP", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        spark_child(Path(args.child[0]), Path(args.child[1]))
        return 0
    info = bl.machine()
    cap = bl.rss_cap()
    rows = []
    for layout in args.layouts.split(","):
        drop = sb.layout_drop(args.units, layout)
        outs = {impl: OUT / f"{impl}-{layout}-{args.units}" for impl in ("polars", "duckdb", "spark")}
        measured: dict[str, bl.Measured] = {}
        for impl in args.impls.split(","):
            if impl == "spark":
                child = [bl.PYTHON, str(Path(__file__).resolve()), "--child", str(drop), str(outs[impl])]
                m = bl.run_measured(child, rss_cap_bytes=cap)
            else:
                m = sb.measure("mianshen" if impl == "polars" else impl, drop, outs[impl], cap)
            measured[impl] = m
            print(
                f"  {args.units:,} {layout} {impl}: work {m.result.get('work_s', float('nan')):.2f} s, "
                f"process {m.wall_s:.2f} s, load {m.load_before[0]:.2f}, {'ok' if m.ok else m.stderr[-1500:]}",
                file=sys.stderr,
                flush=True,
            )
        have = all(measured[i].ok for i in measured) and (outs["polars"] / "decisions.csv").exists()
        same = have and filecmp.cmp(
            outs["polars"] / "decisions.csv", outs["spark"] / "decisions.csv", shallow=False
        )
        rows.append((layout, measured, same))
    md = markdown(args.units, rows, info, cap)
    print(md)
    if args.record:
        bl.append_results(md)
        bl.save_raw(
            f"screen_spark-{args.units}",
            {
                "info": info,
                "runs": [{"layout": lay, **{i: m.as_json() for i, m in ms.items()}} for lay, ms, _ in rows],
            },
        )
    return 0


def markdown(
    units: int, rows: list[tuple[str, dict[str, bl.Measured], bool]], info: dict[str, Any], cap: int
) -> str:
    lines = [
        f"### screen --engine spark (local mode) beside --engine polars and DuckDB ({info['date_utc']})",
        "",
        f"- machine: {bl.machine_line(info)}",
        f"- command: `{bl.command_line()}`",
        "- spark: PySpark "
        + _version("pyspark")
        + ", `local[*]`, default buckets (4 per core), driver memory 2g; `session` = JVM start, `warm-up` = "
        "the engine on a 200-unit drop (Python workers start), `work` = the command on the drop; peak RSS of "
        "the whole process tree (driver + JVM + Python workers); its CPU column is the driver process alone",
        f"- memory cap per run: {cap / bl.GiB:.1f} GiB (watchdog)",
        "",
        "| units | layout | impl | work | session (JVM) | warm-up | process | CPU user+sys | peak RSS | load at start (1 min) | CSV identical to polars |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for layout, measured, same in rows:
        for impl, m in measured.items():
            r = m.result
            work = f"{r['work_s']:.2f} s" if m.ok and "work_s" in r else ("failed" if not m.ok else "")
            rss = r.get("tree_peak_rss", m.max_rss_bytes) / bl.GiB
            extra = (
                (f"{r.get('session_s', 0):.2f} s", f"{r.get('warmup_s', 0):.2f} s")
                if impl == "spark"
                else ("", "")
            )
            ident = ("yes" if same else "NO") if impl == "spark" and m.ok else ""
            lines.append(
                f"| {units:,} | {layout} | {impl} | {work} | {extra[0]} | {extra[1]} | {m.wall_s:.2f} s | "
                f"{m.user_s + m.sys_s:.2f} s | {rss:.2f} GiB | {m.load_before[0]:.2f} | {ident} |"
            )
    return "\n".join(lines) + "\n"


def _version(name: str) -> str:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:
        return "?"


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark `mianshen screen` against the same rule as hand-tuned SQL in DuckDB (design.md §4).

    .venv/bin/python bench/screen.py                        # 100k and 1M (3 runs each), 5M (1 run)
    .venv/bin/python bench/screen.py --sizes 1000000 --runs 5 --record
    .venv/bin/python bench/screen.py --profile 1000000      # where mianshen's time goes, phase by phase
    .venv/bin/python bench/screen.py --sizes 1000000 --layouts generator,shuffled,parts --record

Layouts (``--layouts``, default ``generator``): ``generator`` is the drop as ``mianshen generate`` writes it
(units in ascending order, one row group per batch); ``shuffled`` is that drop rewritten by DuckDB with every
table's rows in random order and 64k-row groups; ``rowgroups`` is the generator's drop in its own order rewritten
by DuckDB with 122,880-row groups; ``parts`` is the shuffled drop rewritten by DuckDB as a folder of Parquet parts
per table (``FILE_SIZE_BYTES 32MB``, 122,880-row groups; contracts §1); ``csv`` is ``mianshen generate --format
csv`` (the DuckDB peer reads the CSV files as text). The derived drops are written by another tool than ours, as
a real extract would be.

For each size, a Parquet drop (seed 1) is generated once into bench/out/ and reused. Each run is one
subprocess per implementation, interleaved (mianshen, duckdb, then duckdb, mianshen, ...) so that both see the
same machine load:

- **mianshen**: the code path of ``mianshen screen --policy beijing-2021 --data DROP --as-of 2021-07-01
  --out OUT``, in-process: the management command through ``call_command`` when it is installed, otherwise the
  functions it is made of (``resolve``, ``validate_drop`` over the tables screen reads, ``engine.screen``,
  ``output.write_decisions``). File in, decisions.csv + decisions.parquet out, validation included.
- **duckdb**: bench/duckdb_screen.sql through bench/duckdb_screen.py (same files in and out, its own validation).

Reported per run: ``work`` = the wall time of the work inside the child (after imports: the number to compare),
``process`` = the child's whole wall time (interpreter start and imports included), CPU time, peak RSS
(``ru_maxrss`` of the child, from ``os.wait4``), the load average when it started; per size the medians and the
ratio mianshen/duckdb of the median work times, and whether both decisions.csv are byte-identical.
A child whose resident memory passes the cap (85 % of the memory available at start, at most 20 GiB) is
killed and reported as such.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl

POLICY = "beijing-2021"
AS_OF = date(2021, 7, 1)
# What screen reads (bank_accounts is not needed to screen; contracts §2).
SCREEN_TABLES = (
    "units",
    "headcount",
    "separations",
    "contributions",
    "credit_flags",
    "dispatch_confirmations",
)
IMPLS = ("mianshen", "duckdb")
# ``mianshen-whole``: the command with MIANSHEN_SCREEN_BUCKETS=1 (the drop read whole, as before the buckets);
# ``mianshen`` is the command as it is run, its buckets chosen from the drop's size (screening/local.py)
# ``mianshen-buckets``: the command with MIANSHEN_SCREEN_BUCKETS=--buckets (cut into that many buckets whatever
# the size)
ALL_IMPLS = ("mianshen", "mianshen-whole", "mianshen-buckets", "duckdb")
FORCED_BUCKETS: list[int] = [4]  # --buckets
BUCKET_VARIABLE = "MIANSHEN_SCREEN_BUCKETS"
DEFAULT_SIZES = (100_000, 1_000_000, 5_000_000)
LAYOUTS = ("generator", "shuffled", "rowgroups", "parts", "genparts", "csv")
GENPARTS = 20  # ``genparts``: the drop as ``mianshen generate --parts 20`` writes it (issue 14 item 3)
ALL_TABLES = (*SCREEN_TABLES, "bank_accounts")


def layout_drop(units: int, layout: str) -> Path:
    """The drop of ``units`` units in ``layout`` (see the module's docstring), derived once and reused."""
    if layout == "genparts":
        return generated_parts(units)
    if layout == "csv":
        return bl.ensure_drop(units, "csv")
    source = bl.ensure_drop(units, "parquet")
    if layout == "generator":
        return source
    import duckdb

    path = bl.OUT_DIR / f"drop-{layout}-{units}"
    marker = path.with_suffix(".json")
    if marker.exists() and path.is_dir():
        return path
    print(
        f"writing the {layout} layout of {units:,} units into {path} (DuckDB) ...",
        file=sys.stderr,
        flush=True,
    )
    import shutil

    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    con = duckdb.connect()
    con.execute(f"SET preserve_insertion_order = {'true' if layout == 'rowgroups' else 'false'}")
    for table in ALL_TABLES:
        src = (source / f"{table}.parquet").as_posix().replace("'", "''")
        con.execute("SELECT setseed(0.2026)")
        rows = f"SELECT * FROM read_parquet('{src}') ORDER BY random()"  # every row on its own
        if layout == "rowgroups":  # the generator's order, in the row groups other writers use
            target = (path / f"{table}.parquet").as_posix().replace("'", "''")
            con.execute(
                f"COPY (SELECT * FROM read_parquet('{src}')) TO '{target}' (FORMAT parquet, ROW_GROUP_SIZE 122880)"
            )
        elif layout == "shuffled":
            target = (path / f"{table}.parquet").as_posix().replace("'", "''")
            con.execute(f"COPY ({rows}) TO '{target}' (FORMAT parquet, ROW_GROUP_SIZE 65536)")
        else:
            target = (path / table).as_posix().replace("'", "''")
            con.execute(
                f"COPY ({rows}) TO '{target}' (FORMAT parquet, FILE_SIZE_BYTES '32MB', ROW_GROUP_SIZE 122880)"
            )
    con.close()
    marker.write_text(json.dumps({"units": units, "layout": layout}))
    return path


SCREEN_OUT = bl.OUT_DIR / "screen-out"
GENPARTS_DIRS: list[Path] = []  # --genparts-dir: where drop-<units> folders were generated beforehand


def generated_parts(units: int) -> Path:
    """``mianshen generate --units N --format parquet --parts 20`` (seed 1), from ``--genparts-dir`` when it
    holds ``drop-<units>``, else generated once under bench/out/."""
    for folder in GENPARTS_DIRS:
        if (folder / f"drop-{units}" / "units").is_dir():
            return folder / f"drop-{units}"
    path = bl.OUT_DIR / f"drop-genparts-{units}"
    marker = path.with_suffix(".json")
    if marker.exists() and path.is_dir():
        return path
    import shutil
    import subprocess

    shutil.rmtree(path, ignore_errors=True)
    print(f"generating {units:,} units in {GENPARTS} parts into {path} ...", file=sys.stderr, flush=True)
    argv = [str(Path(bl.PYTHON).with_name("mianshen")), "generate", "--units", str(units), "--seed", "1"]
    argv += ["--out", str(path), "--format", "parquet", "--parts", str(GENPARTS), "--no-progress"]
    subprocess.run(argv, check=True, cwd=bl.ROOT)
    marker.write_text(json.dumps({"units": units, "layout": "genparts"}))
    return path


# --- the two implementations, in-process ------------------------------------------------------------------


def has_screen_command() -> bool:
    return any(_module_exists(f"mianshen.{app}.management.commands.screen") for app in ("cli", "core"))


def _module_exists(name: str) -> bool:
    """Whether ``name`` can be imported (the commands moved from core/ to cli/ in issue 10)."""
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def setup_django() -> None:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mianshen.settings")
    django.setup()


def mianshen_screen(drop: Path, out: Path, *, force_pipeline: bool = False) -> str:
    """Screen ``drop`` into ``out`` the way ``mianshen screen`` does; return which code path ran."""
    if has_screen_command() and not force_pipeline:
        from django.core.management import call_command

        argv = ["--policy", POLICY, "--data", str(drop), "--as-of", AS_OF.isoformat(), "--out", str(out)]
        try:
            call_command("screen", *argv)
        except SystemExit as exc:  # a command may exit with its status
            if exc.code not in (0, None):
                raise RuntimeError(f"mianshen screen exited with {exc.code}") from exc
        return "command"
    screen_pipeline(drop, out)
    return "pipeline"


def screen_pipeline(drop: Path, out: Path) -> None:
    """The functions ``mianshen screen`` is made of, in its order (used when the command is not installed)."""
    from mianshen.datadrop.validate import validate_drop
    from mianshen.policy.engine import screen
    from mianshen.policy.output import write_decisions
    from mianshen.policy.parameters import resolve

    params = resolve(POLICY, AS_OF)
    validated = validate_drop(drop, tables=SCREEN_TABLES)
    write_decisions(screen(validated.tables, params, AS_OF), out)


def duckdb_screen(drop: Path, out: Path, memory_limit: str | None = None) -> dict[str, Any]:
    from duckdb_screen import run_baseline

    result = run_baseline(drop, out, memory_limit=memory_limit)
    return {"steps": result.steps, "summary": result.summary}


def child(impl: str, drop: Path, out: Path) -> None:
    """One measured run (in a subprocess): imports first, then the timed work; one JSON line on stdout."""
    import os

    extra: dict[str, Any] = {}
    if impl.startswith("mianshen"):
        if impl == "mianshen-whole":
            os.environ[BUCKET_VARIABLE] = "1"
        elif impl == "mianshen-buckets":
            os.environ[BUCKET_VARIABLE] = os.environ.get("BENCH_BUCKETS", "4")
        setup_django()
        import logging

        import mianshen.datadrop.validate
        import mianshen.policy.engine
        import mianshen.policy.output
        import mianshen.screening.local  # noqa: F401

        steps: list[str] = []

        class Steps(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                steps.append(record.getMessage())

        logger = logging.getLogger("mianshen.screening.local")
        logger.setLevel(logging.INFO)
        logger.addHandler(Steps())
        started = time.perf_counter()
        extra["path"] = mianshen_screen(drop, out)
        extra["bucket_steps"] = steps
    else:
        import duckdb  # noqa: F401

        started = time.perf_counter()
        extra.update(duckdb_screen(drop, out, os.environ.get("BENCH_DUCKDB_MEMORY_LIMIT") or None))
    work = time.perf_counter() - started
    print(json.dumps({"impl": impl, "work_s": work, **extra}, default=str))


# --- the comparison ---------------------------------------------------------------------------------------


DUCKDB_MEMORY_LIMIT: list[str] = []  # --duckdb-memory-limit


def measure(impl: str, drop: Path, out: Path, cap: int) -> bl.Measured:
    argv = [bl.PYTHON, str(Path(__file__).resolve()), "--child", impl, str(drop), str(out)]
    env = {"BENCH_DUCKDB_MEMORY_LIMIT": DUCKDB_MEMORY_LIMIT[0]} if DUCKDB_MEMORY_LIMIT else {}
    env["BENCH_BUCKETS"] = str(FORCED_BUCKETS[0])
    return bl.run_measured(argv, rss_cap_bytes=cap, env=env)


def compare_size(
    units: int, runs: int, cap: int, layout: str = "generator", impls: tuple[str, ...] = IMPLS
) -> dict[str, Any]:
    drop = layout_drop(units, layout)
    outs = {impl: SCREEN_OUT / f"{impl}-{layout}-{units}" for impl in impls}
    measured: dict[str, list[bl.Measured]] = {impl: [] for impl in impls}
    for run in range(runs):
        order = impls if run % 2 == 0 else tuple(reversed(impls))
        for impl in order:
            m = measure(impl, drop, outs[impl], cap)
            measured[impl].append(m)
            status = (
                "ok" if m.ok else ("killed (memory cap)" if m.killed_for_memory else f"exit {m.returncode}")
            )
            print(
                f"  {units:>9,} {layout:<9} {impl:<14} run {run + 1}/{runs}: work {m.result.get('work_s', float('nan')):7.2f} s"
                f"  process {m.wall_s:7.2f} s  peak RSS {m.max_rss_gib:5.2f} GiB"
                f"  load {m.load_before[0]:.2f}  {status}",
                file=sys.stderr,
                flush=True,
            )
            for step in m.result.get("bucket_steps") or []:
                print(f"      {step}", file=sys.stderr)
            if not m.ok:
                print(m.stderr.strip()[-1500:], file=sys.stderr)
    identical = None  # every implementation's decisions.csv byte-identical to the first's
    csvs = [outs[impl] / "decisions.csv" for impl in impls]
    if all(all(m.ok for m in measured[impl]) for impl in impls) and all(p.exists() for p in csvs):
        identical = all(filecmp.cmp(csvs[0], other, shallow=False) for other in csvs[1:])
    return {"units": units, "layout": layout, "runs": runs, "drop": str(drop), "measured": measured,
            "identical": identical}  # fmt: skip


def summarise(size: dict[str, Any]) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for impl, runs in size["measured"].items():
        ok = [m for m in runs if m.ok]
        rows[impl] = {
            "ok": len(ok),
            "failed": [
                "killed at the memory cap" if m.killed_for_memory else f"exit {m.returncode}"
                for m in runs
                if not m.ok
            ],
            "work_s": bl.median([m.result["work_s"] for m in ok if "work_s" in m.result]),
            "work_all": [round(m.result.get("work_s", float("nan")), 2) for m in ok],
            "process_s": bl.median([m.wall_s for m in ok]),
            "cpu_s": bl.median([m.user_s + m.sys_s for m in ok]),
            "peak_rss_gib": max((m.max_rss_gib for m in runs), default=float("nan")),
            "load": [round(m.load_before[0], 2) for m in runs],
            "path": next((m.result.get("path") for m in ok if m.result.get("path")), ""),
            "steps": next((m.result.get("bucket_steps") for m in ok if m.result.get("bucket_steps")), []),
        }
    m, d = rows.get("mianshen", {}), rows.get("duckdb", {})
    for impl, row in rows.items():
        if impl.startswith("mianshen") and d.get("work_s"):
            row["ratio"] = row["work_s"] / d["work_s"]
    ratio = m.get("work_s", float("nan")) / d["work_s"] if d.get("work_s") else float("nan")
    return {
        "units": size["units"],
        "layout": size.get("layout", "generator"),
        "runs": size["runs"],
        "rows": rows,
        "ratio": ratio,
        "identical": size["identical"],
    }


def markdown(summaries: list[dict[str, Any]], info: dict[str, Any], command: str, cap: int) -> str:
    lines = [
        f"### screen: mianshen vs DuckDB ({info['date_utc']})",
        "",
        f"- machine: {bl.machine_line(info)}",
        f"- command: `{command}`",
        f"- memory cap per run: {cap / bl.GiB:.1f} GiB (watchdog)",
        "",
        "| units | layout | impl | runs | work (median) | all runs | process (median) | CPU user+sys | peak RSS | "
        "load at start (1 min) | mianshen/duckdb | CSV identical |",
        "|---:|---|---|---:|---:|---|---:|---:|---:|---|---:|---|",
    ]
    steps: list[str] = []
    for s in summaries:
        for impl in s["rows"]:
            r = s["rows"][impl]
            if r.get("steps"):
                steps.append(f"- {s['units']:,} {s['layout']}, {impl} (first run): " + "; ".join(r["steps"]))
            fails = f" ({'; '.join(r['failed'])})" if r["failed"] else ""
            path = f" ({r['path']})" if r["path"] else ""
            lines.append(
                f"| {s['units']:,} | {s['layout']} | {impl}{path} | {r['ok']}/{s['runs']}{fails} | {r['work_s']:.2f} s | "
                f"{', '.join(f'{x:.2f}' for x in r['work_all'])} | {r['process_s']:.2f} s | {r['cpu_s']:.2f} s | "
                f"{r['peak_rss_gib']:.2f} GiB | {', '.join(f'{x:.2f}' for x in r['load'])} | "
                + (f"{r['ratio']:.2f}" if "ratio" in r else "")
                + " | "
                + (
                    {True: "yes", False: "**NO**", None: "n/a"}[s["identical"]]
                    if impl == next(iter(s["rows"]))
                    else ""
                )
                + " |"
            )
    if steps:
        lines += [
            "",
            "Where the bucketed run's time goes (wall, per step of screening/local.py):",
            "",
            *steps,
        ]
    return "\n".join(lines)


def run_comparison(
    sizes: list[int],
    runs: int | None,
    record: bool,
    layouts: tuple[str, ...] = ("generator",),
    impls: tuple[str, ...] = IMPLS,
    cap_gib: float | None = None,
) -> int:
    info = bl.machine()
    cap = bl.rss_cap() if cap_gib is None else min(bl.rss_cap(), int(cap_gib * bl.GiB))
    print(bl.machine_line(info), file=sys.stderr)
    sizes_done = []
    for units in sizes:
        n = runs if runs is not None else (1 if units >= 5_000_000 else 3)
        for layout in layouts:
            sizes_done.append(compare_size(units, n, cap, layout, impls))
    summaries = [summarise(s) for s in sizes_done]
    text = markdown(summaries, info, bl.command_line(), cap)
    print(text)
    raw = {
        "machine": info,
        "command": bl.command_line(),
        "cap_bytes": cap,
        "summaries": summaries,
        "runs": [
            {
                "units": s["units"],
                "layout": s["layout"],
                "measured": {k: [m.as_json() for m in v] for k, v in s["measured"].items()},
            }
            for s in sizes_done
        ],
    }
    path = bl.save_raw("screen", raw)
    print(f"raw measurements: {path.relative_to(bl.ROOT)}", file=sys.stderr)
    if record:
        bl.append_results(text)
    return 0 if all(s["identical"] is not False for s in summaries) else 1


# --- profile of mianshen ----------------------------------------------------------------------------------


def _rss_gib() -> tuple[float, float]:
    """This process's resident memory now and its peak so far (GiB)."""
    import resource

    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    now = pages * os.sysconf("SC_PAGE_SIZE") / bl.GiB
    return now, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / bl.GiB


def profile(units: int, *, cprofile: bool, record: bool = False, layout: str = "generator") -> int:
    """Phase by phase, in one process: reading each file, validating it, the engine, writing the outputs; with
    each phase's CPU seconds (every thread), the resident memory after it and the peak so far."""
    setup_django()
    import polars as pl

    from mianshen.datadrop import reader
    from mianshen.datadrop.schema import TABLES
    from mianshen.datadrop.validate import KnownUnits, validate_table
    from mianshen.policy import engine
    from mianshen.policy.output import contract_frame, write_csv, write_parquet
    from mianshen.policy.parameters import resolve

    drop = layout_drop(units, layout)
    out = SCREEN_OUT / f"profile-{layout}-{units}"
    out.mkdir(parents=True, exist_ok=True)
    info = bl.machine()
    print(bl.machine_line(info), file=sys.stderr)
    phases: list[tuple[str, float, float, float, float]] = []  # name, wall, CPU, RSS after, peak so far

    def timed(name: str, fn: Any) -> Any:
        t0, c0 = time.perf_counter(), time.process_time()
        value = fn()
        phases.append((name, time.perf_counter() - t0, time.process_time() - c0, *_rss_gib()))
        print(f"  {name}: {phases[-1][2]:.2f} CPU s, RSS {phases[-1][3]:.2f} GiB", file=sys.stderr)
        return value

    profiler = None
    if cprofile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started, cpu_started = time.perf_counter(), time.process_time()
    params = timed("resolve parameters", lambda: resolve(POLICY, AS_OF))
    located = reader.locate(drop, reader.requested_tables(SCREEN_TABLES))
    tables: dict[str, pl.DataFrame] = {}
    known: KnownUnits | None = None
    for name, path in located.items():
        raw = timed(f"read {path.name}", lambda p=path, n=name: reader.read_table(p, TABLES[n]))
        result = timed(f"validate {path.name}", lambda r=raw, k=known: validate_table(r, units=k))
        if name == "units":
            known = KnownUnits(result.accepted["unit_id"], result.source.filename)
        tables[name] = result.accepted
    decided = timed(
        "engine.screen (facts + conditions + columns)", lambda: engine.screen(tables, params, AS_OF)
    )
    public = timed("output.contract_frame", lambda: contract_frame(decided))
    timed("write decisions.csv", lambda: write_csv(public, out / "decisions.csv"))
    timed("write decisions.parquet", lambda: write_parquet(public, out / "decisions.parquet"))
    total, cpu_total = time.perf_counter() - started, time.process_time() - cpu_started
    if profiler is not None:
        profiler.disable()
    # outside the total: the engine's parts one by one (each collected alone; Polars fuses them in screen)
    parts = engine_parts(tables, params)
    lines = [
        f"### screen profile: mianshen, {units:,} units, {layout} layout ({info['date_utc']})",
        "",
        f"- machine: {bl.machine_line(info)}",
        f"- command: `{bl.command_line()}`",
        "",
        "| phase | wall s | CPU s | share of CPU | RSS after | peak so far |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, seconds, cpu, rss, peak in phases:
        lines.append(
            f"| {name} | {seconds:.2f} | {cpu:.2f} | {cpu / cpu_total:.0%} | {rss:.2f} GiB | {peak:.2f} GiB |"
        )
    lines.append(f"| **total** | **{total:.2f}** | **{cpu_total:.2f}** | 100% | | |")
    lines += [
        "",
        "The engine's parts, each collected alone (outside the total; in `engine.screen` they run fused):",
        "",
        "| part | seconds |",
        "|---|---:|",
    ]
    for name, seconds in parts:
        lines.append(f"| {name} | {seconds:.2f} |")
    print("\n".join(lines))
    if record:
        bl.append_results("\n".join(lines))
    if profiler is not None:
        import io
        import pstats

        buffer = io.StringIO()
        pstats.Stats(profiler, stream=buffer).sort_stats("cumulative").print_stats(45)
        print(buffer.getvalue(), file=sys.stderr)
    return 0


def engine_parts(tables: dict[str, Any], params: Any) -> list[tuple[str, float]]:
    """Time the two halves of ``engine.screen`` apart: the per-unit facts (``facts.derive_facts``), then the
    size class, layoff rate, amount, conditions and decision (``engine.judge``) on the collected facts, then
    the text columns of decisions.csv. Only public entry points, so that the profile survives refactoring."""
    from mianshen.policy import engine
    from mianshen.policy import facts as F

    timings: list[tuple[str, float]] = []
    t0 = time.perf_counter()
    collected = F.derive_facts(tables, params, AS_OF).collect()
    timings.append(
        ("facts.derive_facts (every per-unit aggregate, joined to the units)", time.perf_counter() - t0)
    )
    t0 = time.perf_counter()
    judged = engine.judge(collected.lazy(), params, AS_OF).collect()
    timings.append(
        (
            "engine.judge (size class, layoff, amount, conditions, decision) on collected facts",
            time.perf_counter() - t0,
        )
    )
    contract = getattr(engine, "_contract_columns", None)
    if contract is not None:
        t0 = time.perf_counter()
        judged.select(
            contract({params.layoff_limit_bp, params.small_limit_bp}, set(params.ratio_bp.values()))
        )
        timings.append(("engine._contract_columns (text formatting)", time.perf_counter() - t0))
    return timings


# --- command line -----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=bl.parse_sizes, default=list(DEFAULT_SIZES), help="units, comma separated"
    )
    parser.add_argument("--runs", type=int, default=None, help="runs per size (default 3; 1 from 5M units)")
    parser.add_argument("--record", action="store_true", help="append the table to bench/RESULTS.md")
    parser.add_argument(
        "--layouts",
        default="generator",
        help=f"comma separated, of {', '.join(LAYOUTS)} (default generator; see the docstring)",
    )
    parser.add_argument(
        "--profile", type=bl.parse_units, metavar="UNITS", help="profile mianshen on this size instead"
    )
    parser.add_argument("--cprofile", action="store_true", help="with --profile: also cProfile (stderr)")
    parser.add_argument(
        "--impls",
        default=",".join(IMPLS),
        help=f"comma separated, of {', '.join(ALL_IMPLS)} (default mianshen,duckdb)",
    )
    parser.add_argument("--buckets", type=int, default=4, help="buckets of mianshen-buckets (default 4)")
    parser.add_argument(
        "--cap-gib", type=float, default=None, help="memory cap per run (default 85%% of free)"
    )
    parser.add_argument(
        "--duckdb-memory-limit", default=None, help="DuckDB memory_limit, e.g. 10GB (it spills)"
    )
    parser.add_argument(
        "--genparts-dir", type=Path, action="append", default=[], help="where drop-<units> (--parts 20) are"
    )
    parser.add_argument("--child", nargs=3, metavar=("IMPL", "DROP", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        impl, drop, out = args.child
        if impl not in ALL_IMPLS:
            parser.error(f"unknown implementation {impl}")
        child(impl, Path(drop), Path(out))
        return 0
    if args.profile:
        layout = args.layouts.split(",")[0].strip()
        if layout not in LAYOUTS:
            parser.error(f"--layouts: choose from {', '.join(LAYOUTS)}")
        return profile(args.profile, cprofile=args.cprofile, record=args.record, layout=layout)
    layouts = tuple(x.strip() for x in args.layouts.split(",") if x.strip())
    if not layouts or any(x not in LAYOUTS for x in layouts):
        parser.error(f"--layouts: choose from {', '.join(LAYOUTS)}")
    impls = tuple(x.strip() for x in args.impls.split(",") if x.strip())
    if not impls or any(x not in ALL_IMPLS for x in impls):
        parser.error(f"--impls: choose from {', '.join(ALL_IMPLS)}")
    GENPARTS_DIRS.extend(args.genparts_dir)
    FORCED_BUCKETS[0] = args.buckets
    if args.duckdb_memory_limit:
        DUCKDB_MEMORY_LIMIT.append(args.duckdb_memory_limit)
    return run_comparison(args.sizes, args.runs, args.record, layouts, impls, args.cap_gib)


if __name__ == "__main__":
    sys.exit(main())

"""The whole path on PostgreSQL, phase by phase: the demo's own steps (``cli.demo.DemoRun``) timed one by one.

    PYTHONPATH=src .venv/bin/python bench/pipeline.py --units 50000
    PYTHONPATH=src .venv/bin/python bench/pipeline.py --units 441300 --record
    PYTHONPATH=src .venv/bin/python bench/pipeline.py --units 50000 --profile "round 3,bank answers"

Each run empties its own database (``--db``, default ``h_pipeline``: ``DROP SCHEMA public CASCADE``, then
``migrate``; only a database whose name starts with ``h_pipeline``, ``h_scale`` or ``mianshen_bench`` is accepted, so that it
never empties someone else's), then runs every step of ``mianshen demo`` in this process: generate, validate,
screen, import, round 1, four-eyes review, key supervision, fresh data (drop B validated and imported), round 2,
the notice, objections, round 3 (the comparison before payment), release, bank files, bank answers (pain.002
and camt.054 from the bank simulator, applied, business day after business day; then the other banks' later
batch), recovery (the next data drop with the new accounts, corrections with four eyes, re-issues settled),
reconciliation, notify, audit verify and the outcome report. Per step: wall seconds, CPU seconds of this
process (the database server's work is in wall − CPU), the time the simulated banks took (theirs, not the
system's: subtracted for the targets), the peak resident memory during the step (sampled) and of the process.

Targets (issue 13): from the comparison before payment to bank files ready (round 3 + release + bank files)
≤ 5 minutes; the banks' answers applied (bank answers without the simulator's own time) ≤ 2 minutes.
``--record`` appends the table to bench/RESULTS.md with the date, machine, command and ``uptime`` before and
after; the raw numbers go to bench/out/results/pipeline-*.json.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import OUT_DIR, append_results, command_line, machine, machine_line, parse_units, save_raw

ALLOWED_PREFIXES = ("h_pipeline", "h_scale", "mianshen_bench")
TO_FILES = (
    "round 3",
    "release",
    "bank files",
)  # the system's work from the comparison before payment to files
ANSWERS = ("bank answers",)  # pain.002 + camt.054 applied (the simulator's own time subtracted)


@dataclass
class Phase:
    step: str
    wall_s: float
    cpu_s: float
    db_cpu_s: float | None  # CPU of the database server process serving the connection (None: not measured)
    bank_s: float  # the simulated banks' own time within the step
    sql_s: float  # time inside Django's statements (client side)
    peak_gib: float  # highest resident memory sampled during the step
    process_peak_gib: float  # ru_maxrss of the process so far
    said: str
    top_sql: list[tuple[str, float, int]]


def _uptime() -> str:
    try:
        return subprocess.run(
            ["uptime"], capture_output=True, text=True, timeout=5, env={**os.environ, "TZ": "UTC"}
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _cpu() -> float:
    return sum(
        u.ru_utime + u.ru_stime
        for u in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    )


def _process_peak_gib() -> float:
    kib = max(resource.getrusage(w).ru_maxrss for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return kib / 1024**2


class _RssSampler:
    """The highest resident memory of this process seen since ``reset`` (sampled every 0.2 s)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def now() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, self.now())

    def start(self) -> None:
        self._thread.start()

    def reset(self) -> None:
        self.peak = self.now()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


class _SqlClock:
    """Time of every statement Django's connection runs (client side: the database's work plus the round trip),
    summed by statement shape: where a step's wall time beyond its CPU goes."""

    def __init__(self) -> None:
        self.by_shape: dict[str, list[float]] = {}

    def reset(self) -> None:
        self.by_shape = {}

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            shape = re.sub(r"\d+", "N", " ".join(str(sql).split()))[:110]
            entry = self.by_shape.setdefault(shape, [0.0, 0])
            entry[0] += time.perf_counter() - t0
            entry[1] += 1

    def total(self) -> float:
        return sum(t for t, _ in self.by_shape.values())

    def top(self, n: int) -> list[tuple[str, float, int]]:
        rows = sorted(self.by_shape.items(), key=lambda kv: -kv[1][0])[:n]
        return [(shape, t, int(count)) for shape, (t, count) in rows]


def _backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) of the database server process serving this connection (same machine)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _reset_schema(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


def run(
    units: int, seed: int, url: str, work: Path, profile: set[str], stopped: list[str], skip: set[str]
) -> list[Phase]:
    """Empty the database, migrate it, then run and time the demo's steps; a step that fails (or SIGTERM, or
    Ctrl-C) ends the run with the steps measured so far, the reason appended to ``stopped``."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True, width=200)
    _reset_schema(url)
    shutil.rmtree(work, ignore_errors=True)
    (work / "var").mkdir(parents=True)
    os.environ["MIANSHEN_DATABASE_URL"] = url
    os.environ["MIANSHEN_VAR_DIR"] = str(work / "var")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mianshen.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from mianshen.cli.demo import DemoRun

    call_command("migrate", verbosity=0)
    from django.db import connection

    sql = _SqlClock()
    connection.execute_wrappers.append(sql)

    def db_cpu() -> float:
        with connection.cursor() as cursor:  # the connection may have been closed and opened again
            cursor.execute("SELECT pg_backend_pid()")
            return _backend_cpu(cursor.fetchone()[0])

    said: list[tuple[str, str]] = []
    demo = DemoRun(
        root=work / "demo", units=units, seed=seed, say=lambda step, text: said.append((step, text))
    )
    (work / "demo").mkdir()
    sampler = _RssSampler()
    sampler.start()
    phases: list[Phase] = []
    steps = [(name, step) for name, step in demo.steps() if name not in skip]
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=False) as progress:
        overall = progress.add_task(f"pipeline, {units:,} units", total=len(steps))
        name = "start"
        try:
            for name, step in steps:
                progress.update(overall, description=f"pipeline, {units:,} units: [bold cyan]{name}[/]")
                before = len(said)
                bank0 = demo.payer.bank_s if demo.payer is not None else 0.0
                sampler.reset()
                sql.reset()
                db0 = db_cpu()
                cpu0, t0 = _cpu(), time.perf_counter()
                prof = cProfile.Profile() if name in profile else None
                if prof is not None:
                    prof.enable()
                step()
                if prof is not None:
                    prof.disable()
                wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
                db = max(0.0, db_cpu() - db0)
                bank = (demo.payer.bank_s if demo.payer is not None else 0.0) - bank0
                text = "; ".join(t for _, t in said[before:])
                peak = max(sampler.peak, sampler.now()) / 1024**3
                phase = Phase(
                    name, wall, cpu, db, bank, sql.total(), peak, _process_peak_gib(), text, sql.top(5)
                )
                phases.append(phase)
                progress.console.print(
                    f"[bold cyan]{name:>15}[/] {wall:8.1f} s wall, CPU {cpu:7.1f} s"
                    + f", database CPU {db:.1f} s, SQL {phase.sql_s:.1f} s"
                    + (f", banks {bank:.1f} s" if bank else "")
                    + f", peak {phase.peak_gib:.2f} GB  [dim]{text[:150]}[/]"
                )
                for shape, seconds, count in phase.top_sql[:3]:  # where the statements' time went, as it runs
                    if seconds >= 0.5:
                        progress.console.print(
                            f"[dim]{'':>15}   {seconds:6.1f} s ×{count:<5} {shape[:110]}[/]"
                        )
                if prof is not None:
                    _profile_out(prof, name, work)
                progress.advance(overall)
        except (KeyboardInterrupt, Exception) as exc:  # record what was measured, and where it stopped
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            stopped.append(f"stopped during {name!r}: {type(exc).__name__}: {first}")
            progress.console.print(f"[bold red]{stopped[-1]}[/]")
    sampler.stop()
    return phases


def _profile_out(prof: cProfile.Profile, name: str, work: Path) -> None:
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(30)
    path = work / f"profile-{name.replace(' ', '-')}.txt"
    path.write_text(out.getvalue(), encoding="utf-8")
    stats.dump_stats(path.with_suffix(".prof"))  # the whole profile, for pstats (callers, callees)
    print(f"profile of {name!r}: {path}", file=sys.stderr)


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}"


def _sum(phases: list[Phase], names: tuple[str, ...]) -> tuple[float, float, float]:
    chosen = [p for p in phases if p.step in names]
    return (sum(p.wall_s for p in chosen), sum(p.cpu_s for p in chosen), sum(p.bank_s for p in chosen))


def markdown(
    units: int,
    phases: list[Phase],
    info: dict[str, Any],
    up_before: str,
    up_after: str,
    stopped: list[str],
    skip: set[str],
    command: str = "",
) -> str:
    lines = [
        f"### pipeline.py: the whole path on PostgreSQL at {units:,} units ({info['date_utc']})",
        "",
        f"- machine: {machine_line(info)}",
        f"- `uptime` before: `{up_before}`; after: `{up_after}`",
        f"- command: `{command or command_line()}`",
        *([f"- **incomplete**: {stopped[0]}"] if stopped else []),
        *([f"- steps not run (`--skip`): {', '.join(sorted(skip))}"] if skip else []),
        "- CPU = this process (Python); database CPU = the PostgreSQL process serving its connection (on a "
        "loaded machine the rest of the wall time is mostly waiting for a core); banks = the bank simulator's own "
        "time inside the step (not the system's)",
        "",
        "| step | wall s | CPU s | database CPU s | SQL s | banks s | peak GB (step) | what it did |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for p in phases:
        text = p.said.replace("|", "/")
        if len(text) > 160:
            text = text[:157] + "…"
        lines.append(
            f"| {p.step} | {p.wall_s:.1f} | {p.cpu_s:.1f} | {_num(p.db_cpu_s)} | {p.sql_s:.1f} | {p.bank_s:.1f} "
            f"| {p.peak_gib:.2f} | {text} |"
        )
    wall, cpu = sum(p.wall_s for p in phases), sum(p.cpu_s for p in phases)
    measured = [p.db_cpu_s for p in phases if p.db_cpu_s is not None]
    db, sql = (sum(measured) if measured else None), sum(p.sql_s for p in phases)
    peak = max(p.process_peak_gib for p in phases)
    lines.append(
        f"| **total** | **{wall:.1f}** | **{cpu:.1f}** | **{_num(db)}** | {sql:.1f} | | {peak:.2f} | |"
    )
    w, _c, b = _sum(phases, TO_FILES)
    aw, _ac, ab = _sum(phases, ANSWERS)
    lines += [
        "",
        "Comparison before payment → bank files ready (round 3 + release + bank files): "
        + (f"{w - b:.1f} s" if all(any(p.step == n for p in phases) for n in TO_FILES) else "not reached")
        + " (target ≤ 300 s); bank answers applied (pain.002 + camt.054, the simulator's own time subtracted): "
        + (f"{aw - ab:.1f} s" if any(p.step in ANSWERS for p in phases) else "not reached")
        + " (target ≤ 120 s).",
        "",
        "Where the time goes: the statements that took longest in the five longest steps (SQL s = time inside "
        "Django's statements, client side; COPY is not counted there):",
        "",
    ]
    for p in sorted(phases, key=lambda p: -p.wall_s)[:5]:
        tops = "; ".join(f"`{shape[:90]}` {t:.1f} s ×{n}" for shape, t, n in p.top_sql[:3])
        lines.append(f"- {p.step} ({p.wall_s:.1f} s wall, {p.sql_s:.1f} s SQL): {tops}")
    return "\n".join(lines)


def _from_raw(path: Path, units: int, *, record: bool) -> int:
    """The table of a run from its raw JSON (a run whose table could not be written, or written wrong)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        phases = [Phase(**{"db_cpu_s": None, **p}) for p in raw["phases"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"pipeline: cannot read the run in {path}: {exc}", file=sys.stderr)
        return 2
    up_before, up_after = raw.get("uptime", ["unknown", "unknown"])
    stopped, skip = raw.get("stopped", []), set(raw.get("skip", []))
    named = re.match(r"pipeline-(\d+)-", path.name)  # the run's size is in its file's name
    units = raw.get("units") or (int(named.group(1)) if named else units)
    skipped = f" --skip {','.join(sorted(skip))}" if skip else ""
    command = raw.get("command", f".venv/bin/python bench/pipeline.py --units {units}{skipped} (as run)")
    table = markdown(units, phases, raw["machine"], up_before, up_after, stopped, skip, command)
    print(table)
    if record:
        append_results(table)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--units", default="50000", help="size of the generated city (50000, 441300, 100k)")
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument(
        "--db", default="h_pipeline", help="the database it empties and fills (default h_pipeline)"
    )
    parser.add_argument("--host", default="127.0.0.1:5432")
    parser.add_argument("--profile", default="", help="comma-separated steps to run under cProfile")
    parser.add_argument(
        "--skip", default="", help="comma-separated steps not to run (e.g. notify), said in the table"
    )
    parser.add_argument(
        "--from-raw", type=Path, help="print (and --record) the table of a run kept in bench/out/results"
    )
    parser.add_argument("--record", action="store_true", help="append the table to bench/RESULTS.md")
    args = parser.parse_args()
    try:
        units = parse_units(args.units)
    except ValueError:
        print(f"pipeline: --units {args.units!r} is not a number of units", file=sys.stderr)
        return 2
    if units < 10:
        print("pipeline: --units must be at least 10", file=sys.stderr)
        return 2
    if not args.db.startswith(ALLOWED_PREFIXES):
        print(f"pipeline: refusing to empty database {args.db!r} (name must start with "
              f"{' or '.join(ALLOWED_PREFIXES)})", file=sys.stderr)  # fmt: skip
        return 2
    if args.from_raw is not None:
        return _from_raw(args.from_raw, units, record=args.record)
    url = f"postgresql://postgres@{args.host}/{args.db}"
    info = machine()
    up_before = _uptime()
    work = OUT_DIR / f"pipeline-{units}"
    profile = {s.strip() for s in args.profile.split(",") if s.strip()}
    stopped: list[str] = []
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a kill ends the run with what it measured
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    phases = run(units, args.seed, url, work, profile, stopped, skip)
    up_after = _uptime()
    table = markdown(units, phases, info, up_before, up_after, stopped, skip)
    print(table)
    if not phases:
        print(f"pipeline: no step finished ({'; '.join(stopped)})", file=sys.stderr)
        return 1
    save_raw(
        f"pipeline-{units}",
        {
            "machine": info,
            "uptime": [up_before, up_after],
            "units": units,
            "stopped": stopped,
            "skip": sorted(skip),
            "command": command_line(),
            "phases": [asdict(p) for p in phases],
        },
    )
    if args.record:
        append_results(table)
    return 1 if stopped else 0


if __name__ == "__main__":
    sys.exit(main())

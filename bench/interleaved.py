"""Old commit against new, interleaved in one run: ``bench/screen.py`` and ``bench/cases_transitions.py`` of each
checkout, alternately (old, new, old, new, …), so both see the same machine load over time.

    git worktree add --detach /work/wt-benchold <old commit>
    .venv/bin/python bench/interleaved.py --old /work/wt-benchold --rounds 3 --screen-units 1000000 --n 100000
    .venv/bin/python bench/interleaved.py --old /work/wt-benchold --record      # also append to RESULTS.md

Each measured step is the checkout's own benchmark script, run as ``<python> <checkout>/bench/<script>`` with
``PYTHONPATH=<checkout>/src`` (so the checkout's code is what runs; the recorded commit of every run is checked),
one run per call; its raw JSON (``<checkout>/bench/out/results/``) is read back. One untimed warm-up round first
(page cache, PostgreSQL template databases). Both checkouts screen the same generated drop: the new checkout's
``bench/out/drop-parquet-<units>`` is linked into the old one's ``bench/out`` before the first run.

Compared: screen — mianshen's ``work`` time (and DuckDB's, measured in the same call, as a load reference);
cases_transitions — the ``case_transition_many`` call + commit (``total``) on PostgreSQL, each in a fresh
database. Also checked: both checkouts wrote byte-identical decisions.csv, and the same cases / history /
audit rows (the SHA-256 digests cases_transitions prints).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import benchlib as bl  # noqa: E402


def _newest_result(checkout: Path, prefix: str, since: float) -> dict[str, Any]:
    raw = checkout / "bench" / "out" / "results"
    found = [p for p in raw.glob(f"{prefix}-*.json") if p.stat().st_mtime >= since]
    if not found:
        raise SystemExit(f"{checkout}: no new {prefix} result in {raw}")
    return dict(json.loads(max(found, key=lambda p: p.stat().st_mtime).read_text()))


def _run(checkout: Path, script: str, args: list[str]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(checkout / "src")}
    start = time.time()
    done = subprocess.run([bl.PYTHON, str(checkout / "bench" / script), *args], cwd=checkout, env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"{checkout} {script} failed ({done.returncode}): {done.stderr.strip()[-800:]}")
    return _newest_result(checkout, script.removesuffix(".py"), start - 1)


def _csv_digest(checkout: Path, units: int) -> str:
    """SHA-256 of the decisions.csv mianshen wrote in ``checkout``'s last screen run of ``units``."""
    path = checkout / "bench" / "out" / "screen-out" / f"mianshen-{units}" / "decisions.csv"
    return hashlib.sha256(path.read_bytes()).hexdigest()


def screen_once(checkout: Path, units: int) -> dict[str, Any]:
    d = _run(checkout, "screen.py", ["--sizes", str(units), "--runs", "1"])
    rows = d["summaries"][0]["rows"]
    return {"commit": d["machine"]["commit"], "load": d["machine"]["load_avg"][0],
            "work": rows["mianshen"]["work_s"], "cpu": rows["mianshen"]["cpu_s"],
            "duckdb": rows["duckdb"]["work_s"], "identical": d["summaries"][0]["identical"],
            "csv": _csv_digest(checkout, units)}  # fmt: skip


def transitions_once(checkout: Path, n: int, db: str) -> dict[str, Any]:
    d = _run(checkout, "cases_transitions.py", ["--n", str(n), "--impls", "new", "--db", db])
    child = json.loads(d["runs"]["new"]["stdout"].strip().splitlines()[-1])
    return {"commit": d["machine"]["commit"], "load": d["machine"]["load_avg"][0], "call": child["call_s"],
            "total": child["total_s"], "digest": child["digest"]}  # fmt: skip


def _link_drop(old: Path, units: int) -> None:
    """The old checkout screens the new checkout's drop (generated once, here)."""
    drop = bl.ensure_drop(units)
    target = old / "bench" / "out"
    target.mkdir(parents=True, exist_ok=True)
    for src in (drop, drop.with_suffix(".json")):
        link = target / src.name
        if link.is_symlink() or link.exists():
            if link.resolve() == src.resolve():
                continue
            raise SystemExit(f"{link} exists and is not the new checkout's drop: remove it")
        link.symlink_to(src)


def _stats(values: list[float]) -> str:
    med = statistics.median(values)
    return f"{med:.2f} s | {min(values):.2f}–{max(values):.2f} s | {max(values) - min(values):.2f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, required=True, help="checkout (worktree) of the old commit")
    parser.add_argument(
        "--new", type=Path, default=BENCH.parent, help="checkout of the new commit (this one)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (each: old then new)")
    parser.add_argument("--screen-units", type=bl.parse_units, default=1_000_000)
    parser.add_argument("--n", type=int, default=100_000, help="cases moved by case_transition_many")
    parser.add_argument("--db", default="mianshen_bench_interleaved", help="scratch database name prefix")
    parser.add_argument("--record", action="store_true", help="append the section to bench/RESULTS.md")
    args = parser.parse_args()
    old, new = args.old.resolve(), args.new.resolve()
    info = bl.machine()
    _link_drop(old, args.screen_units)
    trees = {"old": old, "new": new}
    runs: list[dict[str, Any]] = []
    for rnd in range(args.rounds + 1):  # round 0: warm-up, not counted
        for name, tree in trees.items():
            s = screen_once(tree, args.screen_units)
            t = transitions_once(tree, args.n, f"{args.db}_{name}")
            row = {"round": rnd, "tree": name, "screen": s, "transitions": t}
            runs.append(row)
            print(f"round {rnd}{' (warm-up)' if rnd == 0 else ''} {name} {s['commit']}: screen "
                  f"{s['work']:.2f} s (duckdb {s['duckdb']:.2f} s, load {s['load']:.2f}); transitions "
                  f"{t['total']:.2f} s (load {t['load']:.2f})", file=sys.stderr, flush=True)  # fmt: skip
    commits = {name: {r["screen"]["commit"] for r in runs if r["tree"] == name} for name in trees}
    if any(len(c) != 1 for c in commits.values()) or commits["old"] == commits["new"]:
        raise SystemExit(f"the runs did not each run one commit per checkout: {commits}")
    measured = [r for r in runs if r["round"] > 0]
    lines = [
        f"### Interleaved: old {commits['old'].pop()} against new {commits['new'].pop()} "
        f"({info['date_utc']})",
        "",
        f"- machine: {bl.machine_line(info)}",
        f"- command: `{bl.command_line()}`",
        f"- sizes: screen {args.screen_units:,} units (Parquet, seed 1, the same drop for both); "
        f"case_transition_many {args.n:,} cases on PostgreSQL (fresh database per run); one warm-up round "
        "(not counted), then each round runs old then new",
        "",
        "| round | checkout | screen work | screen CPU | DuckDB work (same call) | load | transitions call | "
        "transitions total | load |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        s, t = r["screen"], r["transitions"]
        lines.append(f"| {r['round'] or 'warm-up'} | {r['tree']} | {s['work']:.2f} s | {s['cpu']:.2f} s | "
                     f"{s['duckdb']:.2f} s | {s['load']:.2f} | {t['call']:.2f} s | {t['total']:.2f} s | "
                     f"{t['load']:.2f} |")  # fmt: skip
    lines += ["", "| measure | checkout | median | range | spread (max − min) |", "|---|---|---:|---|---:|"]
    for label, pick in (("screen work", lambda r: r["screen"]["work"]),
                        ("screen work / DuckDB work", lambda r: r["screen"]["work"] / r["screen"]["duckdb"]),
                        ("transitions total", lambda r: r["transitions"]["total"])):  # fmt: skip
        for name in trees:
            values = [pick(r) for r in measured if r["tree"] == name]
            text = _stats(values)
            if "/" in label:
                text = text.replace(" s", "")
            lines.append(f"| {label} | {name} | {text} |")
    csv = {name: {r["screen"]["csv"] for r in runs if r["tree"] == name} for name in trees}
    digests = {name: {json.dumps(r["transitions"]["digest"], sort_keys=True) for r in runs if r["tree"] == name}
               for name in trees}  # fmt: skip
    lines += [
        "",
        f"- decisions.csv of old and new byte-identical: {'yes' if csv['old'] == csv['new'] and len(csv['new']) == 1 else f'NO {csv}'}",
        f"- case_transition_many wrote the same cases / history / audit rows in old and new: "
        f"{'yes' if digests['old'] == digests['new'] and len(digests['new']) == 1 else 'NO (see the raw JSON)'}",
    ]  # fmt: skip
    markdown = "\n".join(lines)
    print(markdown)
    raw = bl.RAW_DIR / f"interleaved-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text(json.dumps({"machine": info, "args": {k: str(v) for k, v in vars(args).items()}, "runs": runs},
                              indent=1))  # fmt: skip
    print(f"raw measurements: {raw.relative_to(bl.ROOT)}")
    if args.record:
        bl.append_results(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())

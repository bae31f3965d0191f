"""Shared helpers of the benchmarks in bench/: the machine, measured subprocesses, cached drops, RESULTS.md.

Every measurement runs in its own subprocess so that its peak RSS is its own (``os.wait4`` gives the child's
``ru_maxrss``) and one run's memory never inflates the next. A watchdog samples the child's RSS and kills it
above a cap, so that a run that cannot fit (5M units) fails alone instead of waking the OOM killer on a machine
shared with other engineers.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"  # git-ignored
RESULTS_MD = BENCH_DIR / "RESULTS.md"
RAW_DIR = OUT_DIR / "results"
PYTHON = sys.executable
SEED = 1
GiB = 1 << 30


# --- the machine ------------------------------------------------------------------------------------------


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def _meminfo() -> dict[str, int]:
    info: dict[str, int] = {}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, rest = line.partition(":")
            parts = rest.split()
            if parts and parts[0].isdigit():
                info[key] = int(parts[0]) * 1024
    except OSError:
        pass
    return info


def available_memory() -> int:
    """MemAvailable in bytes (0 when unknown)."""
    return _meminfo().get("MemAvailable", 0)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str] = {"python": platform.python_version()}
    for name in ("polars", "duckdb", "pyarrow", "django", "psycopg"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def machine() -> dict[str, Any]:
    """What RESULTS.md records with every result: date, cores, memory, CPU, load, versions."""
    mem = _meminfo()
    return {
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "nproc": os.cpu_count() or 0,
        "mem_total_gib": round(mem.get("MemTotal", 0) / GiB, 1),
        "mem_available_gib": round(mem.get("MemAvailable", 0) / GiB, 1),
        "cpu": cpu_model(),
        "load_avg": [round(x, 2) for x in load_average()],
        "versions": _versions(),
        "commit": git_commit(),
    }


def machine_line(info: dict[str, Any]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    load = " / ".join(f"{x:.2f}" for x in info["load_avg"])
    return (
        f"{info['date_utc']}; {info['nproc']} cores, {info['mem_total_gib']} GiB "
        f"({info['mem_available_gib']} GiB available), {info['cpu']}; load average at start {load} (1/5/15 min); "
        f"commit {info['commit']}; {versions}"
    )


# --- measured subprocesses --------------------------------------------------------------------------------


@dataclass
class Measured:
    """One subprocess: its wall time, CPU time, peak RSS and output."""

    argv: list[str]
    returncode: int
    wall_s: float
    user_s: float
    sys_s: float
    max_rss_bytes: int
    stdout: str
    stderr: str
    killed_for_memory: bool = False
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    result: dict[str, Any] = field(default_factory=dict)  # the child's JSON line, when it printed one

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.killed_for_memory

    @property
    def max_rss_gib(self) -> float:
        return self.max_rss_bytes / GiB

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["stdout"] = self.stdout[-2000:]
        data["stderr"] = self.stderr[-4000:]
        return data


def _rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def run_measured(
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    rss_cap_bytes: int | None = None,
    timeout_s: float | None = None,
    cwd: Path = ROOT,
) -> Measured:
    """Run ``argv``; wall time, the child's own rusage (``os.wait4``) and its output. Above ``rss_cap_bytes``
    of resident memory the child is killed (``killed_for_memory``)."""
    load = load_average()
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    chunks: dict[str, list[str]] = {"out": [], "err": []}

    def drain(stream: Any, into: list[str]) -> None:
        for line in stream:
            into.append(line)

    readers = [
        threading.Thread(target=drain, args=(proc.stdout, chunks["out"]), daemon=True),
        threading.Thread(target=drain, args=(proc.stderr, chunks["err"]), daemon=True),
    ]
    for reader in readers:
        reader.start()
    killed = False
    deadline = None if timeout_s is None else started + timeout_s
    while True:
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if rss_cap_bytes is not None and _rss_bytes(proc.pid) > rss_cap_bytes:
            killed = True
            proc.kill()
        if deadline is not None and time.perf_counter() > deadline:
            proc.kill()
        time.sleep(0.05)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join(timeout=10)
    stdout, stderr = "".join(chunks["out"]), "".join(chunks["err"])
    measured = Measured(
        argv=argv,
        returncode=proc.returncode,
        wall_s=wall,
        user_s=rusage.ru_utime,
        sys_s=rusage.ru_stime,
        max_rss_bytes=rusage.ru_maxrss * 1024,  # Linux: kilobytes
        stdout=stdout,
        stderr=stderr,
        killed_for_memory=killed,
        load_before=load,
    )
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            try:
                measured.result = json.loads(line)
            except json.JSONDecodeError:
                continue
            break
    return measured


def rss_cap(fraction_of_available: float = 0.85, ceiling_gib: float = 20.0) -> int:
    """A safe memory cap for one child: a share of what is available now, at most ``ceiling_gib``."""
    available = available_memory() or int(ceiling_gib * GiB)
    return int(min(available * fraction_of_available, ceiling_gib * GiB))


# --- cached drops -----------------------------------------------------------------------------------------


def drop_dir(units: int, fmt: str) -> Path:
    return OUT_DIR / f"drop-{fmt}-{units}"


def ensure_drop(units: int, fmt: str = "parquet", *, seed: int = SEED) -> Path:
    """The drop of ``units`` units (seed 1) under bench/out/, generated once (in a subprocess) and reused.

    A drop counts as complete when its marker file (written after generation succeeded) names the same
    units, seed and format."""
    path = drop_dir(units, fmt)
    marker = path.with_suffix(".json")
    want = {"units": units, "seed": seed, "format": fmt}
    if marker.exists() and path.is_dir():
        try:
            done = json.loads(marker.read_text())
        except (OSError, json.JSONDecodeError):
            done = {}
        if all(done.get(k) == v for k, v in want.items()):
            return path
    marker.unlink(missing_ok=True)
    print(f"generating {units:,} units ({fmt}) into {path} ...", file=sys.stderr, flush=True)
    argv = [
        str(ROOT / ".venv" / "bin" / "mianshen"),
        "generate",
        "--units",
        str(units),
        "--seed",
        str(seed),
        "--out",
        str(path),
        "--format",
        fmt,
        "--no-progress",
    ]
    measured = run_measured(argv)
    if not measured.ok:
        raise RuntimeError(f"generating {path} failed: {measured.stderr.strip()[-500:]}")
    marker.write_text(json.dumps({**want, "seconds": measured.wall_s, "stdout": measured.stdout.strip()}))
    return path


# --- numbers and results ----------------------------------------------------------------------------------


def parse_units(text: str) -> int:
    """``100k`` -> 100000, ``1M`` -> 1000000, ``5_000_000`` -> 5000000."""
    text = text.strip().replace("_", "").replace(",", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:].lower(), 1)
    number = text[:-1] if scale != 1 else text
    return int(float(number) * scale)


def parse_sizes(text: str) -> list[int]:
    """``100k,1M`` -> [100000, 1000000]."""
    return [parse_units(x) for x in text.split(",") if x.strip()]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def save_raw(name: str, payload: dict[str, Any]) -> Path:
    """Keep the full measurements (every run, every child's output) under bench/out/results/."""
    RAW_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RAW_DIR / f"{name}-{stamp}.json"
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path


def append_results(markdown: str) -> None:
    """Append one benchmark's section to bench/RESULTS.md."""
    with RESULTS_MD.open("a", encoding="utf-8") as f:
        f.write("\n" + markdown.rstrip() + "\n")


def command_line() -> str:
    """The command that produced a result, as typed from the repository root."""
    script = Path(sys.argv[0])
    with contextlib.suppress(ValueError):
        script = script.resolve().relative_to(ROOT)
    return " ".join([".venv/bin/python", str(script), *sys.argv[1:]])

"""Benchmark: the answer time of a lookup code request (POST /lookup/) for known, unknown and no-phone credit
codes, side by side, on PostgreSQL (contracts §4: the same code path and the same writes, so timing does not tell
them apart — shown by the distributions, not a timed test).

Fills a scratch database (migrated; one snapshot of ``--units`` units, a tenth of them without a phone), then
requests codes for randomly interleaved credit codes of the three kinds through Django's test client in this
process (routing, view, template, the per-address counter, the request row and the job row: everything but a
socket), ``--runs`` of each, and reports the percentiles of each kind, the largest gap between their empirical
distributions (Kolmogorov-Smirnov D) and a histogram side by side. The codes themselves are made by the job after
the answer (not timed here). ``--record`` appends the tables to bench/RESULTS.md. The scratch database is dropped.

    .venv/bin/python bench/portal_lookup.py [--units 100000] [--runs 1000] [--record]
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
DB = "mianshen_bench_lookup"
URL = f"postgresql://postgres@127.0.0.1:5432/{DB}"
KINDS = ("known", "unknown", "no phone")


def _psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", sql], check=True)


def credit_code(i: int) -> str:
    return f"91110105MA{i:08d}"


def fill(units: int) -> None:
    from mianshen.registry.models import Snapshot, Unit

    snap = Snapshot.objects.create(content_hash="b" * 64, source="bench", extracted_on=date(2021, 6, 30))
    batch = []
    for i in range(units):
        phone = None if i % 10 == 9 else f"13{i % 10}{i:08d}"
        batch.append(Unit(snapshot=snap, line=i + 1, unit_id=f"U{i:08d}", credit_code=credit_code(i),
                          name=f"基准单位{i}", unit_type="enterprise", industry="I", district="110105",
                          dispatch=False, phone=phone))  # fmt: skip
        if len(batch) == 5000:
            Unit.objects.bulk_create(batch)
            batch = []
    Unit.objects.bulk_create(batch)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE registry_unit")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def ks(a: list[float], b: list[float]) -> float:
    """The Kolmogorov-Smirnov statistic: the largest gap between the two empirical distribution functions."""
    xs, ys = sorted(a), sorted(b)
    i = j = 0
    d = 0.0
    while i < len(xs) and j < len(ys):
        if xs[i] <= ys[j]:
            i += 1
        else:
            j += 1
        d = max(d, abs(i / len(xs) - j / len(ys)))
    return d


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    sys.path[:0] = [str(HERE.parent / "src"), str(HERE)]
    from benchlib import append_results, command_line, machine, machine_line

    info = machine()
    os.environ["MIANSHEN_DATABASE_URL"] = URL
    os.environ["MIANSHEN_PORTAL_ADDRESS_MAX_REQUESTS"] = str(
        10 * args.runs * len(KINDS)
    )  # sized for the test
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mianshen.settings")
    _psql(f"DROP DATABASE IF EXISTS {DB}")
    _psql(f"CREATE DATABASE {DB}")
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from mianshen.core.models import Job
    from mianshen.portal.models import LookupRequest

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    fill(args.units)
    fill_s = time.perf_counter() - started
    rng = random.Random(7)
    known = [credit_code(i) for i in range(args.units) if i % 10 != 9]
    no_phone = [credit_code(i) for i in range(args.units) if i % 10 == 9]
    order = [k for k in KINDS for _ in range(args.runs)]
    rng.shuffle(order)
    client = Client(HTTP_HOST="localhost")
    for _ in range(20):  # warm-up
        client.post("/lookup/", {"credit_code": rng.choice(known)})
    times: dict[str, list[float]] = {k: [] for k in KINDS}
    bodies: dict[str, set[bytes]] = {k: set() for k in KINDS}
    writes_before = (LookupRequest.objects.count(), Job.objects.count())
    for kind in order:
        code = (rng.choice(known) if kind == "known" else rng.choice(no_phone) if kind == "no phone"
                else f"91110105MB{rng.randrange(10**8):08d}")  # fmt: skip
        t0 = time.perf_counter()
        response = client.post("/lookup/", {"credit_code": code})
        times[kind].append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, response.status_code
        bodies[kind].add(response.content.decode().replace(code, "").encode())
    writes = (LookupRequest.objects.count() - writes_before[0], Job.objects.count() - writes_before[1])
    from django.db import connections

    connections.close_all()
    _psql(f"DROP DATABASE IF EXISTS {DB}")
    import re

    def scrub(body: bytes) -> bytes:
        return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", body)

    same_body = len({scrub(b) for k in KINDS for b in bodies[k]}) == 1
    rows = "\n".join(
        f"| {k} | {len(v)} | {statistics.mean(v):.2f} | {percentile(v, 50):.2f} | {percentile(v, 90):.2f} | "
        f"{percentile(v, 99):.2f} | {max(v):.2f} |"
        for k, v in times.items()
    )
    d_unknown, d_nophone = ks(times["known"], times["unknown"]), ks(times["known"], times["no phone"])
    edges = [percentile(times["known"] + times["unknown"] + times["no phone"], p) for p in range(0, 101, 10)]
    hist = []
    for lo, hi in itertools.pairwise(edges):
        counts = [sum(lo <= t < hi or (hi == edges[-1] and t == hi) for t in times[k]) for k in KINDS]
        hist.append(f"| {lo:.2f}–{hi:.2f} | " + " | ".join(str(c) for c in counts) + " |")
    markdown = f"""### portal lookup: code requests, known vs unknown vs no-phone credit codes ({info["date_utc"]})

- machine: {machine_line(info)}
- command: `{command_line()}`
- data: one snapshot of {args.units:,} units (a tenth without a phone) on PostgreSQL ({fill_s:.0f} s incl. migrate);
  {args.runs} requests of each kind, randomly interleaved, POST /lookup/ through Django's test client in-process
  (no socket), after 20 warm-up requests; the codes are made by the job after the answer (not in these times)
- same status (200) and the same body (but the echoed credit code and the CSRF token) for all three kinds: {"yes" if same_body else "NO"};
  writes per request: {writes[0] / len(order):.2f} request rows, {writes[1] / len(order):.2f} jobs
- Kolmogorov-Smirnov D (largest gap between the distributions): known vs unknown {d_unknown:.3f}, known vs
  no-phone {d_nophone:.3f} (with {args.runs} each, D ≈ {1.36 * (2 / args.runs) ** 0.5:.3f} is the 5 % level)

| credit code | requests | mean ms | p50 ms | p90 ms | p99 ms | max ms |
|---|---:|---:|---:|---:|---:|---:|
{rows}

| answer time (ms, deciles of all) | known | unknown | no phone |
|---|---:|---:|---:|
{chr(10).join(hist)}
"""
    print(markdown)
    if args.record:
        append_results(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())

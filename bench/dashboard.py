"""Benchmark the back-office dashboard and the list exports on PostgreSQL at Beijing's size.

    .venv/bin/python bench/dashboard.py                 # seed 441,300 paid cases (bench/outcomes.py's seed), time
    .venv/bin/python bench/dashboard.py --reuse         # the scratch database as a previous run left it

The scratch database (``mianshen_bench_dashboard``, or ``--db``) is seeded, untimed, with what a year of the
refund leaves behind (``bench/outcomes.py``'s ``seed``: 490,333 insured units, three rounds, 441,300 paid cases,
a notice, payments, corrections, reviews, objections). Then, through Django's test client (the whole request:
middleware, session, view, template):

1. ``GET /office/`` as a city administrator and as a district officer: cold (no kept figures: they are computed
   in the request), then warm (kept figures, nothing changed) ×5; then, every kept figure gone (as after a
   business event), the city administrator's first request followed by the district officer's;
2. the case list downloaded whole (``/office/queues/cases/?export=csv|xlsx``: 441,300 rows) and one district's
   (about 27,600 rows), each in its own subprocess, whose peak RSS (``os.wait4``) shows whether the export holds
   its rows in memory: constant memory means the same peak for 16× the rows.

Results are printed; ``--record`` appends them to bench/RESULTS.md. The database is kept (``--drop`` drops it).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import benchlib

DEFAULT_DB = "mianshen_bench_dashboard"
CASES = 441_300
DISTRICT = "110105"


def _setup(db: str) -> None:
    os.environ["MIANSHEN_DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:5432/{db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mianshen.settings")
    import django

    django.setup()


def _client(username: str, role: str, district: str | None) -> object:
    """A test client signed in as ``username`` with its second factor verified (as tests/backoffice do)."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from mianshen.staff.services import staff_add

    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        staff_add(username=username, role=role, district=district)
        user = get_user_model().objects.get(username=username)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    device = device or TOTPDevice.objects.create(user=user, name="TOTP", confirmed=True)
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def seed(db: str) -> float:
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", db], check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", db], check=True)
    _setup(db)
    from django.core.management import call_command

    import outcomes as outcomes_bench

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    outcomes_bench.seed(CASES, random.Random(2026))
    return time.perf_counter() - started


def time_dashboard(db: str, runs: int) -> dict[str, object]:
    _setup(db)
    from mianshen.reports.models import DashboardFigures

    out: dict[str, object] = {}
    for name, role, district in (
        ("bench-city", "city_admin", None),
        ("bench-district", "district_officer", DISTRICT),
    ):
        client = _client(name, role, district)
        DashboardFigures.objects.filter(district=district or "").delete()
        t = time.perf_counter()
        response = client.get("/office/")  # type: ignore[attr-defined]
        cold = time.perf_counter() - t
        assert response.status_code == 200, response.status_code
        assert b'id="table-money_district"' in response.content
        warm = []
        for _ in range(runs):
            t = time.perf_counter()
            response = client.get("/office/")  # type: ignore[attr-defined]
            warm.append(time.perf_counter() - t)
            assert response.status_code == 200
        out[role] = {"cold_s": round(cold, 3), "warm_s": [round(w, 4) for w in warm],
                     "warm_median_s": round(statistics.median(warm), 4), "load": os.getloadavg()[0]}  # fmt: skip
        print(f"dashboard {role:17} cold {cold:7.2f} s   warm median {statistics.median(warm) * 1000:7.1f} ms "
              f"(max {max(warm) * 1000:.1f} ms, {runs} runs)   load {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
    # after a business event every kept scope is stale: the city's first request, then the district officer's
    DashboardFigures.objects.all().delete()
    after: dict[str, float] = {}
    for name, role, district in (
        ("bench-city", "city_admin", None),
        ("bench-district", "district_officer", DISTRICT),
    ):
        client = _client(name, role, district)
        t = time.perf_counter()
        response = client.get("/office/")  # type: ignore[attr-defined]
        after[role] = round(time.perf_counter() - t, 3)
        assert response.status_code == 200, response.status_code
    out["after_change"] = {**after, "load": os.getloadavg()[0]}
    print(f"after a change: city's first request {after['city_admin']:7.2f} s, then the district officer's "
          f"{after['district_officer']:7.2f} s   load {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
    return out


def export_child(db: str, fmt: str, district: str) -> int:
    """One export, in this process: the response is read to its end and thrown away (as a socket would)."""
    _setup(db)
    client = _client("bench-city", "city_admin", None)
    query = {"export": fmt, **({"district": district} if district else {})}
    t = time.perf_counter()
    response = client.get("/office/queues/cases/", query)  # type: ignore[attr-defined]
    assert response.status_code == 200, response.status_code
    size = 0
    chunks = response.streaming_content if response.streaming else [response.content]
    for chunk in chunks:
        size += len(chunk)
    from mianshen.audit.models import AuditEvent

    event = AuditEvent.objects.filter(action=840).latest("seq")
    print(json.dumps({"fmt": fmt, "district": district, "bytes": size, "rows": event.after["rows"],
                      "seconds": round(time.perf_counter() - t, 2)}))  # fmt: skip
    return 0


def time_exports(db: str) -> list[dict[str, object]]:
    results = []
    for fmt in ("csv", "xlsx"):
        for district in (DISTRICT, ""):
            m = benchlib.run_measured(
                [sys.executable, __file__, "--db", db, "--export-child", fmt, "--district", district],
                rss_cap_bytes=benchlib.rss_cap(),
            )
            if not m.ok:
                print(m.stderr[-3000:])
                raise SystemExit(f"export {fmt} {district or 'city'} failed")
            row = {
                **m.result,
                "wall_s": round(m.wall_s, 2),
                "peak_rss_mib": round(m.max_rss_bytes / 2**20, 1),
            }
            results.append(row)
            print(f"export {fmt:4} {district or 'whole city':10} {row['rows']:>9,} rows  {row['bytes'] / 2**20:7.1f} MiB"
                  f"  {m.wall_s:6.1f} s  peak RSS {row['peak_rss_mib']:6.1f} MiB   load {os.getloadavg()[0]:.2f}",
                  flush=True)  # fmt: skip
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default=DEFAULT_DB)
    parser.add_argument("--reuse", action="store_true", help="use the database as it is (seeded before)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--record", action="store_true", help="append the results to bench/RESULTS.md")
    parser.add_argument("--drop", action="store_true", help="drop the scratch database at the end")
    parser.add_argument("--no-exports", action="store_true", help="time the dashboard only")
    parser.add_argument("--export-child", choices=("csv", "xlsx"), help=argparse.SUPPRESS)
    parser.add_argument("--district", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.export_child:
        return export_child(args.db, args.export_child, args.district)
    print(benchlib.machine_line(benchlib.machine()), flush=True)
    seeded = None
    if not args.reuse:
        seeded = seed(args.db)
        print(f"seed (untimed)  {seeded:.1f} s", flush=True)
    else:
        _setup(args.db)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    dash = time_dashboard(args.db, args.runs)
    exports = [] if args.no_exports else time_exports(args.db)
    benchlib.save_raw("dashboard", {"dashboard": dash, "exports": exports, "seed_s": seeded})
    if args.drop:
        from django.db import connections

        connections.close_all()
        subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", args.db], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Back-office payment pages at Beijing's size (issue 13: every page <= 1 s at 441,300 units on PostgreSQL).

    .venv/bin/python bench/payments_db.py --payments 441300 --keep --db h_scale_big   # fills the database
    .venv/bin/python bench/backoffice_pages.py --db h_scale_big [--runs 5] [--record]

Reads an existing database (it writes only its own city administrator, ``bench-admin``, once): each page is
requested ``--runs`` times in turn through Django's test client in-process (no socket, no WSGI server), after
one warm-up request each; prints the median and every run, and with ``--record`` appends the table to
bench/RESULTS.md with the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib

PAGES = (("payments", []), ("payment_failures", []), ("bank_files", []), ("reissues", []),
         ("reconciliation", []), ("inbound_files", []))  # fmt: skip


def verified_client(client: Any, user: Any) -> Any:
    """``client`` signed in as ``user`` with a verified second factor (a confirmed TOTP device named in the
    session, as ``django_otp.login`` leaves it after a code was accepted): without it every page redirects to the
    second-factor step, and a benchmark would time the redirect."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    device = device or TOTPDevice.objects.create(user=user, name="TOTP", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True, help="an existing PostgreSQL database (read)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--record", action="store_true", help="append the table to bench/RESULTS.md")
    parser.add_argument("--pages", help="comma-separated page names (default: all six)")
    args = parser.parse_args(argv)
    info = benchlib.machine()
    os.environ["MIANSHEN_DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:5432/{args.db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mianshen.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from mianshen.payments.models import Payment
    from mianshen.staff.services import staff_add

    users = get_user_model().objects
    if not users.filter(username="bench-admin").exists():
        staff_add(username="bench-admin", role="city_admin", district=None, granted_by="system:bench")
    client = verified_client(Client(HTTP_HOST="localhost"), users.get(username="bench-admin"))
    payments = Payment.objects.count()
    rows = []
    wanted = set(args.pages.split(",")) if args.pages else {name for name, _ in PAGES}
    for name, page_args in PAGES:
        if name not in wanted:
            continue
        url = reverse(f"backoffice:{name}", args=page_args)
        status = client.get(url).status_code  # warm-up
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            status = client.get(url).status_code
            times.append(time.perf_counter() - start)
        rows.append((name, url, status, statistics.median(times), times))
        print(f"{name:<18} HTTP {status}  median {statistics.median(times):6.3f} s  "
              f"runs {' '.join(f'{t:.3f}' for t in times)}")  # fmt: skip
    if args.record:
        lines = [
            f"### Back-office payment pages at {payments:,} payments (PostgreSQL)",
            "",
            f"- machine: {benchlib.machine_line(info)}",
            f"- command: `{benchlib.command_line()}` (database filled by "
            f"`bench/payments_db.py --payments {payments} --keep --db {args.db}`)",
            "",
            "| page | url | HTTP | median s | runs (s) |",
            "|---|---|---:|---:|---|",
            *(
                f"| {n} | `{u}` | {s} | {m:.3f} | {' '.join(f'{t:.3f}' for t in ts)} |"
                for n, u, s, m, ts in rows
            ),
        ]
        benchlib.append_results("\n".join(lines))
    return 0 if all(r[2] == 200 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Queueing "listed" messages when a public notice opens (issue 12: 441,300 units in ≤ 60 s on PostgreSQL).

Seeds N units with a registered phone (registry.Unit, one snapshot and round) and N rechecked cases, then times
notify's part of ``cases.services.notice_open``: the ``notice_opened`` receiver (``notify.receivers.listed``),
which reads the cases and the phones and writes 2 messages a unit (SMS + portal inbox) with COPY and one
``INSERT … ON CONFLICT DO NOTHING``, in one transaction (committed). ``--full`` times the whole ``notice_open``
instead (the 441,300 case moves included).

    MIANSHEN_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/h_notify_bench \\
        PYTHONPATH=src .venv/bin/python bench/notify_queue.py --units 441300 [--runs 2] [--full]

The database is migrated and used as is (use a throw-away one: the rows stay).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import UTC, date, datetime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=441_300)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--full", action="store_true", help="time notice_open as a whole")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mianshen.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from mianshen.cases.models import Case, Notice
    from mianshen.cases.services import notice_open
    from mianshen.core.bulkdb import allocate_ids, insert_rows
    from mianshen.notify.models import Message
    from mianshen.notify.receivers import listed
    from mianshen.registry.models import Snapshot, Unit
    from mianshen.screening.models import ScreeningRound

    call_command("migrate", verbosity=0)
    n = args.units
    load = os.getloadavg()
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores, load {load[0]:.2f}, "
          f"{connection.vendor}, {n:,} units")  # fmt: skip
    for run in range(1, args.runs + 1):
        t0 = time.perf_counter()
        tag = f"b{int(time.time())}r{run}"
        with transaction.atomic():
            snap = Snapshot.objects.create(
                content_hash=f"{tag:0>64}"[-64:], source="bench", extracted_on=date(2021, 6, 30)
            )
            rnd = ScreeningRound.objects.create(policy_id=f"bench-{tag}", number=1, snapshot=snap,
                                                snapshot_hash=snap.content_hash, as_of=date(2021, 7, 1), started_by="bench")  # fmt: skip
            insert_rows(Unit, ("snapshot_id", "line", "unit_id", "credit_code", "name", "unit_type", "industry",
                               "district", "dispatch", "phone"),
                        [(snap.pk, i + 2, f"{tag}U{i:07d}", f"91110105MA{i:08d}", f"北京第{i}号科技有限公司", "enterprise",
                          "65", "110105", False, f"139{i:08d}") for i in range(n)])  # fmt: skip
            ids = allocate_ids(Case, n)
            now = datetime.now(UTC).isoformat() if connection.vendor == "postgresql" else datetime.now(UTC)
            insert_rows(Case, ("id", "policy_id", "unit_id", "credit_code", "unit_name", "district", "state",
                               "amount_fen", "decision", "reason", "key_supervision", "last_round_id", "opened_at",
                               "updated_at", "version"),
                        [(pk, f"bench-{tag}", f"{tag}U{i:07d}", f"91110105MA{i:08d}", f"北京第{i}号科技有限公司", "110105",
                          "rechecked", 100_000 + 37 * i, "eligible", "", False, rnd.pk, now, now, 1)
                         for i, pk in enumerate(ids)])  # fmt: skip
        seeded = time.perf_counter() - t0
        before = Message.objects.count()
        t1 = time.perf_counter()
        if args.full:
            notice_open(policy_id=f"bench-{tag}", actor="bench", start=date(2021, 7, 1), days=7)
        else:
            with transaction.atomic():
                notice = Notice.objects.create(policy_id=f"bench-{tag}", title="bench", opened_by="bench",
                                               starts_at=datetime(2021, 6, 30, 16, tzinfo=UTC),
                                               ends_at=datetime(2021, 7, 7, 16, tzinfo=UTC))  # fmt: skip
                listed(sender=Notice, notice=notice, case_ids=ids, actor="bench")
        took = time.perf_counter() - t1
        made = Message.objects.count() - before
        what = "notice_open (whole)" if args.full else "listed messages (notify's part)"
        print(f"run {run}: seed {seeded:.1f} s; {what}: {made:,} messages in {took:.1f} s "
              f"({made / took:,.0f}/s)")  # fmt: skip


if __name__ == "__main__":
    main()

"""Benchmark the outcome statistics (contracts §5, ``reports.selectors.outcomes``) on PostgreSQL at Beijing's size.

    .venv/bin/python bench/outcomes.py                      # 441,300 paid cases (490,333 insured units)
    .venv/bin/python bench/outcomes.py --cases 100000 --keep

It creates a scratch database (``mianshen_bench_outcomes``), migrates it and loads, with COPY and untimed, what a
year of the refund leaves behind: a snapshot of the insured units (cases ÷ 0.9), three completed rounds with one
decision per unit each (with evidence JSON, as a round stores it), one case per eligible unit (paid), three
history rows per case, a notice listing every case, one payment per case with its settled instruction, 3 % of
them settled on a second attempt after a rejected one with an account correction, 0.5 % of cases reviewed,
objections on 0.1 %. Then it times ``outcomes()`` (three runs: every figure, total, by size class and by district)
and the command's CSV and XLSX exports, and drops the database (``--keep`` keeps it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

DB = "mianshen_bench_outcomes"
URL = f"postgresql://postgres@127.0.0.1:5432/{DB}"
CST = timezone(timedelta(hours=8))
DISTRICTS = ("110101", "110102", "110105", "110106", "110107", "110108", "110109", "110111", "110112", "110113",
             "110114", "110115", "110116", "110117", "110118", "110119")  # fmt: skip
SIZES = (("micro", 80), ("small", 14), ("medium", 4), ("large", 1), (None, 1))
BANKS = ("102", "103", "104", "105", "301")


def _size(rnd: random.Random) -> str | None:
    x = rnd.randrange(100)
    for size, share in SIZES:
        if x < share:
            return size
        x -= share
    return None


def seed(cases: int, rnd: random.Random) -> None:
    from django.db import transaction

    from mianshen.cases.models import Case, CaseHistory, Notice, NoticeEntry, Objection, Review
    from mianshen.core.bulkdb import insert_rows
    from mianshen.payments.models import Correction, Instruction, Payment
    from mianshen.payments.services.common import bank_registry_load_defaults
    from mianshen.registry.models import Snapshot, Unit
    from mianshen.screening.models import RoundDecision, ScreeningRound

    units = cases * 10 // 9
    day0 = datetime(2021, 7, 1, 10, 0, tzinfo=CST)
    with transaction.atomic():
        bank_registry_load_defaults()
        snap = Snapshot.objects.create(content_hash=f"{rnd.getrandbits(256):064x}", source="bench",
                                       extracted_on=date(2021, 7, 1))  # fmt: skip
        rounds = []
        for k, checkpoint in enumerate(("initial", "before_publicity", "before_payment"), start=1):
            r = ScreeningRound.objects.create(policy_id="beijing-2021", number=k, snapshot=snap, snapshot_hash="x",
                                              as_of=date(2021, 7, 1), checkpoint=checkpoint, status="completed",
                                              started_by="bench")  # fmt: skip
            ScreeningRound.objects.filter(pk=r.pk).update(started_at=day0 + timedelta(days=3 * (k - 1)))
            rounds.append(r)
        sizes = [_size(rnd) for _ in range(units)]
        districts = [DISTRICTS[rnd.randrange(len(DISTRICTS))] for _ in range(units)]
        kinds = ["enterprise" if rnd.random() < 0.95 else "social_org" for _ in range(units)]
        insert_rows(Unit, ("snapshot_id", "line", "unit_id", "credit_code", "name", "unit_type", "industry",
                           "district", "dispatch", "size_class_declared", "employees", "revenue_yuan", "assets_yuan",
                           "deregistered_on", "phone"),
                    [(snap.pk, i + 2, f"U{i:09d}", f"91110000{i:010d}", f"北京第{i}号科技有限公司", kinds[i], "I65",
                      districts[i], False, None, 10, None, None, None, None) for i in range(units)])  # fmt: skip
        for r in rounds:
            insert_rows(RoundDecision, ("round_id", "unit_id", "credit_code", "decision", "failed", "unknown",
                                        "routes", "amount_fen", "evidence"),
                        [(r.pk, f"U{i:09d}", f"91110000{i:010d}", "eligible" if i < cases else "ineligible",
                          "" if i < cases else "ARREARS", "", "", 123_456 if i < cases else 0,
                          json.dumps({"base_headcount": 10, "end_headcount": 10, "natural_attrition": 0,
                                      "layoff_rate": "0.0000", "layoff_limit": "0.06", "size_class": sizes[i],
                                      "size_basis": "indicators", "ratio_category": "sme", "ratio": "0.60",
                                      "base_fen": 205_760, "unit_type": kinds[i], "district": districts[i]}))
                         for i in range(units)])  # fmt: skip
        last = rounds[-1].pk
        now = day0 + timedelta(days=12)
        insert_rows(Case, ("id", "policy_id", "unit_id", "credit_code", "unit_name", "district", "state", "amount_fen",
                           "decision", "reason", "key_supervision", "last_round_id", "opened_at", "updated_at",
                           "version"),
                    [(i + 1, "beijing-2021", f"U{i:09d}", f"91110000{i:010d}", f"北京第{i}号科技有限公司", districts[i],
                      "paid", 123_456, "eligible", "", False, last, day0, now, 3) for i in range(cases)])  # fmt: skip
        insert_rows(CaseHistory, ("case_id", "from_state", "to_state", "actor", "reason", "round_id", "at"),
                    [row for i in range(cases) for row in (
                        (i + 1, "", "identified", "round 1", "eligible", rounds[0].pk, day0),
                        (i + 1, "publicised", "approved", "round 3", "eligible", last, day0 + timedelta(days=10)),
                        (i + 1, "released", "paid", "system", "booked", None, now + timedelta(days=rnd.randrange(4))),
                    )])  # fmt: skip
        notice = Notice.objects.create(policy_id="beijing-2021", title="bench", opened_by="bench",
                                       starts_at=day0 + timedelta(days=3), ends_at=day0 + timedelta(days=10))  # fmt: skip
        insert_rows(NoticeEntry, ("notice_id", "case_id", "unit_name", "masked_credit_code", "amount_fen", "district"),
                    [(notice.pk, i + 1, f"北京第{i}号科技有限公司", "911100****0000", 123_456, districts[i])
                     for i in range(cases)])  # fmt: skip
        retried = set(rnd.sample(range(cases), cases * 3 // 100))
        payments, instructions, corrections = [], [], []
        extra = cases
        for i in range(cases):
            bank = BANKS[i % len(BANKS)]
            booked = date(2021, 7, 13) + timedelta(days=rnd.randrange(6))
            current = i + 1
            if i in retried:
                extra += 1
                current = extra
                instructions.append((i + 1, i + 1, i + 1, 1, f"E{i:012d}A", 123_456, bank, "b", "a", "n", "r",
                                     "snapshot", None, "rejected", None, "RJCT", True, "AC01", None, None, "",
                                     "correct_account", "bench", now))  # fmt: skip
                corrections.append((i + 1, i + 1, "account", bank, "b", "a2", "n", "", "officer-a", now,
                                    "reviewer-b", now, "approved", "", extra, snap.pk))  # fmt: skip
            instructions.append((current, i + 1, i + 1, 2 if i in retried else 1, f"E{i:012d}B", 123_456, bank, "b",
                                 "a", "n", "r", "snapshot", i + 1 if i in retried else None, "settled", None, "ACSC",
                                 False, "", booked, None, "", "", "bench", now))  # fmt: skip
            payments.append((i + 1, i + 1, 123_456, now, "bench", current, "", None, "", ""))
        insert_rows(Payment, ("id", "case_id", "amount_fen", "released_at", "released_by", "current_id", "note",
                              "cancelled_at", "cancelled_by", "cancel_reason"), payments)  # fmt: skip
        insert_rows(Instruction, ("id", "payment_id", "case_id", "attempt", "end_to_end_id", "amount_fen", "bank_id",
                                  "creditor_branch_code", "creditor_account", "creditor_name", "remittance",
                                  "account_source", "replaces_id", "status", "bank_file_id", "bank_status", "rejected",
                                  "reject_codes", "booked_on", "returned_on", "return_reason", "action", "created_by",
                                  "created_at"), instructions)  # fmt: skip
        insert_rows(Correction, ("payment_id", "failed_id", "kind", "bank_id", "branch_code", "account_no",
                                 "account_name", "note", "prepared_by", "prepared_at", "decided_by", "decided_at",
                                 "outcome", "decision_note", "reissue_id", "snapshot_id"), corrections)  # fmt: skip
        insert_rows(Review, ("case_id", "kind", "recommendation", "prepared_by", "prepared_at", "notes", "decided_by",
                             "decided_at", "outcome"),
                    [(i + 1, "manual_review", "approve", "officer-a", now, "ok", "reviewer-b", now, "approve")
                     for i in rnd.sample(range(cases), cases // 200)])  # fmt: skip
        insert_rows(Objection, ("case_id", "notice_id", "raised_by", "contact", "grounds", "recorded_by",
                                "recorded_at", "outcome", "decided_by", "decided_at", "decision_reason"),
                    [(i + 1, notice.pk, "public", "138", "g", "officer-a", now, "rejected", "reviewer-b", now, "r")
                     for i in rnd.sample(range(cases), cases // 1000)])  # fmt: skip
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=441_300, help="paid cases (units = cases × 10 / 9)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB], check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", DB], check=True)
    os.environ["MIANSHEN_DATABASE_URL"] = URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mianshen.settings")
    try:
        return run(args)
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB], check=False)


def run(args: argparse.Namespace) -> int:
    import resource
    import tempfile

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from mianshen.reports.selectors import outcomes

    print(f"python {platform.python_version()}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}, "
          f"{args.cases:,} paid cases, {args.cases * 10 // 9:,} insured units, PostgreSQL {DB}")  # fmt: skip
    t = time.perf_counter()
    seed(args.cases, random.Random(args.seed))
    print(f"seed (untimed)          {time.perf_counter() - t:7.2f} s")
    times = []
    for k in range(args.runs):
        t = time.perf_counter()
        result = outcomes("beijing-2021")
        times.append(time.perf_counter() - t)
        print(f"outcomes() run {k + 1}        {times[-1]:7.2f} s  ({len(result.cells)} cells, "
              f"load {os.getloadavg()[0]:.2f})")  # fmt: skip
    print(f"outcomes() median       {statistics.median(times):7.2f} s")
    paid = result.value("units_paid")
    assert paid == args.cases, paid
    assert result.value("recovered") == args.cases * 3 // 100
    print(f"   units_paid {paid:,}, sme_coverage {result.value('sme_coverage')}, first_try_success "
          f"{result.value('first_try_success')}, days_identified_to_money median "
          f"{result.value('days_identified_to_money_median')} p90 {result.value('days_identified_to_money_p90')}, "
          f"untouched_share {result.value('untouched_share')}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("csv", "xlsx"):
            t = time.perf_counter()
            call_command("report", "outcomes", "--format", fmt, "--out", str(Path(tmp) / f"o.{fmt}"))
            print(f"report outcomes --format {fmt:4} {time.perf_counter() - t:5.2f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"peak memory of this process (seeding included) {peak:.2f} GB")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    sys.exit(main())

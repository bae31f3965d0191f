"""The reconciliation sums in the database (``reconcile_run``: SQL aggregates, only problem cases come back row by
row), checked against an independent computation in Python over every row, on a world with every kind of
defect the identity catches."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from mianshen.cases.models import Case
from mianshen.cases.states import PAYMENT_STATES, State
from mianshen.payments.case_states import CASE_STATE
from mianshen.payments.lifecycle import Bucket, InstructionStatus, bucket
from mianshen.payments.models import Booking, BookingKind, Instruction, Payment
from mianshen.payments.services.reconcile import reconcile_run

from .factories import approved_cases, uploaded
from .factories import ingest as feed
from .messages import bookings, status_report

pytestmark = pytest.mark.django_db


def reference() -> dict[str, Any]:
    """Rule 1 and the returns of rule 2, row by row in Python (the computation before it moved into SQL)."""
    released = dict(Case.objects.filter(state__in=PAYMENT_STATES).values_list("pk", "amount_fen"))
    states = dict(Case.objects.filter(state__in=PAYMENT_STATES).values_list("pk", "state"))
    settled: dict[int, list[int]] = defaultdict(list)
    for case_id, amount in Instruction.objects.filter(status="settled").values_list("case_id", "amount_fen"):
        settled[case_id].append(amount)
    out: dict[str, Any] = {"approved": 0, "cases": 0, "problems": [],
                           "fen": {b.value: 0 for b in Bucket}, "count": {b.value: 0 for b in Bucket}}  # fmt: skip
    seen = set()
    rows = Payment.objects.order_by("pk").values_list(
        "case_id", "amount_fen", "cancelled_at", "current__status", "current__amount_fen"
    )
    for case_id, pay_amount, cancelled_at, status, current_amount in rows:
        seen.add(case_id)
        approved = released.get(case_id)
        if approved is None:
            out["problems"].append(f"case {case_id} has a payment but is not released")
            approved = pay_amount
        out["approved"] += approved
        out["cases"] += 1
        place = bucket(
            current=InstructionStatus(status) if status else None, cancelled=cancelled_at is not None
        )
        out["count"][place.value] += 1
        if case_id in states and states[case_id] != CASE_STATE[place].value:
            out["problems"].append(f"case {case_id} says {states[case_id]} but its payment is {place.value}")
        paid = settled.get(case_id, [])
        placed = sum(paid)
        if place != Bucket.SETTLED:
            here = current_amount if current_amount is not None else pay_amount
            placed += here
            out["fen"][place.value] += here
        out["fen"]["settled"] += sum(paid)
        if len(paid) > 1 or (paid and place != Bucket.SETTLED):
            out["problems"].append(f"case {case_id}: paid {len(paid)} time(s) while {place.value}")
        if placed != approved:
            out["problems"].append(f"case {case_id}: approved {approved} fen, placed {placed} fen")
    for case_id in sorted(set(released) - seen):
        out["approved"] += released[case_id]
        out["cases"] += 1
        out["problems"].append(f"case {case_id} is released but has no payment: its money is nowhere")
    debit_day = dict(
        Booking.objects.filter(kind=BookingKind.DEBIT).values_list("end_to_end_id", "booking_date")
    )
    returned: dict[tuple[str, Any], int] = defaultdict(int)
    for e2e, bank, amount in (
        Booking.objects.filter(kind=BookingKind.RETURN)
        .order_by("pk")
        .values_list("end_to_end_id", "bank_id", "amount_fen")
    ):
        if e2e not in debit_day:
            out["problems"].append(f"return of {e2e} without a debit booking")
        returned[(bank, debit_day.get(e2e))] += amount
    out["returned"] = {k: v for k, v in returned.items() if v}
    return out


def computed() -> dict[str, Any]:
    r = reconcile_run()
    return {
        "approved": r.approved_fen,
        "cases": r.cases,
        "problems": [*r.case_problems, *(p for p in r.ledger_problems if p.startswith("return of"))],
        "fen": r.buckets_fen,
        "count": r.buckets_count,
        "returned": {(d.bank, d.day): d.returned_fen for d in r.days if d.returned_fen},
    }


def test_the_sums_in_sql_equal_the_row_by_row_computation(tmp_path: Path) -> None:
    files = uploaded(12, root=tmp_path, banks=("102", "105"))
    insts = [i for bf in files for i in bf.instructions.order_by("pk")]
    for bf in files:
        mine = [i for i in insts if i.bank_file_id == bf.pk]
        feed(status_report(bf, {i.end_to_end_id: ("RJCT", ("AC01",)) if k == 0 else ("ACSP", ()) for k, i in enumerate(mine)}))  # fmt: skip
        feed(bookings(mine[1:]))
    for i in insts:
        i.refresh_from_db()
    back = next(i for i in insts if i.status == "settled")
    feed(bookings([back], day=date(2026, 12, 3), returned="AC04"))  # booked, then returned
    healthy = reference()
    assert computed() == healthy and reconcile_run().ok
    assert healthy["count"]["settled"] == 9 and healthy["count"]["awaiting_correction"] == 3
    assert healthy["returned"] and not healthy["problems"]

    # defects, each made behind the services' back
    a, b, c, d = [i for i in insts if i.status == "settled"][:4]
    Case.objects.filter(pk=a.case_id).update(state=State.RELEASED)  # says released, its money is settled
    Payment.objects.filter(case_id=b.case_id).update(amount_fen=b.amount_fen + 1)  # amount differs
    Case.objects.filter(pk=c.case_id).update(state=State.APPROVED)  # a payment, but not released
    Instruction.objects.filter(pk=d.pk).update(amount_fen=d.amount_fen - 7)  # placed differs from approved
    [lonely] = approved_cases(1, start=900)
    Case.objects.filter(pk=lonely.pk).update(state=State.RELEASED)  # released without a payment
    Booking.objects.filter(
        end_to_end_id=back.end_to_end_id, kind=BookingKind.DEBIT
    ).delete()  # a return alone
    broken = reference()
    assert computed() == broken
    assert len(broken["problems"]) >= 5 and not reconcile_run().ok

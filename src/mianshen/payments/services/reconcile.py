"""The money identity of payments.md, checked to the fen (``mianshen reconcile``).

1. Per case: the approved amount is in exactly one place — settled (booked, not returned), in flight, awaiting
   correction, or cancelled — and summed over cases, approved = settled + in flight + awaiting correction +
   cancelled. A case counted twice (two settled instructions) or nowhere (released without a payment) breaks it.
2. Per bank and booking day: settled instructions = debit bookings − returns of those bookings (the ledger comes
   from camt.054, the instructions from the fold of every report: two independent records of the same money).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.db import transaction
from django.db.models import Sum

from mianshen.audit.catalogue import Action
from mianshen.audit.services import audit_record
from mianshen.cases.models import Case
from mianshen.cases.states import PAYMENT_STATES, State

from ..case_states import CASE_STATE
from ..lifecycle import Bucket, InstructionStatus, bucket
from ..models import Booking, BookingKind, Instruction, Payment, ReconcileRun

IS = InstructionStatus


@dataclass(frozen=True)
class DayLine:
    bank: str
    day: date | None
    settled_fen: int
    debit_fen: int
    returned_fen: int

    @property
    def difference_fen(self) -> int:
        return self.settled_fen - (self.debit_fen - self.returned_fen)


@dataclass
class ReconcileReport:
    approved_fen: int = 0
    cases: int = 0
    buckets_fen: dict[str, int] = field(default_factory=lambda: {b.value: 0 for b in Bucket})
    buckets_count: dict[str, int] = field(default_factory=lambda: {b.value: 0 for b in Bucket})
    case_problems: list[str] = field(default_factory=list)
    days: list[DayLine] = field(default_factory=list)
    ledger_problems: list[str] = field(default_factory=list)
    approved_waiting: int = 0  # approved cases not yet handed over (not part of the identity)

    @property
    def placed_fen(self) -> int:
        return sum(self.buckets_fen.values())

    @property
    def difference_fen(self) -> int:
        return self.approved_fen - self.placed_fen

    @property
    def day_differences(self) -> list[DayLine]:
        return [d for d in self.days if d.difference_fen != 0]

    @property
    def ok(self) -> bool:
        return (
            self.difference_fen == 0
            and not self.case_problems
            and not self.day_differences
            and not (self.ledger_problems)
        )


def reconcile_record(*, actor: str) -> tuple[ReconcileReport, ReconcileRun]:
    """Reconcile and keep the result (the overview's latest check, and the history of checks)."""
    report = reconcile_run()
    problems = len(report.case_problems) + len(report.ledger_problems) + len(report.day_differences)
    with transaction.atomic():
        run = ReconcileRun.objects.create(
            by=actor, ok=report.ok, cases=report.cases, approved_fen=report.approved_fen,
            difference_fen=report.difference_fen, problems=problems, approved_waiting=report.approved_waiting,
            buckets={b: {"cases": report.buckets_count[b], "fen": report.buckets_fen[b]} for b in report.buckets_fen},
        )  # fmt: skip
        audit_record(
            actor=actor,
            action=Action.RECONCILED,
            obj_type="reconcile_run",
            obj_id=run.pk,
            after={"ok": report.ok, "approved_fen": report.approved_fen,
                   "difference_fen": report.difference_fen, "problems": problems},
        )  # fmt: skip
    return report, run


def reconcile_run() -> ReconcileReport:
    report = ReconcileReport()
    _cases(report)
    _ledger(report)
    report.approved_waiting = Case.objects.filter(state=State.APPROVED).count()
    return report


def _cases(report: ReconcileReport) -> None:
    rows = Case.objects.filter(state__in=PAYMENT_STATES).values_list("pk", "amount_fen", "state")
    released = {pk: amount for pk, amount, _ in rows}
    states = {pk: state for pk, _, state in rows}
    payments = Payment.objects.values_list("case_id", "amount_fen", "cancelled_at", "current__status",
                                           "current__amount_fen")  # fmt: skip
    settled: dict[int, list[int]] = defaultdict(list)
    for case_id, amount in Instruction.objects.filter(status=IS.SETTLED).values_list("case_id", "amount_fen"):
        settled[case_id].append(amount)
    seen = set()
    for case_id, pay_amount, cancelled_at, status, current_amount in payments.iterator(chunk_size=20_000):
        seen.add(case_id)
        approved = released.get(case_id)
        if approved is None:
            report.case_problems.append(f"case {case_id} has a payment but is not released")
            approved = pay_amount
        report.approved_fen += approved
        report.cases += 1
        place = bucket(current=IS(status) if status else None, cancelled=cancelled_at is not None)
        report.buckets_count[place.value] += 1
        if case_id in states and states[case_id] != CASE_STATE[place].value:
            report.case_problems.append(
                f"case {case_id} says {states[case_id]} but its payment is {place.value}"
            )
        placed = sum(settled.get(case_id, []))
        if place != Bucket.SETTLED:
            placed += current_amount if current_amount is not None else pay_amount
            report.buckets_fen[place.value] += current_amount if current_amount is not None else pay_amount
        report.buckets_fen[Bucket.SETTLED.value] += sum(settled.get(case_id, []))
        if len(settled.get(case_id, [])) > 1 or (settled.get(case_id) and place != Bucket.SETTLED):
            report.case_problems.append(
                f"case {case_id}: paid {len(settled[case_id])} time(s) while {place.value}"
            )
        if placed != approved:
            report.case_problems.append(f"case {case_id}: approved {approved} fen, placed {placed} fen")
    for case_id in sorted(set(released) - seen):
        report.approved_fen += released[case_id]
        report.cases += 1
        report.case_problems.append(f"case {case_id} is released but has no payment: its money is nowhere")


def _ledger(report: ReconcileReport) -> None:
    settled: dict[tuple[str, date | None], int] = {
        (b, d): s
        for b, d, s in Instruction.objects.filter(status=IS.SETTLED)
        .values_list("bank_id", "booked_on")
        .annotate(s=Sum("amount_fen"))
        .values_list("bank_id", "booked_on", "s")
    }
    debits: dict[tuple[str, date | None], int] = {
        (b, d): s
        for b, d, s in Booking.objects.filter(kind=BookingKind.DEBIT)
        .values_list("bank_id", "booking_date")
        .annotate(s=Sum("amount_fen"))
        .values_list("bank_id", "booking_date", "s")
    }
    debit_day = dict(
        Booking.objects.filter(kind=BookingKind.DEBIT).values_list("end_to_end_id", "booking_date")
    )
    returned: dict[tuple[str, date | None], int] = defaultdict(int)
    for e2e, bank, amount in Booking.objects.filter(kind=BookingKind.RETURN).values_list(
        "end_to_end_id", "bank_id", "amount_fen"
    ):
        day = debit_day.get(e2e)
        if day is None:
            report.ledger_problems.append(f"return of {e2e} without a debit booking")
        returned[(bank, day)] += amount
    keys = sorted(set(settled) | set(debits) | set(returned), key=lambda k: (k[0], k[1] or date.min))
    report.days = [
        DayLine(bank, day, int(settled.get((bank, day), 0)), int(debits.get((bank, day), 0)),
                int(returned.get((bank, day), 0)))
        for bank, day in keys
    ]  # fmt: skip
    unbooked = Instruction.objects.filter(status=IS.SETTLED).exclude(
        end_to_end_id__in=Booking.objects.filter(kind=BookingKind.DEBIT).values("end_to_end_id")
    )
    for e2e in unbooked.values_list("end_to_end_id", flat=True)[:100]:
        report.ledger_problems.append(f"{e2e} is settled without a debit booking")

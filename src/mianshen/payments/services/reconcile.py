"""The money identity of payments.md, checked to the fen (``mianshen reconcile``).

1. Per case: the approved amount is in exactly one place — settled (booked, not returned), in flight, awaiting
   correction, or cancelled — and summed over cases, approved = settled + in flight + awaiting correction +
   cancelled. A case counted twice (two settled instructions) or nowhere (released without a payment) breaks it.
2. Per bank and booking day: settled instructions = debit bookings − returns of those bookings (the ledger comes
   from camt.054, the instructions from the fold of every report: two independent records of the same money).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from django.db import connection, transaction
from django.db.models import OuterRef, Subquery, Sum

from mianshen.audit.catalogue import Action
from mianshen.audit.services import audit_record
from mianshen.cases.models import Case
from mianshen.cases.states import PAYMENT_STATES, State

from ..case_states import CASE_STATE
from ..lifecycle import FAILED, Bucket, InstructionStatus
from ..models import Booking, BookingKind, Instruction, ReconcileRun

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


def _sql_list(values: Iterable[str]) -> str:
    """Constant status / state names as an SQL list (the enums' own values, never input)."""
    return ", ".join(f"'{v}'" for v in sorted(values))


# Per payment (case): the bucket of its current instruction (``lifecycle.bucket``), its approved amount, what it
# placed, how often it was settled, and the case's state. Summed by the database; only the problem cases (none in
# a healthy system) come back row by row.
_PER_CASE = f"""
WITH settled AS (
    SELECT case_id, COUNT(*) AS n, SUM(amount_fen) AS fen FROM payments_instruction
    WHERE status = '{IS.SETTLED.value}' GROUP BY case_id
), per AS (
    SELECT p.id AS payment_id, p.case_id, c.state, c.amount_fen AS approved_case, p.amount_fen AS pay_amount,
           CASE WHEN p.cancelled_at IS NOT NULL THEN '{Bucket.CANCELLED.value}'
                WHEN i.status IS NULL OR i.status IN ({_sql_list(s.value for s in (*FAILED, IS.CANCELLED))})
                    THEN '{Bucket.AWAITING_CORRECTION.value}'
                WHEN i.status = '{IS.SETTLED.value}' THEN '{Bucket.SETTLED.value}'
                ELSE '{Bucket.IN_FLIGHT.value}' END AS place,
           COALESCE(i.amount_fen, p.amount_fen) AS current_amount,
           COALESCE(st.n, 0) AS settled_n, COALESCE(st.fen, 0) AS settled_fen
    FROM payments_payment p
    LEFT JOIN payments_instruction i ON i.id = p.current_id
    LEFT JOIN settled st ON st.case_id = p.case_id
    LEFT JOIN cases_case c ON c.id = p.case_id AND c.state IN ({_sql_list(PAYMENT_STATES)})
), placed AS (
    SELECT per.*, COALESCE(approved_case, pay_amount) AS approved,
           settled_fen + CASE WHEN place <> '{Bucket.SETTLED.value}' THEN current_amount ELSE 0 END AS placed_fen,
           CASE place {" ".join(f"WHEN '{b.value}' THEN '{CASE_STATE[b].value}'" for b in Bucket)} END AS expected
    FROM per
)
"""
_TOTALS = (
    _PER_CASE
    + f"""SELECT place, COUNT(*), SUM(approved),
       SUM(CASE WHEN place <> '{Bucket.SETTLED.value}' THEN current_amount ELSE 0 END), SUM(settled_fen)
FROM placed GROUP BY place"""
)
_PROBLEMS = (
    _PER_CASE
    + f"""SELECT case_id, state, approved, pay_amount, place, expected, settled_n, placed_fen FROM placed
WHERE state IS NULL OR state <> expected OR settled_n > 1 OR (settled_n > 0 AND place <> '{Bucket.SETTLED.value}')
   OR placed_fen <> approved
ORDER BY payment_id"""
)
_RELEASED_WITHOUT_PAYMENT = f"""
SELECT c.id, c.amount_fen FROM cases_case c
WHERE c.state IN ({_sql_list(PAYMENT_STATES)})
  AND NOT EXISTS (SELECT 1 FROM payments_payment p WHERE p.case_id = c.id)
ORDER BY c.id"""


def _cases(report: ReconcileReport) -> None:
    """Rule 1, by SQL aggregates: the totals per bucket over every payment, and the cases that break it."""
    with connection.cursor() as cursor:
        cursor.execute(_TOTALS)
        for place, n, approved, placed, settled in cursor.fetchall():
            report.cases += n
            report.approved_fen += int(approved or 0)
            report.buckets_count[place] += n
            if place != Bucket.SETTLED.value:
                report.buckets_fen[place] += int(placed or 0)
            report.buckets_fen[Bucket.SETTLED.value] += int(settled or 0)
        cursor.execute(_PROBLEMS)
        for case_id, state, approved, _pay, place, expected, settled_n, placed_sum in cursor.fetchall():
            placed = int(placed_sum)  # PostgreSQL sums bigint as numeric
            if state is None:
                report.case_problems.append(f"case {case_id} has a payment but is not released")
            elif state != expected:
                report.case_problems.append(f"case {case_id} says {state} but its payment is {place}")
            if settled_n > 1 or (settled_n and place != Bucket.SETTLED.value):
                report.case_problems.append(f"case {case_id}: paid {settled_n} time(s) while {place}")
            if placed != approved:
                report.case_problems.append(f"case {case_id}: approved {approved} fen, placed {placed} fen")
        cursor.execute(_RELEASED_WITHOUT_PAYMENT)
        for case_id, amount in cursor.fetchall():
            report.approved_fen += amount
            report.cases += 1
            report.case_problems.append(
                f"case {case_id} is released but has no payment: its money is nowhere"
            )


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
    # each return against the day of its debit booking (at most one debit per EndToEndId: ``booking_once``)
    debit = Booking.objects.filter(kind=BookingKind.DEBIT, end_to_end_id=OuterRef("end_to_end_id"))
    returns = Booking.objects.filter(kind=BookingKind.RETURN).annotate(
        debit_day=Subquery(debit.values("booking_date")[:1])
    )
    returned: dict[tuple[str, date | None], int] = defaultdict(int)
    for bank, day, amount in (
        returns.values_list("bank_id", "debit_day")
        .annotate(s=Sum("amount_fen"))
        .values_list("bank_id", "debit_day", "s")
    ):
        returned[(bank, day)] += amount
    for e2e in returns.filter(debit_day=None).order_by("pk").values_list("end_to_end_id", flat=True):
        report.ledger_problems.append(f"return of {e2e} without a debit booking")
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

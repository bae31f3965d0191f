"""Back-office reads about payments: the failures queue, corrections, four-eyes requests, re-issues (each
scoped to the user's district through ``roles.scope``), and the city-level views of bank files and batches.

The payment app's own selectors (``payments.selectors``) and services are the source; this module only narrows,
orders and groups what they hold for the pages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, overload

from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet, Sum
from django.db.models.expressions import RawSQL

from mianshen.cases.models import Case
from mianshen.cases.states import PAYMENT_STATES, State
from mianshen.payments.lifecycle import CANCELLABLE, FAILED, InstructionStatus
from mianshen.payments.models import (
    Approval,
    ApprovalKind,
    BankFile,
    Correction,
    HoldItem,
    InboundFile,
    InboundStatus,
    Instruction,
    Payment,
    StatusLine,
)
from mianshen.payments.reasons import Action as Do
from mianshen.payments.selectors import reissue_waiting
from mianshen.reports.dashboard import kept_case_states

from .roles import scope, staff_of, visible_cases

IS = InstructionStatus
# the current instruction of a payment waiting for a correction (lifecycle.bucket: awaiting_correction)
NOT_PAID = sorted(s.value for s in FAILED | {IS.CANCELLED})


# ---- the failures queue ----------------------------------------------------------------------------------


def correction_candidate_ids() -> RawSQL:
    """The ids of the payments that may be awaiting a correction — never instructed and not cancelled, or with an
    attempt that failed or was withdrawn (the current one or an earlier) — as a subquery read from two small
    partial indexes (``payment_uninstructed``, ``instruction_not_paid``: index-only scans), rather than every
    payment joined with its current attempt (seconds at 441,300 payments: the OR across the join defeats every
    index). :func:`failures` keeps those whose current attempt is the failed one."""
    pay, ins = Payment._meta.db_table, Instruction._meta.db_table
    sql = f"""SELECT p.id FROM {pay} p WHERE p.current_id IS NULL AND p.cancelled_at IS NULL
              UNION
              SELECT i.payment_id FROM {ins} i WHERE i.status IN ({", ".join(["%s"] * len(NOT_PAID))})"""
    return RawSQL(sql, NOT_PAID)  # a fixed three parameters, whatever the number of payments


@dataclass(frozen=True)
class FailureFilter:
    district: str = ""
    action: str = ""
    q: str = ""


def failures(user: Any, f: FailureFilter) -> QuerySet[Payment]:
    """Payments awaiting a correction (failed, returned, or never instructed for want of a usable account) and
    not cancelled, in the user's districts; each annotated with whether a correction or a cancellation request
    waits for a decision."""
    return _failure_details(_failures_chosen(user, f))


def failures_paged(user: Any, f: FailureFilter) -> KeysFirst:
    """:func:`failures` for the paginator: counted from the candidates' partial indexes; a page's 25 ids chosen
    by walking the payments in case order (the failures are a few percent: a page reads a few hundred payments,
    not every candidate), then only those rows read with their case, attempt, file and open requests."""
    walk = _failures_filtered(
        Payment.objects.filter(cancelled_at=None).filter(Q(current=None) | Q(current__status__in=NOT_PAID)),
        user,
        f,
    )
    return KeysFirst(
        _failures_chosen(user, f), walk, lambda ids: _failure_details(Payment.objects.filter(pk__in=ids))
    )


def _failures_chosen(user: Any, f: FailureFilter) -> QuerySet[Payment]:
    qs = Payment.objects.filter(pk__in=correction_candidate_ids(), cancelled_at=None)
    qs = qs.filter(Q(current=None) | Q(current__status__in=NOT_PAID))  # a few probes per candidate
    return _failures_filtered(qs, user, f)


def _failures_filtered(qs: QuerySet[Payment], user: Any, f: FailureFilter) -> QuerySet[Payment]:
    qs = scope(qs, user, district_field="case__district")
    if f.district:
        qs = qs.filter(case__district=f.district)
    if f.action == "no_account":
        qs = qs.filter(current=None)
    elif f.action:
        qs = qs.filter(current__action=f.action)
    if f.q:
        qs = qs.filter(Q(case__unit_name__icontains=f.q) | Q(case__unit_id__icontains=f.q))
    return qs.order_by("case_id")


def _failure_details(qs: QuerySet[Payment]) -> QuerySet[Payment]:
    open_correction = Correction.objects.filter(payment=OuterRef("pk"), decided_by="")
    open_cancel = Approval.objects.filter(
        case=OuterRef("case_id"), kind=ApprovalKind.CANCEL_PAYMENT, decided_by=""
    )
    return (
        qs.select_related("case", "current", "current__bank_file")
        .defer("current__bank_file__content")
        .annotate(open_correction=Exists(open_correction), open_cancel=Exists(open_cancel))
        .order_by("case_id")
    )


class KeysFirst:
    """A list for ``Paginator`` (``count``, ``len``, slices): counted by ``counted``; a slice read as the ids of ``paged`` (the same rows, in
    page order) in that slice, then their rows by ``rows(ids)``, in the same order."""

    def __init__(
        self, counted: QuerySet[Any], paged: QuerySet[Any], rows: Callable[[list[int]], QuerySet[Any]]
    ) -> None:
        self.counted, self.paged, self.rows = counted, paged, rows

    def count(self) -> int:
        return self.counted.count()

    def __len__(self) -> int:
        return self.count()

    @overload
    def __getitem__(self, k: int) -> Any: ...
    @overload
    def __getitem__(self, k: slice) -> list[Any]: ...
    def __getitem__(self, k: int | slice) -> Any:
        if isinstance(k, int):
            return self[k : k + 1][0]
        ids = list(self.paged.values_list("pk", flat=True)[k])
        found = {row.pk: row for row in self.rows(ids)}
        return [found[pk] for pk in ids if pk in found]


def holds_open_all() -> QuerySet[HoldItem]:
    """The open hold queue (city-level: holds are about files and banks as much as cases)."""
    return (
        HoldItem.objects.filter(resolved_at=None)
        .select_related("case", "instruction", "bank_file", "inbound")
        .defer("bank_file__content", "inbound__content")
        .order_by("id")
    )


# ---- corrections, requests, re-issues --------------------------------------------------------------------


def _open_first(qs: QuerySet[Any]) -> QuerySet[Any]:
    """Undecided first (oldest first), then decided (latest decision first)."""
    is_open = ExpressionWrapper(Q(decided_by=""), output_field=BooleanField())
    return qs.annotate(is_open=is_open).order_by(
        F("is_open").desc(), F("decided_at").desc(nulls_first=True), "pk"
    )


def corrections(user: Any) -> QuerySet[Correction]:
    """Account corrections of the user's districts: open ones first (oldest first), then the decided ones
    (latest first)."""
    qs = scope(Correction.objects.all(), user, district_field="payment__case__district")
    return _open_first(qs.select_related("payment__case", "failed", "reissue"))


def approvals(user: Any) -> QuerySet[Approval]:
    """Four-eyes requests: open first (oldest first), then decided (latest first). District staff see the
    cancellation requests of their district's cases only (a file re-issue concerns every district)."""
    staff = staff_of(user)
    qs = Approval.objects.select_related("case", "bank_file").defer("bank_file__content")
    if staff is None:
        return qs.none()
    if not staff.city_level:
        qs = qs.filter(kind=ApprovalKind.CANCEL_PAYMENT, case__district=staff.district)
    return _open_first(qs)


@dataclass(frozen=True)
class Reissue:
    new: Instruction
    old: Instruction
    why: str  # "correction" / "file_defect" / "other"
    correction: Correction | None
    approval: Approval | None


def reissues(user: Any) -> QuerySet[Instruction]:
    """Instructions that re-issue a failed one (``replaces`` set), latest first, in the user's districts."""
    qs = scope(Instruction.objects.filter(replaces__isnull=False), user, district_field="case__district")
    return (
        qs.select_related("case", "replaces", "replaces__bank_file", "bank_file")
        .defer("replaces__bank_file__content", "bank_file__content")
        .order_by("-pk")
    )


def reissue_rows(instructions: list[Instruction]) -> list[Reissue]:
    """Why each re-issue was made: an approved correction, or an approved re-issue of a defective file."""
    by_reissue = {
        c.reissue_id: c for c in Correction.objects.filter(reissue__in=[i.pk for i in instructions])
    }
    files = {i.replaces.bank_file_id for i in instructions if i.replaces and i.replaces.bank_file_id}
    approved = {
        a.bank_file_id: a
        for a in Approval.objects.filter(
            kind=ApprovalKind.REISSUE_FILE, bank_file__in=files, outcome="approved"
        ).order_by("pk")
    }
    rows = []
    for inst in instructions:
        old = inst.replaces
        assert old is not None
        correction = by_reissue.get(inst.pk)
        approval = None
        if correction is not None:
            why = "correction"
        elif old.action == Do.OUR_DEFECT_RESEND.value:
            why, approval = "file_defect", approved.get(old.bank_file_id)
        else:
            why = "other"
        rows.append(Reissue(inst, old, why, correction, approval))
    return rows


# ---- one case's payment ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CasePayment:
    payment: Payment
    current: Instruction | None
    attempts: list[Instruction]
    corrections: list[Correction]
    approvals: list[Approval]
    open_correction: Correction | None
    open_cancel: Approval | None
    cancellable: bool  # a cancellation request could be carried out (approvals._check_cancellable)
    correctable: bool  # a correction may be entered (recovery.correction_prepare)
    holds: list[HoldItem] = field(default_factory=list)


def case_payment(case: Case) -> CasePayment | None:
    """The payment of a released case: every attempt (instructions, oldest first), corrections, requests."""
    payment = Payment.objects.select_related("current").filter(case=case).first()
    if payment is None:
        return None
    attempts = list(
        Instruction.objects.filter(payment=payment)
        .select_related("bank_file", "replaces")
        .defer("bank_file__content")
        .order_by("attempt")
    )
    corrections_ = list(payment.corrections.select_related("failed", "reissue").order_by("pk"))
    approvals_ = list(Approval.objects.filter(case=case).order_by("pk"))
    current = payment.current
    not_live = current is None or current.status in NOT_PAID
    return CasePayment(
        payment=payment,
        current=current,
        attempts=attempts,
        corrections=corrections_,
        approvals=approvals_,
        open_correction=next((c for c in corrections_ if not c.decided_by), None),
        open_cancel=next(
            (a for a in approvals_ if not a.decided_by and a.kind == ApprovalKind.CANCEL_PAYMENT), None
        ),
        cancellable=payment.cancelled_at is None and (current is None or IS(current.status) in CANCELLABLE),
        correctable=payment.cancelled_at is None and not_live,
        holds=list(
            HoldItem.objects.filter(Q(case=case) | Q(instruction__payment=payment))
            .select_related("bank_file")
            .defer("bank_file__content")
            .order_by("pk")
        ),
    )


# ---- city level: bank files, batches, inbound answers ----------------------------------------------------


@dataclass(frozen=True)
class BankFileFilter:
    status: str = ""
    bank: str = ""
    execution_date: date | None = None


def bank_files(f: BankFileFilter) -> QuerySet[BankFile]:
    qs = BankFile.objects.select_related("bank").defer("content")
    if f.status:
        qs = qs.filter(status=f.status)
    if f.bank:
        qs = qs.filter(bank_id=f.bank)
    if f.execution_date:
        qs = qs.filter(execution_date=f.execution_date)
    return qs.order_by("-execution_date", "bank_id", "-pk")


@dataclass
class Batch:
    """The files of one bank for one execution date (one a day, unless re-issues were sent later)."""

    execution_date: date
    bank: str
    bank_name: str
    files: int = 0
    txs: int = 0
    fen: int = 0
    statuses: dict[str, int] = field(default_factory=dict)


def batches() -> list[Batch]:
    """Bank files grouped by execution date (latest first) and bank."""
    rows = (
        BankFile.objects.values("execution_date", "bank_id", "bank__name", "status")
        .annotate(n=Count("id"), txs=Sum("nb_of_txs"), fen=Sum("ctrl_sum_fen"))
        .order_by()
    )
    grouped: dict[tuple[date, str], Batch] = {}
    for r in rows:
        key = (r["execution_date"], r["bank_id"])
        batch = grouped.setdefault(key, Batch(*key, r["bank__name"]))
        batch.files += int(r["n"])
        batch.txs += int(r["txs"] or 0)
        batch.fen += int(r["fen"] or 0)
        batch.statuses[r["status"]] = batch.statuses.get(r["status"], 0) + int(r["n"])
    return sorted(grouped.values(), key=lambda b: (-b.execution_date.toordinal(), b.bank))


def bank_file_inbound(bf: BankFile) -> QuerySet[InboundFile]:
    """Every answer that referred to the file: its status reports (by original MsgId, applied or quarantined)
    and the booking notifications with a line about one of its payments."""
    lines = StatusLine.objects.filter(instruction__bank_file=bf).values("inbound_id")
    return (
        InboundFile.objects.filter(Q(original_msg_id=bf.msg_id) | Q(pk__in=lines))
        .defer("content")
        .order_by("pk")
    )


def bank_file_holds(bf: BankFile) -> QuerySet[HoldItem]:
    return HoldItem.objects.filter(Q(bank_file=bf) | Q(instruction__bank_file=bf)).order_by("pk")


def bank_file_reissue_waiting(bf: BankFile) -> int:
    """How many of the file's payments, rejected for a defect of our file, wait for a re-issue."""
    return reissue_waiting(bf).count()


def inbound_files() -> QuerySet[InboundFile]:
    """Every bank answer: the quarantined ones first, then the applied ones (latest first in each)."""
    quarantined = ExpressionWrapper(Q(status=InboundStatus.QUARANTINED), output_field=BooleanField())
    return InboundFile.objects.defer("content").annotate(q=quarantined).order_by(F("q").desc(), "-pk")


# ---- the district's view -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StateTotal:
    state: str
    cases: int
    amount_fen: int


def payment_state_totals(user: Any) -> list[StateTotal]:
    """Cases and amounts in each payment state (released, paid, awaiting correction, cancelled), in the
    user's districts: from the dashboard's kept figures while they are current (counting every case by state
    reads the whole case table: about a second at 441,300 cases under load), else counted now."""
    staff = staff_of(user)
    kept = None if staff is None else kept_case_states(None if staff.city_level else staff.district)
    totals: dict[str, tuple[int, int]] = {}
    if kept is not None:
        for _district, state, n, fen in kept:
            if state in PAYMENT_STATES:
                cases, money = totals.get(state, (0, 0))
                totals[state] = (cases + int(n), money + int(fen))
    else:
        for r in (
            visible_cases(user)
            .filter(state__in=PAYMENT_STATES)
            .values("state")
            .annotate(n=Count("id"), fen=Sum("amount_fen"))
            .order_by()
        ):
            totals[r["state"]] = (int(r["n"]), int(r["fen"] or 0))
    order = [State.RELEASED, State.PAID, State.AWAITING_CORRECTION, State.PAYMENT_CANCELLED]
    return [StateTotal(s.value, *totals.get(s.value, (0, 0))) for s in order]


def open_counts(user: Any) -> dict[str, int]:
    """What waits for someone in the user's districts: failures, open corrections, open requests."""
    return {
        "failures": failures(user, FailureFilter()).count(),
        "corrections": corrections(user).filter(decided_by="").count(),
        "approvals": approvals(user).filter(decided_by="").count(),
    }

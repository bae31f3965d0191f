"""What a failed payment makes the system do (payments.md, reason codes; ``reasons.py`` is the table), and the
way back: an account correction (or a re-send) entered by one officer and decided by another (four eyes, a
database check), which re-issues the payment with a new EndToEndId linked to the failed one, in the next file.

- wrong or unknown account (AC01, AC03, BE01, BE06): the unit is told what to do; the payment waits;
- closed account (AC04, AC07): the same, and the same account is never paid again;
- blocked account (AC06): the unit is told, and a person reviews before anything is re-sent (hold);
- duplicate (AM05, DU0x, DUPL): alert (hold), never re-issued until a person has checked the first one;
- our file's defect (AM10, AM16–AM20, FF01, FF08): hold for the fix, then ``bank_file_reissue`` with new ids;
- fund account not debitable (AM04, AG07): treasury incident (hold), then a re-send, four eyes;
- unspecified or unknown (MS03, NARR, others): manual triage (hold).

Closed loop (``closedloop.py``): a corrected account must be the unit's account on file in a data drop imported
after the failure, a re-send only goes to the account still on file; checked when entered and again when approved,
and every such refusal is an audit event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mianshen.audit.catalogue import Action
from mianshen.audit.services import audit_record
from mianshen.cases.models import Application, ApplicationKind, Case, case_number
from mianshen.core.bulkdb import one_parameter
from mianshen.policy.families import family_of
from mianshen.staff.foureyes import FourEyes, four_eyes_close, four_eyes_open

from ..crashpoints import maybe_crash
from ..formats.types import remittance_text
from ..lifecycle import CANCELLABLE, FAILED, LIVE, InstructionStatus
from ..models import (
    Approval,
    ApprovalKind,
    Bank,
    BankFile,
    Correction,
    CorrectionKind,
    HoldItem,
    HoldKind,
    InboundFile,
    Instruction,
    Payment,
)
from ..reasons import Action as Do
from ..reasons import reason_info
from ..selectors import reissue_waiting
from ..signals import UnitNotice, unit_notices
from .casesync import case_states_sync
from .closedloop import (
    AccountNotOnFile,
    OnFile,
    OnFileBatch,
    account_key,
    correction_account_on_file,
    resend_account_on_file,
)
from .common import PaymentError, audit_many, chunks, event
from .holds import holds_close_for
from .instructions import Account, account_problem, instruction_new
from .reports import Inst, Plan
from .transitions import InstructionMove, instruction_transition_many

IS = InstructionStatus
NOTIFY = frozenset({Do.NEEDS_CORRECTION, Do.NEEDS_CORRECTION_NO_RETRY_SAME_ACCOUNT, Do.HELD_FOR_REVIEW})
HOLD_FOR: dict[Do, HoldKind] = {
    Do.HELD_FOR_REVIEW: HoldKind.REVIEW,
    Do.DUPLICATE_ALERT: HoldKind.DUPLICATE,
    Do.TREASURY_INCIDENT: HoldKind.TREASURY,
    Do.MANUAL_TRIAGE: HoldKind.TRIAGE,
}
# open holds of these kinds block a re-issue of the payment: money may already be with the unit
BLOCKING = (HoldKind.DUPLICATE, HoldKind.CONTRADICTION, HoldKind.LATE, HoldKind.REPEAT_BOOKING)
# and these are settled by an approved correction or re-send
SETTLED_BY_REISSUE = (HoldKind.REVIEW, HoldKind.TREASURY, HoldKind.TRIAGE, HoldKind.OUR_DEFECT)
ENTERED = ("bank", "branch", "account_no", "name")  # a refused account, as entered, in the audit event


def _codes(inst: Inst) -> list[str]:
    s = inst.summary
    return [s.return_reason] if s.returned_on is not None else sorted(s.reject_codes)


def not_handed_over(case_id: int) -> PaymentError:
    return PaymentError(_("案件 %(case_id)s 尚未交付拨付"), case_id=case_id)


def not_cancellable(case_id: int, current: Instruction) -> PaymentError:
    return PaymentError(
        _("案件 %(case_id)s：拨付 %(end_to_end_id)s 状态为 %(status)s（在途或已入账），不能撤销"),
        case_id=case_id,
        end_to_end_id=current.end_to_end_id,
        status=current.status,
    )


def no_bank_file(msg_id: str) -> PaymentError:
    return PaymentError(_("没有报文标识为 %(msg_id)s 的银行文件"), msg_id=msg_id)


def nothing_to_reissue(msg_id: str) -> PaymentError:
    return PaymentError(
        _("%(msg_id)s：没有因我方文件缺陷被拒、等待重发的拨付"),
        msg_id=msg_id,
    )


def failure_effects(*, insts: Sequence[Inst], plan: Plan, inbound: InboundFile, actor: str) -> list[HoldItem]:
    """Notices and holds for instructions that just failed (rejected or returned); returns the holds to raise."""
    notices: list[UnitNotice] = []
    holds: list[HoldItem] = []
    for inst in insts:
        action = inst.summary.action
        if action is None:
            continue
        codes = _codes(inst)
        primary = next((c for c in codes if reason_info(c).action == action), codes[0] if codes else "")
        info = reason_info(primary or None)
        returned = inst.summary.returned_on is not None
        if action in NOTIFY:
            notices.append(
                UnitNotice(
                    event=f"{inst.e2e}:failed",
                    kind="payment_failed",
                    case_id=inst.case_id,
                    payment_id=inst.payment_id,
                    amount_fen=inst.amount_fen,
                    reason_code=primary,
                    returned=returned,
                    why_zh=f"{info.meaning_zh}（{primary}）",
                    why_en=f"{info.meaning_en} ({primary})",
                    next_step_zh=info.next_step_zh,
                    next_step_en=info.next_step_en,
                )
            )
        if action == Do.OUR_DEFECT_RESEND and plan.bank_file is not None:
            bf = plan.bank_file
            holds.append(
                HoldItem(
                    key=f"our_defect:{bf.msg_id}",
                    kind=HoldKind.OUR_DEFECT,
                    bank_file=bf,
                    inbound=inbound,
                    message=f"bank {bf.bank_id} rejected our file {bf.msg_id} ({' '.join(codes)}): fix the "
                    "defect, then ask for its payments to be re-issued with new ids (pay reissue-file; a second officer approves)",
                )
            )
        elif action in HOLD_FOR:
            kind = HOLD_FOR[action]
            holds.append(
                HoldItem(
                    key=f"{kind.value}:{inst.e2e}",
                    kind=kind,
                    case_id=inst.case_id,
                    instruction_id=inst.pk,
                    inbound=inbound,
                    message=f"{inst.e2e} {'returned' if returned else 'rejected'} ({' '.join(codes)}): "
                    f"{info.meaning_en}",
                )
            )
    if notices:
        unit_notices.send(sender=Payment, notices=notices, actor=actor)
    return holds


@dataclass(frozen=True)
class AccountInput:
    bank_code: str
    branch_code: str
    account_no: str
    account_name: str


@dataclass
class _Batch:
    """What a bulk path (``corrections_prepare_many`` / ``corrections_decide_many``) shares across its items, in
    its one transaction: the bank registry read once, the audit events and the cases to sync written once at the
    end (the same events and moves as one at a time, in one chain append and one ``case_states_sync``)."""

    banks: set[str]
    events: list[dict[str, Any]] = field(default_factory=list)
    cases: list[int] = field(default_factory=list)
    # the batch's units and their accounts on file, looked up together at its start (``closedloop``)
    on_file: OnFileBatch | None = None
    # what each item would read one at a time, read for the whole batch at its start (``_Rows.load``); None when
    # a payment comes twice in the batch (the first item's writes would make the second's rows stale)
    rows: _Rows | None = None

    def flush(self, actor: str) -> None:
        case_states_sync(case_ids=self.cases, actor=actor)
        audit_many(actor=actor, events=self.events)
        self.events, self.cases = [], []


@dataclass
class _Rows:
    """The rows a batch's items read, each read once for the batch in its transaction (payments locked, as one at
    a time): no item changes another payment's rows, so each item sees what it would have read itself."""

    payments: dict[int, Payment]  # by case id, case read with it
    by_pk: dict[int, Payment]  # the same, by id
    current: dict[int, Instruction]  # the payments' current instructions, by id
    closed: set[tuple[int, str, str]]  # (payment, account, branch) closed by the bank: never paid again
    cancel_pending: set[int]  # cases with a pending request to cancel the payment
    live: set[int]  # payments with a live instruction
    blocking: dict[int, HoldItem]  # per case its first open blocking hold
    attempts: dict[int, int]  # per payment its highest attempt

    @classmethod
    def load(cls, payments: QuerySet[Payment]) -> _Rows | None:
        locked = list(_payments_locked().filter(pk__in=payments.values("pk")).order_by("pk"))
        if len({p.case_id for p in locked}) != len(locked):  # never: one payment per case
            return None
        ids = [p.pk for p in locked]
        cases = [p.case_id for p in locked]
        current = [p.current_id for p in locked if p.current_id]
        of_batch = Instruction.objects.filter(payment_id__in=one_parameter(ids))
        blocking: dict[int, HoldItem] = {}
        for hold in HoldItem.objects.filter(
            case_id__in=one_parameter(cases), kind__in=BLOCKING, resolved_at=None
        ).order_by("pk"):  # as ``.first()``
            if hold.case_id is not None:
                blocking.setdefault(hold.case_id, hold)
        return cls(
            payments={p.case_id: p for p in locked},
            by_pk={p.pk: p for p in locked},
            current={i.pk: i for i in Instruction.objects.filter(pk__in=one_parameter(current))},
            closed=set(
                of_batch.filter(action=Do.NEEDS_CORRECTION_NO_RETRY_SAME_ACCOUNT.value).values_list(
                    "payment_id", "creditor_account", "creditor_branch_code"
                )
            ),
            cancel_pending=set(
                Approval.objects.filter(
                    case_id__in=one_parameter(cases), kind=ApprovalKind.CANCEL_PAYMENT, decided_by=""
                ).values_list("case_id", flat=True)
            ),
            live=set(
                of_batch.filter(status__in=[s.value for s in LIVE]).values_list("payment_id", flat=True)
            ),
            blocking=blocking,
            attempts=dict(
                of_batch.values("payment_id").annotate(n=Max("attempt")).values_list("payment_id", "n")
            ),
        )

    def payment(self, case_id: int) -> Payment | None:
        return self.payments.get(case_id)


def _banks(batch: _Batch | None) -> set[str]:
    return batch.banks if batch is not None else set(Bank.objects.values_list("code", flat=True))


def _on_file(batch: _Batch | None) -> OnFileBatch | None:
    return batch.on_file if batch is not None else None


def _audit(actor: str, events: list[dict[str, Any]], batch: _Batch | None) -> None:
    if batch is not None:
        batch.events.extend(events)
    else:
        audit_many(actor=actor, events=events)


def correction_prepare(
    *, case_id: int, actor: str, account: AccountInput | None = None, note: str = ""
) -> Correction:
    """Enter a corrected account (or, without ``account``, a re-send to the failed one) for a payment that
    failed or never had a usable account. The account must be the unit's account on file in a data drop imported
    after the failure (``closedloop``); it is stored as on file. Decided by another officer with
    :func:`correction_decide`."""
    try:
        return _correction_prepare(case_id=case_id, actor=actor, account=account, note=note)
    except AccountNotOnFile as refusal:
        entered = None if account is None else dict(zip(ENTERED, account_key(account), strict=True))
        _refusal_record(
            refusal, actor=actor, case_id=case_id, details={"stage": "prepare", "entered": entered}
        )
        raise


def _correction_prepare(
    *, case_id: int, actor: str, account: AccountInput | None, note: str, batch: _Batch | None = None
) -> Correction:
    if account is not None:  # as the drops normalise: NFKC, no spaces or hyphens in the number
        account = AccountInput(*account_key(account))
    # in a batch no savepoints: any refusal rolls the batch's whole transaction back (``corrections_prepare_many``)
    alone = batch is None
    with transaction.atomic(savepoint=alone):
        # the case read with it (the closed loop needs its unit), only the payment row locked
        rows = batch.rows if batch is not None else None
        if rows is not None:
            payment = rows.payment(case_id)
        else:
            payment = _payments_locked().filter(case_id=case_id).first()
        if payment is None:
            raise not_handed_over(case_id)
        failed = _failed_current(payment, rows)
        if account is None:
            if failed is None:
                raise PaymentError(
                    _("案件 %(case_id)s 没有失败的拨付可以重发：请录入账户"),
                    case_id=case_id,
                )
            account = AccountInput(failed.bank_id, failed.creditor_branch_code, failed.creditor_account,
                                   failed.creditor_name)  # fmt: skip
            kind = CorrectionKind.RESEND
        else:
            kind = CorrectionKind.ACCOUNT
        _check_account(payment, failed, account, kind, _banks(batch), rows)
        on_file = _closed_loop(payment, failed, account, kind, _banks(batch), _on_file(batch))
        if (
            case_id in rows.cancel_pending
            if rows is not None
            else Approval.objects.filter(
                case_id=case_id, kind=ApprovalKind.CANCEL_PAYMENT, decided_by=""
            ).exists()
        ):
            raise PaymentError(
                _("案件 %(case_id)s 有待审核的撤销拨付申请：请先审核该申请，再更正账户"),
                case_id=case_id,
            )
        try:
            with transaction.atomic(savepoint=alone):
                correction = Correction.objects.create(
                    payment=payment, failed=failed, kind=kind, bank_id=on_file.bank_code,
                    branch_code=on_file.branch_code, account_no=on_file.account_no,
                    account_name=on_file.account_name, snapshot_id=on_file.snapshot_id, note=note,
                    prepared_by=actor,
                )  # fmt: skip
        except IntegrityError:
            raise PaymentError(
                _("案件 %(case_id)s 已有一项待审核的账户更正"),
                case_id=case_id,
            ) from None
        _audit(
            actor,
            [event(Action.ACCOUNT_CORRECTION_PREPARED, "correction", correction.pk,
                   after={"case": case_id, "kind": kind.value, "bank": on_file.bank_code,
                          "account_no": on_file.account_no, "snapshot": on_file.snapshot_id,
                          "failed": failed.end_to_end_id if failed else None},
                   reason=note)],
            batch,
        )  # fmt: skip
    return correction


def _payments_locked() -> QuerySet[Payment]:
    """Payments locked (only their rows) with their cases read in the same statement."""
    return Payment.objects.select_related("case").select_for_update(of=("self",))


def _failed_current(payment: Payment, rows: _Rows | None = None) -> Instruction | None:
    if payment.cancelled_at is not None:
        raise PaymentError(_("案件 %(case_id)s 的拨付已撤销"), case_id=payment.case_id)
    if not payment.current_id:
        current = None
    elif rows is not None:
        current = rows.current.get(payment.current_id)
    else:
        current = Instruction.objects.filter(pk=payment.current_id).first()
    if current is not None and IS(current.status) not in FAILED | {IS.CANCELLED}:
        raise PaymentError(
            _("案件 %(case_id)s：拨付 %(end_to_end_id)s 状态为 %(status)s，无需更正"),
            case_id=payment.case_id,
            end_to_end_id=current.end_to_end_id,
            status=current.status,
        )
    return current


def _check_account(
    payment: Payment,
    failed: Instruction | None,
    account: AccountInput,
    kind: str,
    banks: set[str],
    rows: _Rows | None = None,
) -> None:
    problem = account_problem(Account(account.bank_code, account.branch_code, account.account_no,
                                      account.account_name, "correction"), banks)  # fmt: skip
    if problem:
        raise PaymentError(
            _("案件 %(case_id)s：账户不可用（%(problem)s）"), case_id=payment.case_id, problem=problem
        )
    if rows is not None:
        closed = (payment.pk, account.account_no, account.branch_code) in rows.closed
    else:
        closed = Instruction.objects.filter(
            payment=payment,
            action=Do.NEEDS_CORRECTION_NO_RETRY_SAME_ACCOUNT.value,
            creditor_account=account.account_no,
            creditor_branch_code=account.branch_code,
        ).exists()
    if closed:
        raise PaymentError(
            _("案件 %(case_id)s：账户 %(account_no)s 已销户，不再向该账户拨付"),
            case_id=payment.case_id,
            account_no=account.account_no,
        )
    if (
        failed is not None
        and kind == CorrectionKind.RESEND
        and failed.action in (Do.NEEDS_CORRECTION.value, Do.NEEDS_CORRECTION_NO_RETRY_SAME_ACCOUNT.value)
    ):
        raise PaymentError(
            _("案件 %(case_id)s：%(end_to_end_id)s 因账户问题失败，请录入新账户"),
            case_id=payment.case_id,
            end_to_end_id=failed.end_to_end_id,
        )


def _closed_loop(
    payment: Payment,
    failed: Instruction | None,
    account: AccountInput,
    kind: str,
    banks: set[str],
    batch: OnFileBatch | None = None,
) -> OnFile:
    """The unit's account on file that this correction or re-send pays (``closedloop``), checked like a line of
    a bank file."""
    if kind == CorrectionKind.RESEND:
        assert failed is not None
        on_file = resend_account_on_file(payment=payment, failed=failed, batch=batch)
    else:
        on_file = correction_account_on_file(payment=payment, failed=failed, entered=account, batch=batch)
    problem = account_problem(Account(on_file.bank_code, on_file.branch_code, on_file.account_no,
                                      on_file.account_name, "snapshot"), banks)  # fmt: skip
    if problem:
        raise PaymentError(
            _("案件 %(case_id)s：数据快照 %(snapshot_id)s 中的在用账户不可用（%(problem)s）"),
            case_id=payment.case_id,
            snapshot_id=on_file.snapshot_id,
            problem=problem,
        )
    return on_file


def _refusal_record(
    refusal: AccountNotOnFile, *, actor: str, case_id: int, details: dict[str, object]
) -> None:
    """A refused correction or re-send leaves a trace of its own (an attempt to pay an account not on file),
    in a transaction of its own: the refused one wrote nothing."""
    with transaction.atomic():
        audit_many(actor=actor, events=[event(Action.ACCOUNT_CORRECTION_NOT_ON_FILE, "case", case_id,
                                              after=details, reason=refusal.en)])  # fmt: skip


def correction_decide(*, correction_id: int, actor: str, approve: bool, note: str = "") -> Correction:
    """Approve (re-issue: a new instruction, new EndToEndId, linked to the failed one) or refuse a correction.
    The decider must not be the officer who entered it (service check and database constraint). An approval
    checks the closed loop again: the account must still be the unit's account on file."""
    try:
        return _correction_decide(correction_id=correction_id, actor=actor, approve=approve, note=note)
    except AccountNotOnFile as refusal:
        case_id = Correction.objects.filter(pk=correction_id).values_list("payment__case_id", flat=True).get()
        _refusal_record(
            refusal, actor=actor, case_id=case_id, details={"stage": "decide", "correction": correction_id}
        )
        raise


CORRECTION_FOUR_EYES = FourEyes(
    model=Correction,
    maker="prepared_by",
    obj_type="correction",
    missing=lambda correction_id: PaymentError(
        _("没有编号为 %(correction_id)s 的账户更正"), correction_id=correction_id
    ),
    decided=lambda correction: PaymentError(
        _("账户更正 %(correction_id)s 已由 %(decided_by)s 审核"),
        correction_id=correction.pk,
        decided_by=correction.decided_by,
    ),
    own=lambda correction: PaymentError(_("双人复核：录入更正的经办人不能审核自己的更正")),
)


def _correction_decide(
    *, correction_id: int, actor: str, approve: bool, note: str, batch: _Batch | None = None
) -> Correction:
    with transaction.atomic(savepoint=batch is None):  # in a batch: refused, the batch is rolled back whole
        correction = four_eyes_open(CORRECTION_FOUR_EYES, correction_id, actor=actor)
        rows = batch.rows if batch is not None else None
        if rows is not None and correction.payment_id in rows.by_pk:
            payment = rows.by_pk[correction.payment_id]
        else:
            payment = _payments_locked().get(pk=correction.payment_id)
        reissue = _reissue(payment, correction, actor, batch) if approve else None
        outcome = "approved" if approve else "refused"
        code = Action.ACCOUNT_CORRECTION_APPROVED if approve else Action.ACCOUNT_CORRECTION_REFUSED
        four_eyes_close(CORRECTION_FOUR_EYES, correction, actor=actor, outcome=outcome, action=code,
                        after={"case": payment.case_id, "outcome": outcome}, reason=note,
                        fields={"decision_note": note, "reissue": reissue},
                        events=batch.events if batch is not None else None)  # fmt: skip
        maybe_crash("after_reissue")
    return correction


BULK_ITEMS = 500  # corrections per transaction of the bulk paths


@dataclass(frozen=True)
class CorrectionEntry:
    """One correction to enter: ``correction_prepare``'s arguments but the actor."""

    case_id: int
    account: AccountInput | None = None
    note: str = ""


def corrections_prepare_many(*, entries: Sequence[CorrectionEntry], actor: str) -> list[Correction]:
    """:func:`correction_prepare` for many payments (a data drop's worth of corrected accounts), ``BULK_ITEMS``
    to a transaction: each entry checked exactly as one at a time, the same rows and audit events. All or nothing
    per transaction: a refusal rolls back its batch (those before it stay), is recorded as one at a time, and
    raised."""
    prepared: list[Correction] = []
    for chunk in chunks(list(entries), BULK_ITEMS):
        entry = chunk[0]
        try:
            with transaction.atomic():
                payments = Payment.objects.filter(case_id__in=one_parameter([e.case_id for e in chunk]))
                batch = _Batch(
                    banks=_banks(None),
                    on_file=_on_file_load(payments, "case__unit_id", "current_id"),
                    rows=_Rows.load(payments) if len({e.case_id for e in chunk}) == len(chunk) else None,
                )
                for entry in chunk:
                    prepared.append(_correction_prepare(case_id=entry.case_id, actor=actor, account=entry.account,
                                                        note=entry.note, batch=batch))  # fmt: skip
                batch.flush(actor)
        except AccountNotOnFile as refusal:
            account = entry.account
            entered = None if account is None else dict(zip(ENTERED, account_key(account), strict=True))
            _refusal_record(
                refusal, actor=actor, case_id=entry.case_id, details={"stage": "prepare", "entered": entered}
            )
            raise
    return prepared


def _on_file_load(rows: QuerySet[Any], unit: str, failed: str) -> OnFileBatch:
    """The batch's units' accounts on file and their current (failed) instructions' failure times, read once."""
    pairs = list(rows.values_list(unit, failed))
    return OnFileBatch.load(
        unit_ids=sorted({u for u, _ in pairs}), failed_ids=sorted({f for _, f in pairs if f})
    )


def corrections_decide_many(
    *, correction_ids: Sequence[int], actor: str, approve: bool, note: str = ""
) -> list[Correction]:
    """:func:`correction_decide` for many corrections, ``BULK_ITEMS`` to a transaction: each one through the
    same four-eyes open and close, closed-loop check and re-issue as one at a time, the same rows and audit
    events; the cases re-issued move in one ``case_states_sync`` per transaction. All or nothing per
    transaction, as :func:`corrections_prepare_many`."""
    decided: list[Correction] = []
    for chunk in chunks(list(correction_ids), BULK_ITEMS):
        correction_id = chunk[0]
        try:
            with transaction.atomic():
                corrections = Correction.objects.filter(pk__in=one_parameter(chunk))
                on_file = _on_file_load(corrections, "payment__case__unit_id", "payment__current_id")
                paid = list(corrections.values_list("payment_id", flat=True))
                rows = None
                if len(set(chunk)) == len(chunk) == len(paid) == len(set(paid)):  # each payment once
                    rows = _Rows.load(Payment.objects.filter(pk__in=one_parameter(paid)))
                batch = _Batch(banks=_banks(None), on_file=on_file, rows=rows)
                for correction_id in chunk:
                    decided.append(_correction_decide(correction_id=correction_id, actor=actor, approve=approve,
                                                      note=note, batch=batch))  # fmt: skip
                batch.flush(actor)
        except AccountNotOnFile as refusal:
            case_id = (
                Correction.objects.filter(pk=correction_id).values_list("payment__case_id", flat=True).get()
            )
            _refusal_record(
                refusal,
                actor=actor,
                case_id=case_id,
                details={"stage": "decide", "correction": correction_id},
            )
            raise
    return decided


def _reissue(payment: Payment, correction: Correction, actor: str, batch: _Batch | None) -> Instruction:
    rows = batch.rows if batch is not None else None
    failed = _failed_current(payment, rows)
    if failed is not None and failed.pk != correction.failed_id:
        raise PaymentError(
            _("案件 %(case_id)s：录入更正后拨付状态已变化，请重新核实"),
            case_id=payment.case_id,
        )
    # by payment (index instruction_attempt_unique): SQLite cannot use the partial index
    # one_live_instruction_per_case for a bound IN list, and a scan of every instruction per re-issue made the
    # demo's 14,448 corrections at Beijing's size take most of an hour
    if (
        payment.pk in rows.live
        if rows is not None
        else Instruction.objects.filter(payment_id=payment.pk, status__in=[s.value for s in LIVE]).exists()
    ):
        raise PaymentError(_("案件 %(case_id)s 已有一笔在途拨付"), case_id=payment.case_id)
    entered = AccountInput(
        correction.bank_id, correction.branch_code, correction.account_no, correction.account_name
    )
    on_file = _closed_loop(
        payment, failed, entered, correction.kind, _banks(batch), _on_file(batch)
    )  # again: a newer drop may differ
    if rows is not None:
        blocking = rows.blocking.get(payment.case_id)
    else:
        blocking = HoldItem.objects.filter(
            case_id=payment.case_id, kind__in=BLOCKING, resolved_at=None
        ).first()
    if blocking is not None:
        raise PaymentError(
            _("案件 %(case_id)s 有未处理的挂起事项（%(kind)s），请先处理"),
            case_id=payment.case_id,
            kind=HoldKind(blocking.kind).label,
            code=blocking.kind,
        )
    account = Account(on_file.bank_code, on_file.branch_code, on_file.account_no, on_file.account_name,
                      f"correction:{correction.pk}")  # fmt: skip
    return _new_attempt(payment, failed, account, actor, reason=f"correction {correction.pk}", batch=batch)


def _new_attempt(
    payment: Payment,
    failed: Instruction | None,
    account: Account,
    actor: str,
    *,
    reason: str,
    batch: _Batch | None = None,
) -> Instruction:
    case = payment.case
    rows = batch.rows if batch is not None else None
    if rows is not None:
        attempt = rows.attempts.get(payment.pk, 0) + 1
    else:
        attempt = (Instruction.objects.filter(payment=payment).aggregate(n=Max("attempt"))["n"] or 0) + 1
    new = instruction_new(
        payment_id=payment.pk, case_id=payment.case_id, attempt=attempt,
        amount_fen=payment.amount_fen, account=account, actor=actor, replaces_id=failed.pk if failed else None,
        remittance=failed.remittance if failed else remittance_text(case_number(case.pk, case.policy_id),
                                                                      case.credit_code,
                                                                      family_of(case.policy_id).remittance_prefix),
    )  # fmt: skip
    new.save(force_insert=True)
    payment.current = new
    payment.note = ""
    payment.save(update_fields=["current", "note"])
    if failed is not None:
        holds_close_for(instruction_ids=[failed.pk], kinds=SETTLED_BY_REISSUE, actor=actor,
                        resolution=f"re-issued as {new.end_to_end_id}")  # fmt: skip
    reissued = event(Action.PAYMENT_REISSUED, "payment_instruction", new.end_to_end_id,
                     before={"replaces": failed.end_to_end_id if failed else None},
                     after={"case": payment.case_id, "amount_fen": new.amount_fen, "bank": new.bank_id,
                            "account": new.account_source, "attempt": attempt}, reason=reason)  # fmt: skip
    if batch is not None:
        batch.cases.append(payment.case_id)
        batch.events.append(reissued)
    else:
        case_states_sync(case_ids=[payment.case_id], actor=actor)
        audit_many(actor=actor, events=[reissued])
    return new


def bank_file_reissue(*, msg_id: str, actor: str) -> list[Instruction]:
    """After fixing a defect in our file (whole file rejected: AM10, FF01, …): re-issue each of its rejected
    payments to the same account with a new EndToEndId, for the next file. Only through an approved request
    (``approvals.approval_decide``: four eyes)."""
    with transaction.atomic():
        bf = BankFile.objects.select_for_update().filter(msg_id=msg_id).first()
        if bf is None:
            raise no_bank_file(msg_id)
        failed = list(reissue_waiting(bf).order_by("pk"))
        if not failed:
            raise nothing_to_reissue(msg_id)
        new = []
        for inst in failed:
            payment = Payment.objects.select_for_update().get(pk=inst.payment_id)
            if payment.current_id != inst.pk or payment.cancelled_at is not None:
                continue
            account = Account(inst.bank_id, inst.creditor_branch_code, inst.creditor_account, inst.creditor_name,
                              inst.account_source)  # fmt: skip
            new.append(_new_attempt(payment, inst, account, actor, reason=f"file {msg_id} defect fixed"))
        holds_close_for(
            keys=[f"our_defect:{msg_id}"], actor=actor, resolution=f"re-issued {len(new)} payments"
        )
        maybe_crash("after_reissue")
    return new


def payment_cancel(*, case_id: int, actor: str, reason: str) -> Payment:
    """Cancel a payment that is not live (failed, never instructed, or still only ``created``). Only through
    an approved request (``approvals.approval_decide``: four eyes); the case becomes ``payment_cancelled``."""
    if not reason.strip():
        raise PaymentError(_("撤销拨付须说明理由"))
    with transaction.atomic():
        payment = Payment.objects.select_for_update().filter(case_id=case_id).first()
        if payment is None:
            raise not_handed_over(case_id)
        if payment.cancelled_at is not None:
            return payment
        current = Instruction.objects.filter(pk=payment.current_id).first() if payment.current_id else None
        if current is not None and current.status == IS.CREATED:
            list(Bank.objects.select_for_update().filter(code=current.bank_id))  # the builders' lock
            current.refresh_from_db()
        if current is not None and IS(current.status) not in CANCELLABLE:
            raise not_cancellable(case_id, current)
        if current is not None and current.status == IS.CREATED:  # withdrawn before any file (audited below)
            instruction_transition_many(
                moves=[InstructionMove(current.pk, IS.CREATED, IS.CANCELLED)], actor=actor
            )
        payment.cancelled_at, payment.cancelled_by, payment.cancel_reason = timezone.now(), actor, reason
        payment.save(update_fields=["cancelled_at", "cancelled_by", "cancel_reason"])
        case_states_sync(case_ids=[case_id], actor=actor)
        audit_many(actor=actor, events=[event(Action.PAYMENT_INSTRUCTION_CANCELLED, "payment", payment.pk,
                                              after={"case": case_id, "amount_fen": payment.amount_fen},
                                              reason=reason)])  # fmt: skip
    return payment


@dataclass(frozen=True)
class AccountCheck:
    """The account a unit gave in a wrong-bank-details application, compared with its account on file in a drop
    imported after the failure: ``snapshot_id`` when it matches (a correction may then name it: the re-issue pays
    the account as on file), else ``why`` (not yet on file, or which fields differ — never the account on file)."""

    matches: bool
    snapshot_id: int | None
    why: str


def application_account_check(*, application_id: int, actor: str) -> AccountCheck:
    """Compare a wrong-bank-details application's account with the unit's account on file in the next drop
    (``closedloop.correction_account_on_file``), audited (``application.account_checked``). The typed account is
    never paid to: only a correction (four eyes) of the account on file re-issues the payment."""
    app = Application.objects.select_related("case").get(pk=application_id)
    if app.kind != ApplicationKind.WRONG_BANK_DETAILS:
        raise PaymentError(_("申请 %(application)s 不是银行信息有误的申请"), application=app.pk)
    payment = Payment.objects.select_related("case").filter(case_id=app.case_id).first()
    if payment is None:
        raise not_handed_over(app.case_id)
    evidence = app.evidence if isinstance(app.evidence, dict) else {}
    entered = AccountInput(
        *(str(evidence.get(f, "")) for f in ("bank_code", "branch_code", "account_no", "account_name"))
    )
    failed = Instruction.objects.filter(pk=payment.current_id).first() if payment.current_id else None
    try:
        on_file = correction_account_on_file(payment=payment, failed=failed, entered=entered)
        result = AccountCheck(True, on_file.snapshot_id, "")
    except AccountNotOnFile as refusal:
        result = AccountCheck(False, None, refusal.text())
    with transaction.atomic():
        Case.objects.select_for_update().get(pk=app.case_id)
        audit_record(
            actor=actor,
            action=Action.APPLICATION_ACCOUNT_CHECKED,
            obj_type="application",
            obj_id=str(app.pk),
            after={"case": app.case_id, "matches": result.matches, "snapshot": result.snapshot_id},
        )
    return result

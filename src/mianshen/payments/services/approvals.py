"""Four eyes on the payment actions that decide where money goes without a new account: cancelling a payment,
and re-issuing the payments of a file the bank rejected for our defect. One officer requests (with a reason),
another decides; an approval carries the action out in the same transaction, as the decider. The database
refuses a decision by the requester (``approval_four_eyes``) and a second open request for the same target.

Account corrections have their own maker–checker record (``recovery.correction_prepare`` / ``_decide``).
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from mianshen.audit.catalogue import Action
from mianshen.staff.foureyes import FourEyes, four_eyes_close, four_eyes_open

from ..lifecycle import CANCELLABLE, InstructionStatus
from ..models import Approval, ApprovalKind, BankFile, Correction, Instruction, Payment
from ..selectors import reissue_waiting
from .common import PaymentError, audit_many, event
from .recovery import (
    bank_file_reissue,
    no_bank_file,
    not_cancellable,
    not_handed_over,
    nothing_to_reissue,
    payment_cancel,
)

IS = InstructionStatus


def approval_request(
    *, kind: ApprovalKind | str, actor: str, reason: str, case_id: int | None = None, msg_id: str = ""
) -> Approval:
    """Ask for a cancellation (``case_id``) or a file re-issue (``msg_id``); checked now, carried out when
    another officer approves it."""
    kind = ApprovalKind(kind)
    if not reason.strip():
        raise PaymentError(
            "say why (the reason is shown to the deciding officer and kept in the audit trail)",
            "请说明理由（理由将提供给审核人并记入审计日志）",
        )
    with transaction.atomic():
        target: dict[str, Any]
        described: dict[str, Any]
        if kind == ApprovalKind.CANCEL_PAYMENT:
            if case_id is None:
                raise PaymentError("a cancellation names the case", "撤销拨付须指明案件")
            _check_cancellable(case_id)
            target = {"case_id": case_id}
            described = {"case": case_id}
        else:
            bf = _file_to_reissue(msg_id)
            target = {"bank_file": bf}
            described = {"msg_id": bf.msg_id}
        try:
            with transaction.atomic():
                approval = Approval.objects.create(kind=kind, reason=reason, requested_by=actor, **target)
        except IntegrityError:
            raise PaymentError(
                f"a {kind.value} request for {described} already waits for a decision",
                f"{kind.label.split(' / ')[0]}申请已提交、正在等待审核",
            ) from None
        audit_many(actor=actor, events=[event(Action.PAYMENT_APPROVAL_REQUESTED, "approval", approval.pk,
                                              after={"kind": kind.value, **described}, reason=reason)])  # fmt: skip
    return approval


APPROVAL_FOUR_EYES = FourEyes(
    model=Approval,
    maker="requested_by",
    obj_type="approval",
    missing=lambda approval_id: PaymentError(
        f"no approval request {approval_id}", f"没有编号为 {approval_id} 的申请"
    ),
    decided=lambda approval: PaymentError(
        f"request {approval.pk} was already decided by {approval.decided_by}",
        f"申请 {approval.pk} 已由 {approval.decided_by} 审核",
    ),
    own=lambda approval: PaymentError(
        "four eyes: the officer who asked cannot decide the request",
        "双人复核：提出申请的经办人不能审核自己的申请",
    ),
)


def approval_decide(*, approval_id: int, actor: str, approve: bool, note: str = "") -> Approval:
    """Approve (the action runs now, as ``actor``) or refuse. Not by the officer who asked (four eyes,
    ``staff.foureyes``)."""
    with transaction.atomic():
        approval = four_eyes_open(APPROVAL_FOUR_EYES, approval_id, actor=actor)
        result = _carry_out(approval, actor) if approve else approval.result
        outcome = "approved" if approve else "refused"
        four_eyes_close(APPROVAL_FOUR_EYES, approval, actor=actor, outcome=outcome,
                        action=Action.PAYMENT_APPROVAL_DECIDED,
                        after={"kind": approval.kind, "outcome": outcome, **result}, reason=note,
                        fields={"decision_note": note, "result": result})  # fmt: skip
    return approval


def _carry_out(approval: Approval, actor: str) -> dict[str, Any]:
    reason = f"{approval.reason} (asked by {approval.requested_by}, approved by {actor})"
    if approval.kind == ApprovalKind.CANCEL_PAYMENT:
        assert approval.case_id is not None
        payment = payment_cancel(case_id=approval.case_id, actor=actor, reason=reason)
        return {"case": payment.case_id, "cancelled_fen": payment.amount_fen}
    bf = approval.bank_file
    assert bf is not None
    new = bank_file_reissue(msg_id=bf.msg_id, actor=actor)
    return {"msg_id": bf.msg_id, "reissued": [i.end_to_end_id for i in new]}


def _check_cancellable(case_id: int) -> None:
    """The checks ``payment_cancel`` makes, early: so a request that could never be carried out is refused."""
    payment = Payment.objects.filter(case_id=case_id).first()
    if payment is None:
        raise not_handed_over(case_id)
    if Correction.objects.filter(payment=payment, decided_by="").exists():
        raise PaymentError(
            f"case {case_id} has a correction waiting for a decision: decide it first",
            f"案件 {case_id} 有待审核的账户更正：请先审核该更正",
        )
    if payment.cancelled_at is not None:
        raise PaymentError(
            f"the payment of case {case_id} is already cancelled", f"案件 {case_id} 的拨付已撤销"
        )
    current = Instruction.objects.filter(pk=payment.current_id).first() if payment.current_id else None
    if current is not None and IS(current.status) not in CANCELLABLE:
        raise not_cancellable(case_id, current)


def _file_to_reissue(msg_id: str) -> BankFile:
    bf = BankFile.objects.filter(msg_id=msg_id).first()
    if bf is None:
        raise no_bank_file(msg_id)
    if not reissue_waiting(bf).exists():
        raise nothing_to_reissue(msg_id)
    return bf

"""After ``released``: the case's state follows its money (paid, awaiting correction, back in flight, cancelled),
cancellations and file re-issues need a second officer (service check and database constraint), and a
quarantined answer can be processed again once its cause is fixed."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import IntegrityError, transaction

from mianshen.audit.catalogue import Action as AuditAction
from mianshen.audit.models import AuditEvent
from mianshen.cases.models import Case, CaseHistory
from mianshen.cases.states import State
from mianshen.payments.models import Approval, ApprovalKind, InboundFile, Instruction, Payment
from mianshen.payments.services.approvals import approval_decide, approval_request
from mianshen.payments.services.common import PaymentError
from mianshen.payments.services.ingest import inbound_file_reprocess
from mianshen.payments.services.instructions import payments_release
from mianshen.payments.services.reconcile import reconcile_run
from mianshen.payments.services.recovery import AccountInput, correction_decide, correction_prepare

from .factories import approved_cases, later_drop, uploaded
from .factories import ingest as feed
from .messages import bookings, status_report

pytestmark = pytest.mark.django_db


def state(case_id: int) -> str:
    return Case.objects.get(pk=case_id).state


def test_settled_paid_returned_corrected_reissued_paid(tmp_path: Path) -> None:
    [bf] = uploaded(2, root=tmp_path)
    one, two = bf.instructions.order_by("pk")
    assert {state(one.case_id), state(two.case_id)} == {State.RELEASED}
    feed(status_report(bf, {one.end_to_end_id: ("ACSC", ()), two.end_to_end_id: ("ACSC", ())}))
    assert state(one.case_id) == State.RELEASED, "a status report is not a booking: still in flight"
    feed(bookings([one, two]))
    assert {state(one.case_id), state(two.case_id)} == {State.PAID}
    feed(bookings([one], returned="AC04"))  # the bank sends the money back: the account was closed
    assert state(one.case_id) == State.AWAITING_CORRECTION and state(two.case_id) == State.PAID
    account = AccountInput("105", "105100000001", "6210500000000001", "北京新账户科技有限公司")
    later_drop({one.case.unit_id: account})  # the unit's new account, in the next data drop
    c = correction_prepare(case_id=one.case_id, actor="li", account=account)
    assert state(one.case_id) == State.AWAITING_CORRECTION, "entering a correction alone changes nothing"
    correction_decide(correction_id=c.pk, actor="wang", approve=True)
    assert state(one.case_id) == State.RELEASED
    moves = list(CaseHistory.objects.filter(case_id=one.case_id).values_list("from_state", "to_state"))
    assert moves[-4:] == [("approved", "released"), ("released", "paid"), ("paid", "awaiting_correction"),
                          ("awaiting_correction", "released")]  # fmt: skip
    assert reconcile_run().ok


def test_no_usable_account_awaits_correction_from_the_hand_over() -> None:
    [case] = approved_cases(1, account=False)
    payments_release(actor="system:test")
    assert state(case.pk) == State.AWAITING_CORRECTION
    assert reconcile_run().ok


def test_rejected_line_awaits_correction(tmp_path: Path) -> None:
    [bf] = uploaded(1, root=tmp_path)
    inst = bf.instructions.get()
    feed(status_report(bf, {inst.end_to_end_id: ("RJCT", ("AC01",))}))
    assert state(inst.case_id) == State.AWAITING_CORRECTION


def test_reconcile_reports_a_case_whose_state_disagrees_with_its_money(tmp_path: Path) -> None:
    [bf] = uploaded(1, root=tmp_path)
    inst = bf.instructions.get()
    Case.objects.filter(pk=inst.case_id).update(state=State.PAID)  # not through the transition: a defect
    report = reconcile_run()
    assert not report.ok
    assert f"case {inst.case_id} says paid but its payment is in_flight" in report.case_problems


def test_cancel_needs_a_second_officer(tmp_path: Path) -> None:
    [bf] = uploaded(1, root=tmp_path)
    inst = bf.instructions.get()
    with pytest.raises(PaymentError, match="not cancellable"):  # in flight: refused when asked, not later
        approval_request(kind=ApprovalKind.CANCEL_PAYMENT, case_id=inst.case_id, actor="li", reason="注销")
    feed(status_report(bf, {inst.end_to_end_id: ("RJCT", ("AC04",))}))
    with pytest.raises(PaymentError, match="say why"):
        approval_request(kind=ApprovalKind.CANCEL_PAYMENT, case_id=inst.case_id, actor="li", reason=" ")
    req = approval_request(
        kind=ApprovalKind.CANCEL_PAYMENT, case_id=inst.case_id, actor="li", reason="单位已注销"
    )
    with pytest.raises(PaymentError, match="already waits"):
        approval_request(kind=ApprovalKind.CANCEL_PAYMENT, case_id=inst.case_id, actor="zhao", reason="again")
    with pytest.raises(PaymentError, match="four eyes") as refused:
        approval_decide(approval_id=req.pk, actor="li", approve=True)
    # the back office shows the refusal in the officer's language
    assert refused.value.text("zh-hans") == "双人复核：提出申请的经办人不能审核自己的申请"
    assert refused.value.text("en") == str(refused.value)
    assert Payment.objects.get(case_id=inst.case_id).cancelled_at is None
    assert state(inst.case_id) == State.AWAITING_CORRECTION
    done = approval_decide(approval_id=req.pk, actor="wang", approve=True, note="核实注销")
    assert done.outcome == "approved" and done.result == {
        "case": inst.case_id,
        "cancelled_fen": inst.amount_fen,
    }
    payment = Payment.objects.get(case_id=inst.case_id)
    assert payment.cancelled_by == "wang" and "asked by li" in payment.cancel_reason
    assert state(inst.case_id) == State.PAYMENT_CANCELLED
    with pytest.raises(PaymentError, match="already decided"):
        approval_decide(approval_id=req.pk, actor="zhao", approve=False)
    report = reconcile_run()
    assert report.ok and report.buckets_fen["cancelled"] == inst.amount_fen
    actions = set(AuditEvent.objects.filter(object_type="approval").values_list("action", flat=True))
    assert actions == {AuditAction.PAYMENT_APPROVAL_REQUESTED, AuditAction.PAYMENT_APPROVAL_DECIDED}


def test_refused_cancel_changes_nothing(tmp_path: Path) -> None:
    [bf] = uploaded(1, root=tmp_path)
    inst = bf.instructions.get()
    feed(status_report(bf, {inst.end_to_end_id: ("RJCT", ("AC01",))}))
    req = approval_request(kind=ApprovalKind.CANCEL_PAYMENT, case_id=inst.case_id, actor="li", reason="误报")
    assert (
        approval_decide(approval_id=req.pk, actor="wang", approve=False, note="单位已补正账户").outcome
        == "refused"
    )
    assert Payment.objects.get(case_id=inst.case_id).cancelled_at is None
    assert state(inst.case_id) == State.AWAITING_CORRECTION
    # a new request may be made once the first is decided
    approval_request(kind=ApprovalKind.CANCEL_PAYMENT, case_id=inst.case_id, actor="li", reason="再次申请")


def test_the_database_refuses_a_self_decided_approval(tmp_path: Path) -> None:
    [bf] = uploaded(1, root=tmp_path)
    inst = bf.instructions.get()
    feed(status_report(bf, {inst.end_to_end_id: ("RJCT", ("AC01",))}))
    req = approval_request(kind=ApprovalKind.CANCEL_PAYMENT, case_id=inst.case_id, actor="li", reason="注销")
    with pytest.raises(IntegrityError), transaction.atomic():
        Approval.objects.filter(pk=req.pk).update(decided_by="li", outcome="approved")
    with pytest.raises(IntegrityError), transaction.atomic():  # a target that does not match the kind
        Approval.objects.create(
            kind=ApprovalKind.REISSUE_FILE, case_id=inst.case_id, reason="x", requested_by="li"
        )


def test_file_reissue_needs_a_second_officer(tmp_path: Path) -> None:
    [bf] = uploaded(3, root=tmp_path)
    with pytest.raises(PaymentError, match="no payment rejected for a defect"):
        approval_request(kind=ApprovalKind.REISSUE_FILE, msg_id=bf.msg_id, actor="ops", reason="x")
    feed(status_report(bf, group="RJCT", group_codes=("AM10",), echo=False))
    req = approval_request(
        kind=ApprovalKind.REISSUE_FILE, msg_id=bf.msg_id, actor="ops", reason="控制和已修正"
    )
    with pytest.raises(PaymentError, match="four eyes"):
        approval_decide(approval_id=req.pk, actor="ops", approve=True)
    assert not Instruction.objects.filter(replaces__bank_file=bf).exists()
    done = approval_decide(approval_id=req.pk, actor="chief", approve=True)
    assert len(done.result["reissued"]) == 3
    reissued = Instruction.objects.filter(end_to_end_id__in=done.result["reissued"])
    assert {i.status for i in reissued} == {"created"} and all(i.created_by == "chief" for i in reissued)
    assert {state(i.case_id) for i in reissued} == {State.RELEASED}


def test_a_quarantined_answer_is_processed_again_once_its_cause_is_fixed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    [bf] = uploaded(2, root=tmp_path)
    insts = list(bf.instructions.order_by("pk"))
    # the bank books against the fund's new account number, which nobody had configured here yet
    data = bookings(insts, account="110060000000000999")
    first = feed(data)
    assert first.quarantined and "not the fund's account" in first.reason
    again = inbound_file_reprocess(inbound_id=first.inbound.pk, actor="ops")
    assert again.quarantined and InboundFile.objects.get(pk=first.inbound.pk).status == "quarantined"
    assert {state(i.case_id) for i in insts} == {State.RELEASED}
    monkeypatch.setenv("MIANSHEN_FUND_ACCOUNT", "110060000000000999")  # configuration fixed
    done = inbound_file_reprocess(inbound_id=first.inbound.pk, actor="ops")
    assert not done.quarantined and done.inbound.pk == first.inbound.pk and done.inbound.reason == ""
    assert {state(i.case_id) for i in insts} == {State.PAID}
    assert feed(data).duplicate, "the same bytes again change nothing"
    with pytest.raises(PaymentError, match="nothing to redo"):
        inbound_file_reprocess(inbound_id=first.inbound.pk, actor="ops")
    reprocessed = AuditEvent.objects.filter(action=AuditAction.INBOUND_FILE_REPROCESSED).order_by("seq")
    assert [e.after["status"] for e in reprocessed] == ["quarantined", "applied"]
    assert reconcile_run().ok


def test_a_truncated_file_cannot_be_processed_again() -> None:
    inbound = InboundFile.objects.create(sha256="0" * 64, name="big.xml", content=b"<x", size=300_000_000,
                                         truncated=True, status="quarantined", reason="file too large",
                                         received_by="t")  # fmt: skip
    with pytest.raises(PaymentError, match="ask the bank to send it again"):
        inbound_file_reprocess(inbound_id=inbound.pk, actor="ops")
    with pytest.raises(PaymentError, match="no inbound file"):
        inbound_file_reprocess(inbound_id=inbound.pk + 1, actor="ops")


def test_a_correction_and_a_cancellation_are_never_open_together(tmp_path: Path) -> None:
    [bf] = uploaded(2, root=tmp_path)
    one, two = bf.instructions.order_by("pk")
    feed(status_report(bf, {one.end_to_end_id: ("RJCT", ("AC01",)), two.end_to_end_id: ("RJCT", ("AC01",))}))
    account = AccountInput("105", "105100000001", "6210500000000001", "北京新账户科技有限公司")
    later_drop({one.case.unit_id: account, two.case.unit_id: account})
    correction_prepare(case_id=one.case_id, actor="li", account=account)
    with pytest.raises(PaymentError, match="correction waiting for a decision"):
        approval_request(kind=ApprovalKind.CANCEL_PAYMENT, case_id=one.case_id, actor="zhao", reason="注销")
    approval_request(kind=ApprovalKind.CANCEL_PAYMENT, case_id=two.case_id, actor="zhao", reason="注销")
    with pytest.raises(PaymentError, match="a cancellation waits for a decision"):
        correction_prepare(case_id=two.case_id, actor="li", account=account)

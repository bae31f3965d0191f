"""Recovery: every reason code makes the system do what reasons.py says; corrections with four eyes (database
constraint); a closed account is never paid again; re-issues get new ids linked to the failed one; the database
refuses a second live instruction per case and any change to a frozen file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from django.db import IntegrityError, transaction

from mianshen.notify.models import Message
from mianshen.payments.lifecycle import LIVE
from mianshen.payments.models import BankFile, Correction, HoldItem, Instruction, Payment
from mianshen.payments.reasons import REASONS, Action
from mianshen.payments.services.bankfiles import bank_files_build
from mianshen.payments.services.common import PaymentError
from mianshen.payments.services.instructions import payments_release
from mianshen.payments.services.reconcile import reconcile_run
from mianshen.payments.services.recovery import (
    AccountInput,
    correction_decide,
    correction_prepare,
    payment_cancel,
)

from .factories import approved_cases, later_drop, uploaded
from .factories import ingest as feed
from .messages import bookings, status_report

pytestmark = pytest.mark.django_db
NOTIFIED = {Action.NEEDS_CORRECTION, Action.NEEDS_CORRECTION_NO_RETRY_SAME_ACCOUNT, Action.HELD_FOR_REVIEW}
HOLD = {
    Action.HELD_FOR_REVIEW: "review",
    Action.DUPLICATE_ALERT: "duplicate",
    Action.TREASURY_INCIDENT: "treasury",
    Action.MANUAL_TRIAGE: "triage",
    Action.OUR_DEFECT_RESEND: "our_defect",
}


def new_account(n: int = 1, name: str = "北京新账户科技有限公司") -> AccountInput:
    return AccountInput("105", "105100000001", f"621050000000{n:04d}", name)


@pytest.mark.parametrize("code", [*sorted(REASONS), "XX99", "PRTRY:B42"])
def test_every_reason_code_does_what_the_table_says(tmp_path: Path, code: str) -> None:
    [bf] = uploaded(2, root=tmp_path)
    one, other = bf.instructions.order_by("pk")
    feed(status_report(bf, {one.end_to_end_id: ("RJCT", (code,)), other.end_to_end_id: ("ACSP", ())}))
    one.refresh_from_db()
    other.refresh_from_db()
    action = REASONS[code].action if code in REASONS else Action.MANUAL_TRIAGE
    assert one.status == "rejected" and one.action == action.value and other.status == "accepted"
    notice = Message.objects.filter(event=f"{one.end_to_end_id}:failed", channel="inbox").first()
    assert (notice is not None) == (action in NOTIFIED)
    assert not Message.objects.filter(event=f"{other.end_to_end_id}:failed").exists()
    if notice is not None:
        assert (
            notice.kind == "payment_failed"
            and f"（{code}）" in notice.body_zh
            and f"({code})" in notice.body_en
            and "/lookup/" in notice.body_zh
            and notice.case_id == one.case_id
            and notice.payment_id == one.payment_id
        )
    holds = list(HoldItem.objects.values_list("kind", flat=True))
    assert holds == ([HOLD[action]] if action in HOLD else [])
    assert not Instruction.objects.filter(status="created").exists()  # nothing is re-sent by itself
    assert reconcile_run().ok


@pytest.mark.parametrize(("code", "action"), [("AC04", "needs_correction_no_retry_same_account"),
                                              ("AC06", "held_for_review"), ("MS03", "manual_triage")])  # fmt: skip
def test_every_return_reason_does_what_the_table_says(tmp_path: Path, code: str, action: str) -> None:
    [bf] = uploaded(1, root=tmp_path)
    inst = bf.instructions.get()
    feed(bookings([inst]))
    feed(bookings([inst], returned=code, day=date(2026, 12, 3)))
    inst.refresh_from_db()
    assert inst.status == "returned" and inst.action == action and inst.return_reason == code
    assert reconcile_run().ok


def test_closed_account_needs_a_new_one_four_eyes_then_reissue(tmp_path: Path) -> None:
    [bf] = uploaded(1, root=tmp_path)
    failed = bf.instructions.get()
    feed(status_report(bf, {failed.end_to_end_id: ("RJCT", ("AC04",))}))
    same = AccountInput(
        failed.bank_id, failed.creditor_branch_code, failed.creditor_account, failed.creditor_name
    )
    with pytest.raises(PaymentError, match="closed"):
        correction_prepare(case_id=failed.case_id, actor="li", account=same)
    with pytest.raises(PaymentError, match="closed"):
        correction_prepare(case_id=failed.case_id, actor="li")  # a re-send to the closed account
    later_drop({failed.case.unit_id: new_account()})  # the unit's new account, in the next data drop
    c = correction_prepare(case_id=failed.case_id, actor="li", account=new_account())
    with pytest.raises(PaymentError, match="four eyes"):
        correction_decide(correction_id=c.pk, actor="li", approve=True)
    with pytest.raises(PaymentError, match="already has a correction"):
        correction_prepare(case_id=failed.case_id, actor="zhao", account=new_account())
    c = correction_decide(correction_id=c.pk, actor="wang", approve=True)
    new = c.reissue
    assert new is not None and new.replaces_id == failed.pk and new.attempt == 2
    assert new.end_to_end_id.endswith("-02") and new.end_to_end_id != failed.end_to_end_id
    assert (new.creditor_account, new.bank_id, new.status) == ("6210500000000001", "105", "created")
    assert Payment.objects.get(case_id=failed.case_id).current_id == new.pk
    [nxt] = bank_files_build(actor="system:test", today=date(2026, 12, 1))
    assert list(nxt.instructions.values_list("end_to_end_id", flat=True)) == [new.end_to_end_id]


def test_four_eyes_is_a_database_constraint(tmp_path: Path) -> None:
    [bf] = uploaded(1, root=tmp_path)
    failed = bf.instructions.get()
    feed(status_report(bf, {failed.end_to_end_id: ("RJCT", ("AC01",))}))
    later_drop({failed.case.unit_id: new_account()})
    c = correction_prepare(case_id=failed.case_id, actor="li", account=new_account())
    with pytest.raises(IntegrityError), transaction.atomic():
        Correction.objects.filter(pk=c.pk).update(decided_by="li", outcome="approved")


def test_a_second_live_instruction_is_refused_by_the_database() -> None:
    approved_cases(1)
    payments_release(actor="system:test")
    live = Instruction.objects.get()
    twin = Instruction.objects.get()
    twin.pk, twin.attempt, twin.end_to_end_id = None, 2, live.end_to_end_id[:-2] + "02"
    for status in sorted(s.value for s in LIVE):
        twin.status = status
        with pytest.raises(IntegrityError), transaction.atomic():
            twin.save(force_insert=True)
        twin.pk = None
    twin.status = "rejected"
    twin.save(force_insert=True)  # a dead one may coexist


def test_a_frozen_file_cannot_be_changed(tmp_path: Path) -> None:
    [bf] = uploaded(1, root=tmp_path)
    for change in ({"content": b"<x/>"}, {"sha256": "0" * 64}, {"msg_id": "OTHER"}, {"ctrl_sum_fen": 1}):
        with pytest.raises(Exception, match="frozen bank file"), transaction.atomic():
            BankFile.objects.filter(pk=bf.pk).update(**change)
    BankFile.objects.filter(pk=bf.pk).update(status="answered")  # its delivery state may change


def test_duplicate_alert_blocks_reissue_until_a_person_checked(tmp_path: Path) -> None:
    from mianshen.payments.services.holds import hold_resolve

    [bf] = uploaded(1, root=tmp_path)
    failed = bf.instructions.get()
    feed(status_report(bf, {failed.end_to_end_id: ("RJCT", ("AM05",))}))
    c = correction_prepare(case_id=failed.case_id, actor="li")
    with pytest.raises(PaymentError, match="open duplicate hold"):
        correction_decide(correction_id=c.pk, actor="wang", approve=True)
    hold = HoldItem.objects.get(kind="duplicate")
    hold_resolve(hold_id=hold.pk, actor="wang", resolution="the first payment never arrived (bank confirmed)")
    assert correction_decide(correction_id=c.pk, actor="wang", approve=True).reissue is not None


def test_no_account_on_file_waits_then_correction_gives_the_first_instruction() -> None:
    [case] = approved_cases(1, account=False)
    result = payments_release(actor="system:test")
    assert (result.instructed, result.awaiting_account) == (0, 1)
    payment = Payment.objects.get(case=case)
    assert payment.current is None and "no bank account" in payment.note
    assert Message.objects.filter(case=case, kind="no_account", channel="inbox", to=case.unit_id).exists()
    with pytest.raises(PaymentError, match="no data drop imported since the payment failed"):
        correction_prepare(case_id=case.pk, actor="li", account=new_account(name=case.unit_name))
    later_drop({case.unit_id: new_account(name=case.unit_name)})  # registered at the social-insurance office
    c = correction_prepare(case_id=case.pk, actor="li", account=new_account(name=case.unit_name))
    new = correction_decide(correction_id=c.pk, actor="wang", approve=True).reissue
    assert new is not None and new.attempt == 1 and new.replaces is None
    assert "稳岗返还/" in new.remittance and case.credit_code in new.remittance


def test_cancel_only_when_not_live(tmp_path: Path) -> None:
    [bf] = uploaded(1, root=tmp_path)
    inst = bf.instructions.get()
    with pytest.raises(PaymentError, match="not cancellable"):
        payment_cancel(case_id=inst.case_id, actor="li", reason="unit deregistered")
    feed(status_report(bf, {inst.end_to_end_id: ("RJCT", ("AC01",))}))
    payment_cancel(case_id=inst.case_id, actor="li", reason="unit deregistered")
    report = reconcile_run()
    assert report.ok and report.buckets_fen["cancelled"] == inst.amount_fen

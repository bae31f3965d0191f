"""The application channel in the cases app: a granted key-supervision application is honoured by the next
round (the unit is not sent back to "must apply" and stays under key supervision), a review without one is not,
a refused one stays refused; wrong bank details leave the case with the payment side and are granted only by the
re-issue; which situations a case may apply for."""

from __future__ import annotations

from datetime import date

import pytest

from mianshen.cases.models import Application, Case
from mianshen.cases.services import (
    CaseError,
    application_offers,
    application_submit,
    case_apply_round,
    review_decide,
    review_prepare,
)
from mianshen.cases.states import State
from mianshen.cases.transitions import case_transition
from mianshen.registry.models import Snapshot, Unit
from mianshen.screening.models import Checkpoint, RoundDecision, RoundStatus, ScreeningRound

POLICY = "beijing-2021"


@pytest.fixture(autouse=True)
def _no_checkpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIANSHEN_AUDIT_CHECKPOINT_EVERY", "0")


def _round(
    number: int, checkpoint: str, routes: str = "COMMITMENT_BREACH", decision: str = "manual_review"
) -> ScreeningRound:
    snap = Snapshot.objects.create(
        content_hash=f"{number:02d}" * 32, source="test", extracted_on=date(2021, 6, 30)
    )
    Unit.objects.create(snapshot=snap, line=2, unit_id="U1", credit_code="91110105MA01234567", name="北京承诺有限公司",
                        unit_type="enterprise", industry="65", district="110105", dispatch=False)  # fmt: skip
    rnd = ScreeningRound.objects.create(
        policy_id=POLICY, number=number, snapshot=snap, snapshot_hash=snap.content_hash, as_of=date(2021, 7, 1),
        started_by="test", checkpoint=checkpoint, status=RoundStatus.COMPLETED,
    )  # fmt: skip
    RoundDecision.objects.create(round=rnd, unit_id="U1", credit_code="91110105MA01234567", decision=decision,
                                 routes=routes, amount_fen=123_456, evidence={})  # fmt: skip
    return rnd


def _apply_and_decide(case: Case, *, grant: bool, kind: str = "key_supervision") -> Application:
    app = application_submit(case_id=case.pk, kind=kind, statement="已整改，补足岗位。", evidence={}, actor="单位 U1 portal",
                             reference="A-0123456789")  # fmt: skip
    review = review_prepare(
        case_id=case.pk, recommendation="approve" if grant else "reject", notes="核实", actor="officer-a"
    )
    review_decide(
        review_id=review.pk, approve=grant, actor="reviewer-b", reason="同意" if grant else "未整改"
    )
    app.refresh_from_db()
    return app


@pytest.mark.django_db
def test_a_granted_key_supervision_application_is_honoured_by_the_next_round() -> None:
    case_apply_round(round=_round(1, Checkpoint.INITIAL), actor="round 1")
    case = Case.objects.get(unit_id="U1")
    assert (case.state, case.key_supervision) == (State.AWAITING_APPLICATION, True)
    app = _apply_and_decide(case, grant=True)
    assert app.outcome == "granted"
    case.refresh_from_db()
    assert case.state == State.IDENTIFIED
    case_apply_round(round=_round(2, Checkpoint.BEFORE_PUBLICITY), actor="round 2")
    case.refresh_from_db()
    assert (case.state, case.key_supervision, case.amount_fen) == (State.RECHECKED, True, 123_456)


@pytest.mark.django_db
def test_a_review_without_a_granted_application_does_not_skip_applying() -> None:
    case_apply_round(round=_round(1, Checkpoint.INITIAL, routes="ABNORMAL_OPERATION"), actor="round 1")
    case = Case.objects.get(unit_id="U1")
    assert case.state == State.UNDER_REVIEW
    review = review_prepare(case_id=case.pk, recommendation="approve", notes="正常经营", actor="officer-a")
    review_decide(review_id=review.pk, approve=True, actor="reviewer-b")
    case_apply_round(
        round=_round(2, Checkpoint.AD_HOC, routes="ABNORMAL_OPERATION|COMMITMENT_BREACH"), actor="r2"
    )
    case.refresh_from_db()
    assert (case.state, case.key_supervision) == (State.AWAITING_APPLICATION, True)


@pytest.mark.django_db
def test_a_refused_application_excludes_and_the_next_round_keeps_it_so() -> None:
    case_apply_round(round=_round(1, Checkpoint.INITIAL), actor="round 1")
    case = Case.objects.get(unit_id="U1")
    assert _apply_and_decide(case, grant=False).outcome == "refused"
    case_apply_round(round=_round(2, Checkpoint.BEFORE_PUBLICITY), actor="round 2")
    case.refresh_from_db()
    assert (case.state, case.reason) == (State.EXCLUDED, "REVIEW_REJECTED")
    offered = {o.kind for o in application_offers(case) if o.available}
    assert "key_supervision" not in offered and "believe_qualify" in offered


@pytest.mark.django_db
def test_offers_and_refusals_by_state() -> None:
    case_apply_round(round=_round(1, Checkpoint.INITIAL), actor="round 1")
    case = Case.objects.get(unit_id="U1")
    offered = {o.kind: o for o in application_offers(case)}
    assert offered["key_supervision"].available and offered["commitment_fulfilled"].available
    assert not offered["wrong_bank_details"].available and offered["wrong_bank_details"].why_not
    with pytest.raises(CaseError, match="wrong bank"):
        application_submit(case_id=case.pk, kind="wrong_bank_details", statement="", evidence={}, actor="u")
    application_submit(
        case_id=case.pk, kind="key_supervision", statement="说明说明说明说明", evidence={}, actor="u"
    )
    with pytest.raises(CaseError, match="already has an application"):
        application_submit(
            case_id=case.pk, kind="commitment_fulfilled", statement="x", evidence={}, actor="u"
        )


@pytest.mark.django_db
def test_wrong_bank_details_stay_with_the_payment_side_until_the_reissue() -> None:
    case = Case.objects.create(policy_id=POLICY, unit_id="U9", credit_code="91110105MA01234567", unit_name="北京",
                               district="110105", state=State.AWAITING_CORRECTION, amount_fen=100)  # fmt: skip
    app = application_submit(case_id=case.pk, kind="wrong_bank_details", statement="", actor="单位 U9 portal",
                             evidence={"bank_code": "102", "branch_code": "102100000001",
                                       "account_no": "6222020200112233445", "account_name": "北京"})  # fmt: skip
    case.refresh_from_db()
    assert case.state == State.AWAITING_CORRECTION and app.outcome == ""
    case_transition(case_id=case.pk, to=State.RELEASED, actor="payments", reason="re-issued")
    app.refresh_from_db()
    assert (app.outcome, app.decided_by) == ("granted", "payments")

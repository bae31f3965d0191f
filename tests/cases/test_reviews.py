"""Manual review, four eyes: two reviewers deciding one review at once (the second waits for the first one's lock
on the case, then finds the review decided — see ``tests/blocking.py``), and the database's own refusal of the
preparer as decider."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.cases.models import Case, Review
from mianshen.cases.services import CaseError, review_decide, review_prepare
from mianshen.cases.states import State

from ..blocking import race, row_lock

CASE_ROW = row_lock("cases_case")


def _under_review(unit: str) -> Case:
    return Case.objects.create(
        policy_id="beijing-2021",
        unit_id=unit,
        credit_code="91110105MA01234567",
        unit_name="北京测试有限公司",
        district="110105",
        state=State.UNDER_REVIEW,
        amount_fen=100,
    )


@pytest.mark.django_db(transaction=True)
def test_a_second_reviewer_waits_for_the_first_and_finds_the_review_decided() -> None:
    case = _under_review("U1")
    review = review_prepare(case_id=case.pk, recommendation="approve", notes="材料齐全", actor="maker")
    with race() as r:
        first = r.hold(
            "reviewer-1",
            lambda: review_decide(review_id=review.pk, approve=True, actor="checker-1"),
            pause_after=CASE_ROW,
        )
        second = r.contend(
            "reviewer-2",
            lambda: review_decide(review_id=review.pk, approve=False, actor="checker-2", reason="材料不全"),
        )
        r.assert_waits(second, on=first, at=CASE_ROW)
        first.resume()
        assert first.result().decided_by == "checker-1"
        with pytest.raises(CaseError, match="already decided"):
            second.result()  # re-read under the lock: decided meanwhile
    review.refresh_from_db()
    assert (review.decided_by, review.outcome) == ("checker-1", "approve")
    case.refresh_from_db()
    assert (case.state, case.version) == (State.IDENTIFIED, 1)
    assert AuditEvent.objects.filter(action=Action.CASE_REVIEWED).count() == 1


@pytest.mark.django_db
def test_four_eyes_is_a_database_constraint() -> None:
    case = _under_review("U2")
    review = review_prepare(case_id=case.pk, recommendation="approve", notes="ok", actor="maker")
    with pytest.raises(CaseError, match="four eyes"):
        review_decide(review_id=review.pk, approve=True, actor="maker")
    # even past the service, the database refuses the preparer as decider
    with pytest.raises(IntegrityError), transaction.atomic():
        Review.objects.filter(pk=review.pk).update(decided_by="maker", outcome="approve")

"""Races, with real concurrent connections (threads), on PostgreSQL and on an SQLite file database with
IMMEDIATE transactions: exactly one wins, the other gets a clean refusal."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from django.db import connection, connections

from mianshen.cases.models import Case, Review
from mianshen.cases.services import CaseError, review_decide, review_prepare
from mianshen.cases.states import State
from mianshen.cases.transitions import TransitionRefused
from mianshen.datadrop.generate import generate
from mianshen.datadrop.validate import validate_drop
from mianshen.registry.services import snapshot_import
from mianshen.screening.models import RoundStatus, ScreeningRound
from mianshen.screening.services import RoundRefused, round_start

pytestmark = pytest.mark.django_db(transaction=True)


def _race(*fns: Callable[[], object]) -> list[object]:
    """Run the functions at once, each on its own connection; return each one's result or exception."""
    assert connection.vendor in {"postgresql", "sqlite"}
    if connection.vendor == "sqlite":
        assert not connection.is_in_memory_db(), "race tests need a file database"
    barrier = threading.Barrier(len(fns))
    results: list[object] = [None] * len(fns)

    def run(i: int, fn: Callable[[], object]) -> None:
        try:
            barrier.wait()
            results[i] = fn()
        except Exception as exc:
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@pytest.fixture
def snapshot(tmp_path: Path) -> object:
    drop = tmp_path / "d"
    generate(units=30, seed=5, out=drop, fmt="csv")
    return snapshot_import(drop=validate_drop(drop), extracted_on=date(2021, 7, 1)).snapshot


def test_two_rounds_started_together_one_wins(snapshot: object) -> None:
    def start() -> object:
        return round_start(policy_id="beijing-2021", snapshot=snapshot, actor="officer")  # type: ignore[arg-type]

    results = _race(start, start)
    won = [r for r in results if isinstance(r, ScreeningRound)]
    refused = [r for r in results if isinstance(r, RoundRefused)]
    assert len(won) == 1 and len(refused) == 1, results
    assert "running" in str(refused[0])
    assert ScreeningRound.objects.filter(status=RoundStatus.RUNNING).count() == 1


def test_two_reviewers_approving_the_same_case_one_wins() -> None:
    case = Case.objects.create(
        policy_id="beijing-2021",
        unit_id="U1",
        credit_code="91110105MA01234567",
        unit_name="北京测试有限公司",
        district="110105",
        state=State.UNDER_REVIEW,
        amount_fen=100,
    )
    review = review_prepare(case_id=case.pk, recommendation="approve", notes="材料齐全", actor="maker")

    def approve(who: str) -> Callable[[], object]:
        return lambda: review_decide(review_id=review.pk, approve=True, actor=who)

    results = _race(approve("checker-1"), approve("checker-2"))
    won = [r for r in results if isinstance(r, Review)]
    refused = [r for r in results if isinstance(r, CaseError | TransitionRefused)]
    assert len(won) == 1 and len(refused) == 1, results
    review.refresh_from_db()
    assert review.decided_by in {"checker-1", "checker-2"}
    case.refresh_from_db()
    assert case.state == State.IDENTIFIED and case.version == 1


def test_four_eyes_is_a_database_constraint() -> None:
    from django.db import IntegrityError, transaction

    case = Case.objects.create(
        policy_id="beijing-2021",
        unit_id="U2",
        credit_code="91110105MA01234567",
        unit_name="北京测试有限公司",
        district="110105",
        state=State.UNDER_REVIEW,
        amount_fen=100,
    )
    review = review_prepare(case_id=case.pk, recommendation="approve", notes="ok", actor="maker")
    with pytest.raises(CaseError, match="four eyes"):
        review_decide(review_id=review.pk, approve=True, actor="maker")
    # even past the service, the database refuses the preparer as decider
    with pytest.raises(IntegrityError), transaction.atomic():
        Review.objects.filter(pk=review.pk).update(decided_by="maker", outcome="approve")

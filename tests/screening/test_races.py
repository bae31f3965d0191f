"""Two rounds of one policy started at once: the second waits for the first (PostgreSQL: its insert waits on the
first one's uncommitted row under the unique "one running round per policy" index; SQLite: at BEGIN
IMMEDIATE), and once the first commits it gets a clean refusal. See ``tests/blocking.py``."""

from __future__ import annotations

from datetime import date

import pytest

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.policy.families import REFUND
from mianshen.registry.models import Snapshot
from mianshen.screening.models import RoundStatus, ScreeningRound
from mianshen.screening.services import RoundRefused, round_start

from ..blocking import insert_into, race

pytestmark = pytest.mark.django_db(transaction=True)
ROUND_ROW = insert_into("screening_screeninground")


@pytest.fixture
def snapshot() -> Snapshot:
    """A snapshot to start rounds over (no round runs here: starting one only queues its job), holding the tables
    the refund's family needs (a round is refused over a snapshot without them)."""
    return Snapshot.objects.create(
        content_hash="ab" * 32,
        source="tests",
        extracted_on=date(2021, 7, 1),
        rows_accepted={table: 0 for table in REFUND.required_tables},
    )


def test_a_second_round_waits_for_the_first_and_is_refused_while_it_runs(snapshot: Snapshot) -> None:
    def start(officer: str) -> ScreeningRound:
        return round_start(policy_id="beijing-2021", snapshot=snapshot, actor=officer)

    with race() as r:
        first = r.hold("start-1", lambda: start("officer-li"), pause_after=ROUND_ROW)
        second = r.contend("start-2", lambda: start("officer-wang"))
        r.assert_waits(second, on=first, at=ROUND_ROW)
        first.resume()
        started = first.result()
        with pytest.raises(RoundRefused, match=r"running \(round 1, started by officer-li\)"):
            second.result()
    assert list(ScreeningRound.objects.values_list("pk", "status")) == [(started.pk, RoundStatus.RUNNING)]
    assert AuditEvent.objects.filter(action=Action.ROUND_STARTED).count() == 1

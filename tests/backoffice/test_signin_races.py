"""Sign-in counters under concurrency (issue 9, item 8): two failed sign-ins of one account at once, each on
its own connection; the second waits for the first one's transaction (PostgreSQL: on the counter row's lock, or
on the unique counter key when the row is new; SQLite: at BEGIN IMMEDIATE), then counts on from what the first
one wrote — no failure is lost and the account is locked once. See ``tests/blocking.py``. Its own module: the
back-office world's module-long transaction would hold SQLite's write lock."""

from __future__ import annotations

import pytest
from django.conf import settings

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.staff.models import SignInCounter
from mianshen.staff.signin import Failure, FailureOutcome, sign_in_failure_record

from ..blocking import insert_into, race, row_lock

pytestmark = pytest.mark.django_db(transaction=True)
COUNTER_ROW = row_lock("backoffice_signincounter")
NEW_COUNTER = insert_into("backoffice_signincounter")


def _fail(address: str) -> FailureOutcome:
    return sign_in_failure_record(name="target", address=address, failure=Failure.PASSWORD)


def _events(action: Action) -> int:
    return AuditEvent.objects.filter(action=action).count()


def test_the_failure_that_locks_and_the_next_one_are_counted_in_turn_and_lock_once() -> None:
    limit = settings.SIGNIN_ACCOUNT_MAX_FAILURES
    for i in range(limit - 1):
        assert not _fail(f"10.1.1.{i}").locked
    with race() as r:
        first = r.hold("failure-1", lambda: _fail("10.1.0.1"), pause_after=COUNTER_ROW)
        second = r.contend("failure-2", lambda: _fail("10.1.0.2"))
        r.assert_waits(second, on=first, at=COUNTER_ROW)
        first.resume()
        assert first.result().locked  # the limit-th failure locks the account
        assert second.result().locked  # it read the count under the lock: locked already, not locked again
    account = SignInCounter.objects.get(scope="account", key="target")
    assert account.failures == limit + 1 and account.locked_at is not None
    assert _events(Action.STAFF_LOCKED_OUT) == 1
    assert _events(Action.STAFF_SIGN_IN_FAILED) == limit + 1


def test_the_first_two_failures_of_a_name_at_once_make_one_counter_of_two() -> None:
    with race() as r:
        first = r.hold("failure-1", lambda: _fail("10.1.0.1"), pause_after=NEW_COUNTER)
        second = r.contend("failure-2", lambda: _fail("10.1.0.2"))
        r.assert_waits(second, on=first, at=NEW_COUNTER)
        first.resume()
        assert not first.result().locked
        assert not second.result().locked  # its insert collided with the first: it counted on the first's row
    assert SignInCounter.objects.get(scope="account", key="target").failures == 2
    assert _events(Action.STAFF_SIGN_IN_FAILED) == 2

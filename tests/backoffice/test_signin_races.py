"""Sign-in counters under concurrency (issue 9, item 8), with real connections (threads) on PostgreSQL and on
an SQLite file database (IMMEDIATE transactions). Its own module: the back-office world's module-long
transaction would hold SQLite's write lock."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.backoffice.models import SignInCounter
from mianshen.backoffice.signin import Failure, sign_in_failure_record


@pytest.mark.django_db(transaction=True)
def test_concurrent_failures_are_counted_exactly_and_lock_once() -> None:
    """Eight failures at once, each on its own connection: the counter says 8 and there is one lockout."""
    if connection.vendor == "sqlite":
        assert not connection.is_in_memory_db(), "race tests need a file database"
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def fail(i: int) -> None:
        try:
            barrier.wait()
            sign_in_failure_record(name="target", address=f"10.1.0.{i}", failure=Failure.PASSWORD)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=fail, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    account = SignInCounter.objects.get(scope="account", key="target")
    assert account.failures == 8 and account.locked_at is not None
    assert AuditEvent.objects.filter(action=Action.STAFF_LOCKED_OUT).count() == 1
    assert AuditEvent.objects.filter(action=Action.STAFF_SIGN_IN_FAILED).count() == 8

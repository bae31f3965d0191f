"""Concurrent appends give one valid, gap-free chain: threads with their own connections, on PostgreSQL
(advisory lock) and on an SQLite file database (IMMEDIATE transactions). Transactional tests: the events
really commit, and the guarded flush empties the table afterwards."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connection, connections, transaction

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.audit.services import audit_record
from mianshen.audit.verify import audit_verify

pytestmark = pytest.mark.usefixtures("transactional_db")


def _in_thread(target: Callable[[], None], errors: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            target()
        except BaseException as exc:  # reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    return threading.Thread(target=run)


def test_the_database_is_one_other_connections_can_see() -> None:
    if connection.vendor == "sqlite":
        name = str(connection.settings_dict["NAME"])
        assert Path(name).is_file() and "mode=memory" not in name, "race tests need an SQLite file database"
        assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    else:
        assert connection.vendor == "postgresql"


@pytest.mark.parametrize(("threads", "each"), [(2, 40), (4, 25)])
def test_concurrent_appends_make_one_gap_free_chain(threads: int, each: int) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def writer(name: str) -> Callable[[], None]:
        def append() -> None:
            start.wait()
            for i in range(each):
                with transaction.atomic():  # a business change and its event, in one transaction
                    audit_record(
                        actor=name,
                        action=Action.CASE_TRANSITION,
                        obj_type="case",
                        obj_id=f"{name}-{i}",
                        after={"i": i},
                    )

        return append

    workers = [_in_thread(writer(f"worker{n}"), errors) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not errors, errors
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, threads * each + 1))
    for n in range(threads):  # each writer's own events stay in its order
        mine = AuditEvent.objects.filter(actor=f"worker{n}").order_by("seq").values_list("after", flat=True)
        assert [a["i"] for a in mine if a is not None] == list(range(each))
    result = audit_verify()
    assert result.ok, result.summary()


def test_a_second_writer_waits_for_the_first_transaction_to_end() -> None:
    """The chain is locked from the first event until the caller's transaction commits."""
    errors: list[BaseException] = []
    first_written, release, second_done = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with transaction.atomic():
            audit_record(actor="first", action=Action.BANK_FILE_FROZEN, obj_type="bank_file", obj_id="F1")
            first_written.set()
            release.wait(timeout=30)

    def second() -> None:
        first_written.wait(timeout=30)
        audit_record(actor="second", action=Action.BANK_FILE_UPLOADED, obj_type="bank_file", obj_id="F1")
        second_done.set()

    threads = [_in_thread(first, errors), _in_thread(second, errors)]
    for thread in threads:
        thread.start()
    assert first_written.wait(timeout=30)
    time.sleep(0.5)
    assert not second_done.is_set(), "the second append did not wait for the first transaction"
    release.set()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", "actor")) == [
        (1, "first"),
        (2, "second"),
    ]
    assert audit_verify().ok

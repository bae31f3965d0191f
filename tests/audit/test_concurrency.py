"""Concurrent appends give one valid, gap-free chain: threads with their own connections, on PostgreSQL
(advisory lock) and on an SQLite file database (IMMEDIATE transactions). The second test proves the waiting
(``tests/blocking.py``). Transactional tests: the events really commit, and the guarded flush empties the table
afterwards."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connections, transaction

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.audit.services import audit_record
from mianshen.audit.verify import audit_verify

from ..blocking import ADVISORY_LOCK, pause_here, race

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


def test_concurrent_appends_make_one_gap_free_chain() -> None:
    """A load check, not a proof of the lock (that is the next test, and a serial run would pass this one too):
    four writers on their own connections interleave 100 short transactions; the chain has no gap, each
    writer's events keep its order, and it verifies."""
    threads, each = 4, 25
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
    """The chain is locked from the first event until the caller's transaction commits: a second append waits
    (PostgreSQL: on the chain's advisory lock, held by the first writer's backend; SQLite: at BEGIN IMMEDIATE),
    then reads the new head and follows it."""

    def first() -> None:
        with transaction.atomic():
            audit_record(actor="first", action=Action.BANK_FILE_FROZEN, obj_type="bank_file", obj_id="F1")
            pause_here()  # the event is written, the caller's transaction still open

    def second() -> AuditEvent:
        return audit_record(
            actor="second", action=Action.BANK_FILE_UPLOADED, obj_type="bank_file", obj_id="F1"
        )

    with race() as r:
        holder = r.hold("first", first)
        waiting = r.contend("second", second)
        r.assert_waits(waiting, on=holder, at=ADVISORY_LOCK)
        holder.resume()
        holder.result()
        assert waiting.result().seq == 2
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", "actor")) == [
        (1, "first"),
        (2, "second"),
    ]
    assert audit_verify().ok

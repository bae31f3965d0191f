"""core.bulkdb writes rows the ORM reads back the same, on both databases (timestamps included)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection

from mianshen.core.bulkdb import insert_objects, insert_rows, update_rows
from mianshen.payments.models import ReconcileRun

pytestmark = pytest.mark.django_db
CST = timezone(timedelta(hours=8))
COLUMNS = (
    "at",
    "by",
    "ok",
    "cases",
    "approved_fen",
    "difference_fen",
    "buckets",
    "problems",
    "approved_waiting",
    "detail",
)


def test_timestamps_round_trip_and_compare_like_the_orms() -> None:
    orm = ReconcileRun.objects.create(by="orm", ok=True, cases=1, approved_fen=1, difference_fen=0, buckets={},
                                      problems=0)  # fmt: skip
    later = orm.at + timedelta(microseconds=1)
    insert_rows(ReconcileRun, COLUMNS, [(later.astimezone(CST), "bulk", True, 2, 2, 0, "{}", 0, 0, "{}")])
    bulk = ReconcileRun.objects.get(by="bulk")
    assert bulk.at == later  # the instant, whatever zone it was given in
    # compared as stored: the bulk row is the later one (on SQLite the text must be the ORM's naive UTC form)
    assert list(ReconcileRun.objects.filter(at__gt=orm.at).values_list("by", flat=True)) == ["bulk"]
    update_rows(ReconcileRun, ["at"], [(orm.pk, datetime(2026, 12, 1, 9, 0, tzinfo=CST))])
    orm.refresh_from_db()
    assert orm.at == datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT at || '' FROM payments_reconcilerun WHERE id = %s", [orm.pk])
            assert cursor.fetchone()[0] == "2026-12-01 01:00:00"


@pytest.mark.django_db
def test_bulk_update_batches_stay_within_a_small_parameter_limit(small_parameter_limit: int) -> None:
    """Django sizes bulk_update batches for ``fields + 2`` parameters an object; they cost ``2 * fields + 1``."""
    from mianshen.core.bulkdb import bulk_update_batch

    for fields in (1, 2, 3, 5):
        size = bulk_update_batch(fields)
        assert size is not None and size * (2 * fields + 1) <= small_parameter_limit


@pytest.mark.parametrize("values", [[], [1, 2], ["U1", "U2"]], ids=["none", "ints", "strings"])
def test_one_parameter_filters_text_and_number_columns_even_with_no_values(values: list[object]) -> None:
    """Regression: with no values PostgreSQL refused ``unit_id IN (SELECT unnest('{}'::bigint[]))`` (varchar =
    bigint); the back office's round page crashed on a round that changed no unit."""
    from mianshen.core.bulkdb import one_parameter
    from mianshen.registry.models import Unit

    assert (
        list(Unit.objects.filter(unit_id__in=one_parameter([v for v in values if isinstance(v, str)]))) == []
    )
    assert (
        list(ReconcileRun.objects.filter(pk__in=one_parameter([v for v in values if isinstance(v, int)])))
        == []
    )
    assert ReconcileRun.objects.exclude(pk__in=one_parameter([])).count() == ReconcileRun.objects.count()


def test_a_large_bulk_load_refreshes_the_planner_statistics(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bulk load of at least ANALYZE_AFTER_ROWS rows runs ANALYZE on PostgreSQL (the notice's entries: a name
    search on a fresh 300,000-entry list took 162 ms on the stale statistics, 22 ms after); SQLite needs none."""
    from mianshen.core import bulkdb

    rows = [(datetime(2026, 12, 1, tzinfo=CST), f"r{i}", True, i, i, 0, "{}", 0, 0, "{}") for i in range(30)]
    loaded = insert_rows(ReconcileRun, COLUMNS, rows)
    assert bulkdb.analyze_after_load(ReconcileRun, loaded) is False  # below the threshold: nothing
    monkeypatch.setattr(bulkdb, "ANALYZE_AFTER_ROWS", 30)
    ran = bulkdb.analyze_after_load(ReconcileRun, loaded)
    assert ran is (connection.vendor == "postgresql")
    if ran:  # the statistics now know the rows (reltuples is -1 for a never-analysed table)
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'payments_reconcilerun'")
            assert cursor.fetchone()[0] == ReconcileRun.objects.count()


def test_insert_objects_writes_what_the_orm_writes_bytes_and_json_included() -> None:
    """Instances inserted by ``insert_objects`` (server-side binding on PostgreSQL) read back exactly as those the
    ORM saved: bytes, JSON, defaults, ``auto_now_add``, given and database-assigned ids; a unique violation is
    Django's ``IntegrityError``."""
    import os

    from django.db import IntegrityError, transaction

    from mianshen.payments.models import InboundFile

    def inbound(sha: str, content: bytes, pk: int | None = None) -> InboundFile:
        return InboundFile(id=pk, sha256=sha, name="a.xml", kind="camt.054.001.08", msg_id="M1", content=content,
                           size=len(content), status="applied", counts={"lines": 3, "中": [1, 2]},
                           received_by="t")  # fmt: skip

    blob = os.urandom(300_000) + b"\x00\\x'\""
    saved = [inbound("a" * 64, blob), inbound("b" * 64, b"")]
    for obj in saved:
        obj.save(force_insert=True)
    given = 10_000 + max(o.pk for o in saved)
    mine = [inbound("c" * 64, blob), inbound("d" * 64, b""), inbound("e" * 64, b"x", pk=given)]
    insert_objects(mine)
    assert [o.pk for o in mine][2] == given and all(o.pk and not o._state.adding for o in mine)
    skip = {"id", "sha256", "received_at"}
    names = [f.attname for f in InboundFile._meta.concrete_fields if f.attname not in skip]

    def row(pk: int) -> list[object]:
        values = list(InboundFile.objects.filter(pk=pk).values_list(*names).get())
        return [bytes(v) if isinstance(v, memoryview) else v for v in values]

    assert [row(o.pk) for o in mine[:2]] == [row(o.pk) for o in saved]
    assert bytes(InboundFile.objects.get(pk=mine[0].pk).content) == blob
    assert InboundFile.objects.get(pk=given).received_at is not None
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_objects([inbound("a" * 64, b"again")])

"""core.bulkdb writes rows the ORM reads back the same, on both databases (timestamps included)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection

from mianshen.core.bulkdb import insert_rows, update_rows
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
)


def test_timestamps_round_trip_and_compare_like_the_orms() -> None:
    orm = ReconcileRun.objects.create(by="orm", ok=True, cases=1, approved_fen=1, difference_fen=0, buckets={},
                                      problems=0)  # fmt: skip
    later = orm.at + timedelta(microseconds=1)
    insert_rows(ReconcileRun, COLUMNS, [(later.astimezone(CST), "bulk", True, 2, 2, 0, "{}", 0, 0)])
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
    from django.db import connection

    from mianshen.core.bulkdb import bulk_update_batch

    if connection.vendor != "sqlite":
        pytest.skip("the statement's parameter count is what SQLite limits")
    for fields in (1, 2, 3, 5):
        size = bulk_update_batch(fields)
        assert size is not None and size * (2 * fields + 1) <= small_parameter_limit

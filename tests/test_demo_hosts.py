"""The demo's look-up of host employers among the city's units (``units_by_credit_code``): the lowest unit id per
credit code, found through the (snapshot, credit_code) index, not by walking every unit of the snapshot."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mianshen.cli.demo import units_by_credit_code
from mianshen.registry.models import Snapshot, Unit

pytestmark = pytest.mark.django_db


def _unit(snap: Snapshot, line: int, unit_id: str, code: str) -> Unit:
    return Unit(snapshot=snap, line=line, unit_id=unit_id, credit_code=code, name="某单位",
                unit_type="enterprise", industry="65", district="110105", dispatch=False)  # fmt: skip


def test_lowest_unit_per_code_of_this_snapshot_only() -> None:
    snap, other = (
        Snapshot.objects.create(content_hash=c * 64, source="tests", extracted_on=date(2021, 6, 30))
        for c in "ab"
    )
    Unit.objects.bulk_create(
        [
            _unit(snap, 2, "U3", "CODE-A"),
            _unit(snap, 3, "U1", "CODE-A"),  # the same code twice: the lowest unit id wins
            _unit(snap, 4, "U2", "CODE-B"),
            _unit(snap, 5, "U4", "CODE-C"),
            _unit(other, 2, "U0", "CODE-A"),  # another snapshot: not seen
        ]
    )
    assert units_by_credit_code(snap.pk, ["CODE-A", "CODE-B", "CODE-X"]) == {"CODE-A": "U1", "CODE-B": "U2"}
    assert units_by_credit_code(snap.pk, []) == {}


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's query planner")
def test_looked_up_by_credit_code_not_walked_by_unit() -> None:
    # regression: ``ORDER BY unit_id`` made SQLite scan the snapshot's units in the (snapshot, unit_id) index, per
    # dispatch firm (17 ms a firm at 50,000 units, growing with the city)
    snap = Snapshot.objects.create(content_hash="c" * 64, source="tests", extracted_on=date(2021, 6, 30))
    Unit.objects.bulk_create([_unit(snap, i + 2, f"U{i:04d}", f"CODE-{i:04d}") for i in range(200)])
    with CaptureQueriesContext(connection) as ctx:
        assert units_by_credit_code(snap.pk, ["CODE-0007"]) == {"CODE-0007": "U0007"}
    (query,) = [q["sql"] for q in ctx.captured_queries if "registry_unit" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {query}")
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "unit_credit_code" in plan, plan

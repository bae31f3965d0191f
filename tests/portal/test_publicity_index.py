"""The public list's search of a short name fragment (one or two characters): on PostgreSQL it reads the index of
characters and pairs (``portal.publicity_index``), on SQLite it scans by LIKE — the same lines, in list order,
with the same capped count either way, checked against a plain Python reading of the names."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mianshen.cases.models import Notice, NoticeEntry
from mianshen.portal import selectors
from mianshen.portal.models import PublicityGram
from mianshen.portal.publicity_index import index_notice, partition_name

from .conftest import DISTRICTS, make_cases, open_notice

ALPHABET = "北京华为物流科技星光晨"  # few characters: fragments of one or two hit often, some never
NAMES = tuple(
    "".join(ALPHABET[(i * 7 + k * k * 3 + i // 5) % len(ALPHABET)] for k in range(3 + i % 6))
    for i in range(60)
)


@pytest.fixture
def two_notices(db: None) -> list[NoticeEntry]:
    """Two open notices (as two policies' lists would be): 40 lines, then 20 more."""
    make_cases(40, names=NAMES[:40])
    first = open_notice([])
    make_cases(20, start=40, names=NAMES[40:])
    second = open_notice([])
    return list(NoticeEntry.objects.filter(notice__in=[first, second]).order_by("id"))


def expected(entries: list[NoticeEntry], q: str, district: str) -> list[str]:
    return [e.unit_name for e in entries if q in e.unit_name and (not district or e.district == district)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    q=st.text(alphabet=ALPHABET + "海", min_size=1, max_size=2),
    district=st.sampled_from(("", *DISTRICTS)),
    page=st.integers(1, 4),
)
def test_a_short_fragment_finds_the_same_lines_in_list_order(
    two_notices: list[NoticeEntry], q: str, district: str, page: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selectors, "COUNT_CAP", 12)  # the cap is reached by the frequent fragments
    want = expected(two_notices, q, district)
    found = selectors.publicity_page(q=q, district=district, page=page)
    size = found.page_size
    assert [r.unit_name for r in found.rows] == want[(page - 1) * size : page * size]
    assert found.has_next == (len(want) > page * size)
    assert (found.total, found.total_capped) == (min(len(want), 12), len(want) > 12)
    assert [r.unit_name for r in selectors.publicity_rows(q=q, district=district)] == want


postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")
sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite only")


@sqlite_only
def test_sqlite_keeps_no_index_and_scans(db: None) -> None:
    make_cases(1, names=("北京华为",))
    notice = open_notice([])
    assert index_notice(notice.pk) == 0 and not PublicityGram.objects.exists()
    assert [r.unit_name for r in selectors.publicity_page(q="华为").rows] == ["北京华为"]


@postgres_only
def test_the_index_holds_each_character_and_pair_once_per_line(db: None) -> None:
    make_cases(2, names=("北京北京", "华"))
    open_notice([])
    rows = sorted(PublicityGram.objects.values_list("entry__unit_name", "gram"))
    assert rows == sorted([("北京北京", g) for g in ("北", "京", "北京", "京北")] + [("华", "华")])


@postgres_only
def test_lines_of_notices_no_longer_open_leave_the_index_when_the_next_opens(db: None) -> None:
    make_cases(3, names=("北京甲", "北京乙", "北京丙"))
    old = open_notice([])
    assert PublicityGram.objects.filter(notice=old).exists()
    Notice.objects.filter(pk=old.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
    make_cases(1, start=3, names=("华为丁",))
    new = open_notice([])
    assert set(PublicityGram.objects.values_list("notice_id", flat=True)) == {new.pk}
    assert [r.unit_name for r in selectors.publicity_page(q="华为").rows] == ["华为丁"]


@postgres_only
def test_a_notice_s_fragments_are_its_own_partition_sorted_and_the_memory_settings_are_put_back(
    db: None,
) -> None:
    """A notice's rows are a partition of their own (written sorted by (gram, district, entry), then attached: its
    indexes built in one pass, where 6.8 million rows written through the indexes took 305 s at Beijing's size),
    the partition has both indexes, and the larger sort memory does not outlive the statement."""
    make_cases(30, names=NAMES[:30])
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('work_mem'), current_setting('maintenance_work_mem')")
        before = cursor.fetchone()
        notice = open_notice([])
        cursor.execute("SELECT current_setting('work_mem'), current_setting('maintenance_work_mem')")
        assert cursor.fetchone() == before
        part = partition_name(notice.pk)
        cursor.execute(f"SELECT gram, district, entry_id, notice_id FROM {part} ORDER BY ctid")
        written = cursor.fetchall()
        assert written == sorted(written, key=lambda r: (r[0], r[1], r[2])) and len(written) > 100
        assert {r[3] for r in written} == {notice.pk}
        cursor.execute(
            "SELECT inhparent::regclass::text FROM pg_inherits WHERE inhrelid = %s::regclass", [part]
        )
        assert cursor.fetchall() == [("portal_publicitygram",)]
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s ORDER BY indexname", [part])
        defs = [d for (d,) in cursor.fetchall()]
        assert [d.split("(", 1)[1] for d in defs] == [
            "gram, notice_id, district, entry_id)",
            "gram, notice_id, entry_id)",
        ]
        cursor.execute("SELECT count(*) FROM portal_publicitygram WHERE notice_id = %s", [notice.pk])
        assert cursor.fetchone() == (len(written),)


@postgres_only
def test_a_stale_notice_s_partition_is_emptied_and_indexing_a_notice_again_goes_through_its_indexes(
    db: None,
) -> None:
    make_cases(3, names=("北京甲", "北京乙", "北京丙"))
    old = open_notice([])
    Notice.objects.filter(pk=old.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
    make_cases(1, start=3, names=("华为丁",))
    new = open_notice([])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {partition_name(old.pk)}")
        assert cursor.fetchone() == (0,)
    PublicityGram.objects.filter(notice=new).delete()
    assert index_notice(new.pk) == 5  # 华 为 丁 华为 为丁, into the partition that is there
    assert [r.unit_name for r in selectors.publicity_page(q="为丁").rows] == ["华为丁"]

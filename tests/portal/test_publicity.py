"""/publicity/: the open notices' lines with masked codes, search (name fragment, visible parts of a code, an exact
full code; never the masked middle), district filter, pages, CSV; a closed notice is marked closed."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from mianshen.cases.models import Notice

from .conftest import Listed, credit_code, make_cases, open_notice


def names(response: object) -> list[str]:
    import re

    return re.findall(r'<th scope="row" data-label="[^"]*">([^<]+)</th>', response.content.decode())  # type: ignore[attr-defined]


def test_lines_show_masked_codes_districts_and_amounts(client: Client, listed: Listed) -> None:
    body = client.get("/publicity/").content.decode()
    first = listed.cases[0]
    masked = first.credit_code[:6] + "********" + first.credit_code[-4:]
    assert masked in body and first.credit_code not in body
    assert "朝阳区" in body and "1,000.00" in body  # 100000 fen
    assert "共 45 家单位" in body and "测试公示" in body
    assert len(names(client.get("/publicity/"))) == 20


def test_a_name_fragment_finds_the_unit(client: Client, listed: Listed) -> None:
    assert names(client.get("/publicity/", {"q": "星光"})) == ["北京星光科技有限公司"]
    assert names(client.get("/publicity/", {"q": "Acme"})) == ["Acme Beijing Trading Co"]


def test_visible_parts_of_a_code_find_the_unit_and_the_middle_never_does(
    client: Client, listed: Listed
) -> None:
    code = listed.cases[7].credit_code  # 911107 00000007 X007
    assert listed.cases[7].unit_name in names(client.get("/publicity/", {"q": code[-4:]}))
    assert listed.cases[7].unit_name in names(client.get("/publicity/", {"q": code[:6].lower()}))
    middle = code[6:12]
    assert names(client.get("/publicity/", {"q": middle})) == []
    refused = client.get("/publicity/", {"q": code[:6] + "****"})
    assert refused.status_code == 400 and "不含 *" in refused.content.decode()


def test_an_exact_full_code_finds_only_its_unit(client: Client, listed: Listed) -> None:
    case = listed.cases[12]
    assert names(client.get("/publicity/", {"q": case.credit_code})) == [case.unit_name]
    # same visible parts, another middle: nothing (the middle is checked against the case, never shown)
    other = case.credit_code[:6] + "99999999" + case.credit_code[-4:]
    assert names(client.get("/publicity/", {"q": other})) == []


def test_district_filter_and_pages(client: Client, listed: Listed) -> None:
    chaoyang = [c.unit_name for c in listed.cases if c.district == "110105"]
    assert names(client.get("/publicity/", {"district": "110105"})) == chaoyang[:20]
    body = client.get("/publicity/", {"district": "110105"}).content.decode()
    assert f"共 {len(chaoyang)} 家单位" in body
    page3 = client.get("/publicity/", {"page": "3"})
    assert names(page3) == [c.unit_name for c in listed.cases[40:45]]
    assert 'rel="prev"' in page3.content.decode() and 'rel="next"' not in page3.content.decode()
    bad = client.get("/publicity/", {"district": "999999", "lang": "en"})
    assert bad.status_code == 400 and "Choose a district from the list" in bad.content.decode()
    assert client.get("/publicity/", {"page": "x"}).status_code == 400


def test_the_csv_download_has_every_matching_line(client: Client, listed: Listed) -> None:
    response = client.get("/publicity/download.csv", {"district": "110108"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["公示批次", "单位名称", "统一社会信用代码（部分隐藏）", "区", "返还金额（元）"]
    expected = [c for c in listed.cases if c.district == "110108"]
    assert [r[1] for r in rows[1:]] == [c.unit_name for c in expected]
    assert all("********" in r[2] for r in rows[1:]) and rows[1][3] == "海淀区"
    amount = expected[0].amount_fen
    assert rows[1][4] == f"{amount // 100:,}.{amount % 100:02d}"
    assert client.get("/publicity/download.csv", {"q": "*"}).status_code == 400


def test_a_closed_notice_is_marked_closed_and_its_lines_leave_the_list(client: Client, db: None) -> None:
    make_cases(3)
    old = open_notice([], start=timezone.localdate() - timedelta(days=10), days=7)
    body = client.get("/publicity/").content.decode()
    assert "目前没有正在公示的名单" in body and "已结束的公示" in body and old.title in body
    assert names(client.get("/publicity/")) == []
    Notice.objects.filter(pk=old.pk).update(ends_at=timezone.now() + timedelta(days=1))
    assert len(names(client.get("/publicity/"))) == 3
    Notice.objects.filter(pk=old.pk).update(closed_at=timezone.now())
    assert names(client.get("/publicity/")) == []


def test_the_csv_is_read_in_chunks_by_key(listed: Listed, monkeypatch: pytest.MonkeyPatch) -> None:
    from mianshen.portal import selectors

    monkeypatch.setattr(selectors, "CSV_CHUNK", 7)  # 45 lines: six full chunks and a short one
    rows = list(selectors.publicity_rows())
    assert [r.unit_name for r in rows] == [c.unit_name for c in listed.cases]


def test_credit_codes_of_the_fixture_are_distinct() -> None:
    assert len({credit_code(i) for i in range(1000)}) == 1000


def test_a_name_with_markup_is_shown_as_text(client: Client, db: None) -> None:
    """The rows are written by a template tag, not the template: every value is still escaped."""
    name = '北京<script>alert("x")</script>&"公司'
    open_notice(make_cases(1, names=(name,)))
    body = client.get("/publicity/").content.decode()
    assert "<script>alert" not in body
    assert "北京&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&quot;公司" in body


def test_a_page_asked_again_is_read_back_and_a_new_notice_is_seen_at_once(
    listed: Listed, django_assert_max_num_queries: object
) -> None:
    """A page of a search is kept per worker under the open notices, the search and the page (a notice's lines
    never change once it opened): asked again, only the notices are read; once another notice opens, its lines
    are in the answer at once."""
    from mianshen.portal.selectors import publicity_page

    first = publicity_page(q="北京", district="", page=1)
    with django_assert_max_num_queries(1):  # type: ignore[operator]
        again = publicity_page(q="北京", district="", page=1)
    assert again.rows == first.rows and again.total == first.total
    more = make_cases(3, start=500, names=("北京新开张有限公司",))
    open_notice(more)
    after = publicity_page(q="新开张", district="", page=1)
    assert [r.unit_name for r in after.rows] == ["北京新开张有限公司"]

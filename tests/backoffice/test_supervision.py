"""The list of units under key supervision (重点监管) and the exports of case lists: district scope, the whole
filtered list (not one page), masked credit codes, formula escaping, CSV and XLSX that parse back."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse

from mianshen.cases.models import Case

from .world import World

pytestmark = pytest.mark.django_db
Login = Callable[[str | None], Any]


def _supervise(world: World) -> list[Case]:
    """Key supervision for three cases of the world's district and two of another; one name is hostile."""
    own = list(Case.objects.filter(district=world.district).order_by("pk")[:3])
    other = list(Case.objects.exclude(district=world.district).order_by("pk")[:2])
    Case.objects.filter(pk__in=[c.pk for c in own + other]).update(key_supervision=True)
    Case.objects.filter(pk=own[0].pk).update(unit_name='=HYPERLINK("http://evil.example","点我")')
    return own + other


def _csv(content: bytes) -> list[dict[str, str]]:
    text = content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_the_list_shows_only_units_under_key_supervision_in_the_users_scope(
    world: World, login: Login
) -> None:
    cases = _supervise(world)
    page = login("city").get(reverse("backoffice:queue", args=["supervision"]))
    assert page.status_code == 200
    body = page.content.decode()
    for c in cases:
        assert c.number in body
    assert Case.objects.filter(key_supervision=False).first().number not in body  # type: ignore[union-attr]
    own = login("own").get(reverse("backoffice:queue", args=["supervision"])).content.decode()
    assert all((c.number in own) == (c.district == world.district) for c in cases)
    assert "export=csv" in own and "export=xlsx" in own


def test_csv_export_is_the_whole_list_masked_and_escaped(world: World, login: Login) -> None:
    cases = _supervise(world)
    response = login("city").get(reverse("backoffice:queue_export", args=["supervision", "csv"]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = _csv(b"".join(response.streaming_content))  # type: ignore[attr-defined]
    assert [r["case"] for r in rows] == [c.number for c in sorted(cases, key=lambda c: (c.district, c.pk))]
    first = next(r for r in rows if r["case"] == cases[0].number)
    assert first["unit_name"] == '\'=HYPERLINK("http://evil.example","点我")'
    for r, c in ((next(r for r in rows if r["case"] == c.number), c) for c in cases):
        assert r["credit_code_masked"] == c.credit_code[:6] + "*" * 8 + c.credit_code[-4:]
        assert c.credit_code not in r.values()
        assert r["amount_fen"] == str(Case.objects.get(pk=c.pk).amount_fen)
    # a district officer downloads only the district's
    own = login("own").get(reverse("backoffice:queue_export", args=["supervision", "csv"]))
    assert {r["district"] for r in _csv(b"".join(own.streaming_content))} == {world.district}  # type: ignore[attr-defined]


def test_xlsx_export_parses_back(world: World, login: Login) -> None:
    from openpyxl import load_workbook

    cases = _supervise(world)
    response = login("city").get(reverse("backoffice:queue_export", args=["supervision", "xlsx"]))
    assert response.status_code == 200
    ws = load_workbook(io.BytesIO(b"".join(response.streaming_content)))["queue-supervision"]  # type: ignore[attr-defined]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:3] == ("case", "unit_id", "unit_name")
    assert sorted(r[0] for r in rows[1:]) == sorted(c.number for c in cases)
    hostile = next(r for r in rows[1:] if r[0] == cases[0].number)
    assert hostile[2].startswith("'=") and isinstance(hostile[7], int) and hostile[8] is True


def test_export_follows_the_filter_and_refuses_other_lists(world: World, login: Login) -> None:
    _supervise(world)
    client = login("city")
    url = reverse("backoffice:queue_export", args=["supervision", "csv"])
    filtered = _csv(b"".join(client.get(url, {"district": world.district}).streaming_content))
    assert filtered and {r["district"] for r in filtered} == {world.district}
    assert client.get(reverse("backoffice:queue_export", args=["nothing", "csv"])).status_code == 404
    assert client.get(reverse("backoffice:queue_export", args=["supervision", "pdf"])).status_code == 404
    assert login(None).get(url).status_code == 302  # signed-in staff only

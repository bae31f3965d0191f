"""Notices through the UI: open one (city admin), refused when nothing is rechecked; entries by district."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse

from mianshen.cases.models import Case, Notice, NoticeEntry
from mianshen.cases.states import State
from mianshen.cases.transitions import case_transition

from .world import POLICY, World

pytestmark = pytest.mark.django_db
Login = Callable[[str | None], Any]


def test_open_notice_from_rechecked_cases(world: World, login: Login) -> None:
    excluded = list(Case.objects.filter(state=State.EXCLUDED).order_by("pk")[:2])
    for case in excluded:
        case_transition(case_id=case.pk, to=State.RECHECKED, actor="test", reason="test")
    response = login("city").post(
        reverse("backoffice:notice_open"),
        {"policy": POLICY, "start": "2021-08-02", "days": 7, "title": "第二批"},
    )
    assert response.status_code == 302
    notice = Notice.objects.get(pk=int(re.search(r"/notices/(\d+)/", response["Location"]).group(1)))
    assert notice.title == "第二批" and notice.opened_by == "city"
    assert set(NoticeEntry.objects.filter(notice=notice).values_list("case_id", flat=True)) == {
        c.pk for c in excluded
    }
    assert set(Case.objects.filter(pk__in=[c.pk for c in excluded]).values_list("state", flat=True)) == {
        State.PUBLICISED
    }


def test_open_notice_with_nothing_rechecked_is_refused_on_the_form(world: World, login: Login) -> None:
    response = login("city").post(
        reverse("backoffice:notice_open"), {"policy": POLICY, "start": "2021-08-02", "days": 7}
    )
    assert response.status_code == 422
    assert "没有已复核的案件可公示：请先进行公示前比对" in response.content.decode()
    assert Notice.objects.count() == 1


def test_notice_entries_are_limited_to_the_officers_district(world: World, login: Login) -> None:
    url = reverse("backoffice:notice_detail", args=[world.notice_id])
    city = login("city").get(url).content.decode()
    own = login("own").get(url).content.decode()
    other = login("other").get(url).content.decode()
    in_d = NoticeEntry.objects.filter(notice_id=world.notice_id, district=world.district)
    assert f"<dd>{NoticeEntry.objects.filter(notice_id=world.notice_id).count()}</dd>" in city
    in_x = NoticeEntry.objects.filter(notice_id=world.notice_id, district=world.other_district)
    assert f"<dd>{in_d.count()}</dd>" in own and f"<dd>{in_x.count()}</dd>" in other
    outside = NoticeEntry.objects.filter(notice_id=world.notice_id).exclude(district=world.district).first()
    assert outside is not None and outside.unit_name not in own

"""Queues: scoped to the district, filtered by district, state, stage and text, paginated."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse

from mianshen.cases.models import Case

from .world import World

pytestmark = pytest.mark.django_db
Login = Callable[[str | None], Any]


def _case_ids(content: bytes) -> set[int]:
    return {int(pk) for pk in re.findall(rb'href="/[^"]*/cases/(\d+)/"', content)}


def test_review_queue_by_stage(world: World, login: Login) -> None:
    client = login("own")
    url = reverse("backoffice:queue", args=["review"])
    assert _case_ids(client.get(url).content) >= {world.to_prepare.pk, world.to_decide.pk}
    assert world.to_decide.pk not in _case_ids(client.get(url, {"stage": "prepare"}).content)
    assert _case_ids(client.get(url, {"stage": "decide"}).content) == {world.to_decide.pk}


def test_district_officer_sees_only_its_district(world: World, login: Login) -> None:
    url = reverse("backoffice:queue", args=["cases"])
    own = _case_ids(login("own").get(url, {"page": 1}).content)
    assert own and set(Case.objects.filter(pk__in=own).values_list("district", flat=True)) == {world.district}
    # asking for another district does not widen the view
    forced = login("own").get(url, {"district": world.other_district}).content
    assert _case_ids(forced) <= set(Case.objects.filter(district=world.district).values_list("pk", flat=True))
    assert _case_ids(login("other").get(url).content) == set()
    objections = login("other").get(reverse("backoffice:queue", args=["objections"])).content
    assert _case_ids(objections) == set()


def test_text_search_and_filters(world: World, login: Login) -> None:
    client = login("city")
    url = reverse("backoffice:queue", args=["cases"])
    case = world.publicised
    assert _case_ids(client.get(url, {"q": case.unit_id}).content) == {case.pk}
    assert case.pk in _case_ids(client.get(url, {"q": case.unit_name[2:6]}).content)
    by_state = _case_ids(client.get(url, {"state": "objected"}).content)
    assert by_state == {world.objected.pk}
    by_district = _case_ids(client.get(url, {"district": world.district, "state": "under_review"}).content)
    assert by_district == {world.to_prepare.pk, world.to_decide.pk}
    assert _case_ids(client.get(url, {"state": "no-such-state"}).content)  # a bad value is ignored


def test_objection_queue_lists_open_objections(world: World, login: Login) -> None:
    page = login("city").get(reverse("backoffice:queue", args=["objections"]))
    assert _case_ids(page.content) == {world.objected.pk}


def test_queue_is_paginated(world: World, login: Login) -> None:
    client = login("city")
    url = reverse("backoffice:queue", args=["cases"])
    total = Case.objects.count()
    first = _case_ids(client.get(url).content)
    assert len(first) == 25 < total
    rest = set()
    for page in range(2, (total + 24) // 25 + 1):
        rest |= _case_ids(client.get(url, {"page": page}).content)
    assert first | rest == set(Case.objects.values_list("pk", flat=True)) and not first & rest


def test_unknown_queue_is_404(world: World, login: Login) -> None:
    assert login("city").get(reverse("backoffice:queue", args=["nope"])).status_code == 404

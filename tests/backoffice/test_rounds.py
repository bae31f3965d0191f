"""Rounds through the UI: start → the worker drains the job → the detail page shows the counts; the diff."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse

from mianshen.core.models import Job
from mianshen.screening.models import RoundStatus, ScreeningRound

from .world import AS_OF, POLICY, World, drain_jobs

pytestmark = pytest.mark.django_db
Login = Callable[[str | None], Any]


def test_start_round_then_worker_then_counts(world: World, login: Login) -> None:
    client = login("city")
    form = client.get(reverse("backoffice:round_start"))
    assert form.status_code == 200 and "开始比对" in form.content.decode()
    started = client.post(
        reverse("backoffice:round_start"),
        {"policy": POLICY, "snapshot": world.snapshot.pk, "as_of": AS_OF.isoformat(), "checkpoint": "ad_hoc"},
    )
    assert started.status_code == 302
    rnd = ScreeningRound.objects.get(pk=int(re.search(r"/rounds/(\d+)/", started["Location"]).group(1)))
    assert rnd.status == RoundStatus.RUNNING and rnd.started_by == "city"

    running = client.get(started["Location"]).content.decode()
    assert 'hx-trigger="every 2s"' in running  # the page polls its progress
    assert 'id="decision-counts"' not in running
    poll = client.get(reverse("backoffice:round_progress", args=[rnd.pk]), HTTP_HX_REQUEST="true")
    assert poll.status_code == 200 and "HX-Refresh" not in poll

    before = Job.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    pending = list(Job.objects.filter(status="queued").values_list("kind", flat=True))
    assert pending.count("screening.round") == 1 and set(pending) <= {"screening.round", "notify.deliver"}
    ran = drain_jobs()  # the worker: the round, and (notify) delivering the messages that case moves queued
    new = list(Job.objects.filter(pk__gt=before).values_list("kind", flat=True))
    assert ran == len(pending) + len(new) and set(new) <= {"notify.deliver"}
    rnd.refresh_from_db()
    assert rnd.status == RoundStatus.COMPLETED

    poll = client.get(reverse("backoffice:round_progress", args=[rnd.pk]), HTTP_HX_REQUEST="true")
    assert poll["HX-Refresh"] == "true"
    done = client.get(started["Location"]).content.decode()
    assert 'hx-trigger="every 2s"' not in done
    table = done.split('id="decision-counts"', 1)[1].split("</table>", 1)[0]
    for decision, n in rnd.counts["decision"].items():
        assert re.search(rf'data-key="{decision}"><td>[^<]*</td><td class="num">{n}</td>', table), decision
    for code, n in rnd.counts["codes"].items():
        assert re.search(rf'data-key="{code}"><td>[^<]*</td><td class="num">{n}</td>', done), code


def test_a_second_round_while_one_runs_is_refused_nicely(world: World, login: Login) -> None:
    client = login("city")
    data = {
        "policy": POLICY,
        "snapshot": world.snapshot.pk,
        "as_of": AS_OF.isoformat(),
        "checkpoint": "ad_hoc",
    }
    assert client.post(reverse("backoffice:round_start"), data).status_code == 302
    again = client.post(reverse("backoffice:round_start"), data)
    assert again.status_code == 422
    assert "已有一轮比对正在运行" in again.content.decode()


def test_round_diff_lists_the_changed_units(world: World, login: Login) -> None:
    url = reverse("backoffice:round_detail", args=[world.round2.pk])
    page = login("city").get(url).content.decode()
    changed = page.split('id="changed-units"', 1)[1].split("</table>", 1)[0]
    for unit in world.changed_units:
        assert unit in changed
    assert "eligible→ineligible：3" in page
    assert re.search(r'data-key="SERIOUS_DISHONESTY">.*?<td class="num">\+3</td>', page, re.S)


def test_round_diff_is_limited_to_the_officers_district(world: World, login: Login) -> None:
    from mianshen.registry.models import Unit

    districts = dict(
        Unit.objects.filter(snapshot=world.snapshot, unit_id__in=world.changed_units).values_list(
            "unit_id", "district"
        )
    )
    for who, district in (("own", world.district), ("other", world.other_district)):
        page = login(who).get(reverse("backoffice:round_detail", args=[world.round2.pk])).content.decode()
        for unit, d in districts.items():
            assert (unit in page) == (d == district), (who, unit)


def test_changed_units_are_paginated(world: World, login: Login, monkeypatch: pytest.MonkeyPatch) -> None:
    from mianshen.backoffice.views import _base

    monkeypatch.setattr(_base, "PAGE_SIZE", 2)
    client = login("city")
    url = reverse("backoffice:round_detail", args=[world.round2.pk])
    first, second = client.get(url).content.decode(), client.get(url + "?page=2").content.decode()
    units = sorted(world.changed_units)
    assert units[0] in first and units[1] in first and units[2] not in first
    assert units[2] in second and "第 2 / 2 页" in second

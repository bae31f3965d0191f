"""The auditor reads everything and changes nothing: every write is refused (403) and leaves no trace."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse

from mianshen.audit.models import AuditEvent
from mianshen.cases.models import Case, CaseHistory, HostConfirmation, Notice, Objection, Review
from mianshen.core.models import Job
from mianshen.screening.models import ScreeningRound

from .world import AS_OF, POLICY, World

pytestmark = pytest.mark.django_db


def _state() -> tuple[object, ...]:
    return (
        AuditEvent.objects.count(),
        CaseHistory.objects.count(),
        tuple(Case.objects.order_by("pk").values_list("state", "version")),
        tuple(Objection.objects.order_by("pk").values_list("outcome", flat=True)),
        tuple(Review.objects.order_by("pk").values_list("decided_by", flat=True)),
        HostConfirmation.objects.count(),
        Notice.objects.count(),
        ScreeningRound.objects.count(),
        Job.objects.count(),
    )


def test_auditor_cannot_change_anything(world: World, login: Callable[[str | None], Any]) -> None:
    client = login("aud")
    writes = [
        (reverse("backoffice:round_start"), {"policy": POLICY, "snapshot": world.snapshot.pk,
                                             "as_of": AS_OF.isoformat(), "checkpoint": "ad_hoc"}),
        (reverse("backoffice:notice_open"), {"policy": POLICY, "start": "2021-08-01", "days": 7}),
        (reverse("backoffice:objection_record", args=[world.publicised.pk]),
         {"raised_by": "public", "contact": "1", "grounds": "x"}),
        (reverse("backoffice:objection_decide", args=[world.objection.pk]), {"outcome": "upheld", "reason": "x"}),
        (reverse("backoffice:review_prepare", args=[world.to_prepare.pk]),
         {"recommendation": "approve", "notes": "x"}),
        (reverse("backoffice:review_decide", args=[world.review.pk]), {"decision": "approve"}),
        (reverse("backoffice:confirmation_record", args=[world.to_prepare.pk]),
         {"confirmed_on": "2021-07-05", "evidence": "x"}),
    ]  # fmt: skip
    before = _state()
    for url, data in writes:
        for method in ("post", "put", "patch", "delete"):
            response = getattr(client, method)(url, data, content_type="application/x-www-form-urlencoded")
            allowed = {403} if method == "post" else {403, 405}  # a method no view takes: 405 for everyone
            assert response.status_code in allowed, (method, url, response.status_code)
    assert _state() == before


def test_auditor_sees_no_action_forms_but_reads_every_district(
    world: World, login: Callable[[str | None], Any]
) -> None:
    client = login("aud")
    for case in (world.publicised, world.objected, world.to_prepare, world.to_decide):
        page = client.get(reverse("backoffice:case", args=[case.pk])).content.decode()
        assert 'id="actions"' not in page
        assert "hx-post" not in page
    other = Case.objects.exclude(district=world.district).order_by("pk").first()
    assert other is not None
    assert client.get(reverse("backoffice:case", args=[other.pk])).status_code == 200
    start = client.get(reverse("backoffice:round_start"))
    assert start.status_code == 403

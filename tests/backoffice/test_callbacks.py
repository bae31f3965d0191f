"""The back office's 呼我必回 queue: district-scoped (city-level staff see all), countdowns in working time,
overdue and escalated marks, the officer's outcome, per-district figures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from mianshen.notify.callbacks import callback_check, callback_rate, callback_request, callbacks_sweep
from mianshen.notify.models import CallbackRequest
from mianshen.staff.services import staff_add

from .conftest import verified_login

pytestmark = pytest.mark.django_db


def ask(district: str, *, days_ago: int = 0) -> CallbackRequest:
    draft = callback_check(
        name="王五", phone="13700137000", topic=f"主题{district}", question="?", district=district
    )
    return callback_request(draft, now=timezone.now() - timedelta(days=days_ago))


def client_for(name: str, role: str, district: str | None) -> Client:
    staff_add(username=name, role=role, district=district)
    return verified_login(Client(), get_user_model().objects.get(username=name))


def test_district_scope_countdown_outcome_and_figures() -> None:
    mine, theirs, late = ask("110105"), ask("110108"), ask("110105", days_ago=10)
    callbacks_sweep()
    officer = client_for("cy", "district_officer", "110105")
    page = officer.get("/office/callbacks/").content.decode()
    assert mine.reference in page and late.reference in page and theirs.reference not in page
    assert "已超时" in page and "已升级" in page and ("剩" in page or "已超时" in page)
    assert officer.get(f"/office/callbacks/{theirs.pk}/").status_code == 404
    detail = officer.get(f"/office/callbacks/{mine.pk}/").content.decode()
    assert 'id="outcome-form"' in detail and "137****7000" in detail and "13700137000" not in detail
    refused = officer.post(f"/office/callbacks/{mine.pk}/", {"outcome": "answered", "note": ""})
    assert refused.status_code == 422
    done = officer.post(f"/office/callbacks/{mine.pk}/", {"outcome": "answered", "note": "已解释"})
    assert done.status_code == 302
    mine.refresh_from_db()
    assert (mine.state, mine.called_by, mine.note) == ("answered", "cy", "已解释")
    callback_rate(pk=mine.pk, rating=5)
    city = client_for("boss", "city_admin", None)
    page = city.get("/office/callbacks/?show=all").content.decode()
    assert all(cb.reference in page for cb in (mine, theirs, late))
    assert 'data-district="110105"' in page and 'data-district="110108"' in page
    stats = page.split('id="callback-stats"')[1]
    row = stats.split('data-district="110105"')[1].split("</tr>")[0]
    assert "50%" in row and "100%" in row and "5.0" in row  # response 1/2, resolution 1/1, satisfaction 5
    auditor = client_for("aud", "auditor", None)
    assert auditor.get(f"/office/callbacks/{late.pk}/").status_code == 200
    assert (
        auditor.post(f"/office/callbacks/{late.pk}/", {"outcome": "answered", "note": "x"}).status_code == 403
    )

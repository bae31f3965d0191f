"""The authorisation matrix: role × page (× own / other district) → status.

Roles: city admin, district officer of the case's district (own) and of another district (other), reviewer,
auditor, a logged-in user without a staff profile, anonymous. 404 for another district's objects (their
existence is not revealed), 403 for a role that may not act, 302 to the login page for anonymous users; a
successful write redirects (302) to the page of what it changed. A refused request writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.urls import reverse

from mianshen.audit.models import AuditEvent
from mianshen.cases.models import Case
from mianshen.cases.states import State
from mianshen.cases.transitions import case_transition

from .world import AS_OF, POLICY, World

pytestmark = pytest.mark.django_db

ROLES = ("city", "own", "other", "rev", "aud", "nobody", None)


@dataclass(frozen=True)
class Page:
    method: str
    url: Callable[[World], str]
    expect: dict[str | None, int]  # role → status
    data: Callable[[World], dict[str, Any]] = field(default=lambda w: {})
    prepare: Callable[[World], None] = field(default=lambda w: None)


def _all(status: int) -> dict[str | None, int]:
    return {
        "city": status,
        "own": status,
        "other": status,
        "rev": status,
        "aud": status,
        "nobody": 403,
        None: 302,
    }


def _only(ok: int, *roles: str, other: int = 403) -> dict[str | None, int]:
    """``ok`` for ``roles``, 403 for the other staff, ``other`` for the other district's officer."""
    expect: dict[str | None, int] = {r: (ok if r in roles else 403) for r in ("city", "own", "rev", "aud")}
    expect.update({"other": ok if "other" in roles else other, "nobody": 403, None: 302})
    return expect


CASE_READ = {"city": 200, "own": 200, "other": 404, "rev": 200, "aud": 200, "nobody": 403, None: 302}


def _make_rechecked(w: World) -> None:
    """open-notice needs a rechecked case: put back one that round 2 excluded."""
    case = Case.objects.filter(state=State.EXCLUDED).order_by("pk").first()
    assert case is not None
    case_transition(case_id=case.pk, to=State.RECHECKED, actor="test", reason="test: rechecked")


def _awaiting_confirmation(w: World) -> None:
    case_transition(case_id=w.to_prepare.pk, to=State.AWAITING_CONFIRMATION, actor="test", reason="test")


PAGES: dict[str, Page] = {
    "dashboard": Page("get", lambda w: reverse("backoffice:dashboard"), _all(200)),
    "rounds": Page("get", lambda w: reverse("backoffice:rounds"), _all(200)),
    "round_detail": Page("get", lambda w: reverse("backoffice:round_detail", args=[w.round2.pk]), _all(200)),
    "round_progress": Page(
        "get", lambda w: reverse("backoffice:round_progress", args=[w.round2.pk]), _all(200)
    ),
    "start_round_get": Page("get", lambda w: reverse("backoffice:round_start"), _only(200, "city")),
    "start_round_post": Page(
        "post",
        lambda w: reverse("backoffice:round_start"),
        _only(302, "city"),
        data=lambda w: {
            "policy": POLICY,
            "snapshot": w.snapshot.pk,
            "as_of": AS_OF.isoformat(),
            "checkpoint": "ad_hoc",
        },
    ),
    "queue_review": Page("get", lambda w: reverse("backoffice:queue", args=["review"]), _all(200)),
    "queue_confirmation": Page(
        "get", lambda w: reverse("backoffice:queue", args=["confirmation"]), _all(200)
    ),
    "queue_objections": Page("get", lambda w: reverse("backoffice:queue", args=["objections"]), _all(200)),
    "queue_applications": Page(
        "get", lambda w: reverse("backoffice:queue", args=["applications"]), _all(200)
    ),
    "case": Page("get", lambda w: reverse("backoffice:case", args=[w.publicised.pk]), CASE_READ),
    "case_explanation_en": Page(
        "get",
        lambda w: reverse("backoffice:case_explanation", args=[w.publicised.pk]) + "?lang=en",
        {**CASE_READ, "city": 302, "own": 302, "rev": 302, "aud": 302},  # without htmx: back to the case page
    ),
    "bank_panel": Page("get", lambda w: reverse("backoffice:case_bank", args=[w.publicised.pk]), CASE_READ),
    "contact_panel": Page(
        "get", lambda w: reverse("backoffice:case_contact", args=[w.publicised.pk]), CASE_READ
    ),
    "notices": Page("get", lambda w: reverse("backoffice:notices"), _all(200)),
    "notice_detail": Page(
        "get", lambda w: reverse("backoffice:notice_detail", args=[w.notice_id]), _all(200)
    ),
    "open_notice_get": Page("get", lambda w: reverse("backoffice:notice_open"), _only(200, "city")),
    "open_notice_post": Page(
        "post",
        lambda w: reverse("backoffice:notice_open"),
        _only(302, "city"),
        data=lambda w: {"policy": POLICY, "start": "2021-08-01", "days": 7, "title": ""},
        prepare=_make_rechecked,
    ),
    "record_objection": Page(
        "post",
        lambda w: reverse("backoffice:objection_record", args=[w.publicised.pk]),
        _only(302, "city", "own", other=404),
        data=lambda w: {"raised_by": "public", "contact": "13900000000", "grounds": "裁员未申报"},
    ),
    "decide_objection": Page(
        "post",
        lambda w: reverse("backoffice:objection_decide", args=[w.objection.pk]),
        _only(302, "city", "rev", other=404),
        data=lambda w: {"outcome": "rejected", "reason": "经核实不成立"},
    ),
    "prepare_review": Page(
        "post",
        lambda w: reverse("backoffice:review_prepare", args=[w.to_prepare.pk]),
        _only(302, "city", "own", other=404),
        data=lambda w: {"recommendation": "approve", "notes": "材料齐全"},
    ),
    "decide_review": Page(
        "post",
        lambda w: reverse("backoffice:review_decide", args=[w.review.pk]),
        _only(302, "city", "rev", other=404),
        data=lambda w: {"decision": "approve", "reason": "同意"},
    ),
    "record_confirmation": Page(
        "post",
        lambda w: reverse("backoffice:confirmation_record", args=[w.to_prepare.pk]),
        _only(302, "city", "own", other=404),
        data=lambda w: {"confirmed_on": "2021-07-05", "evidence": "用工单位盖章确认函"},
        prepare=_awaiting_confirmation,
    ),
}


@pytest.mark.parametrize("role", ROLES, ids=[r or "anonymous" for r in ROLES])
@pytest.mark.parametrize("page", list(PAGES))
def test_matrix(world: World, login: Callable[[str | None], Any], page: str, role: str | None) -> None:
    spec = PAGES[page]
    expected = spec.expect[role]
    spec.prepare(world)
    client = login(role)
    events = AuditEvent.objects.count()
    response = getattr(client, spec.method)(spec.url(world), spec.data(world))
    assert response.status_code == expected, (page, role, response.status_code, response.content[:300])
    if role is None:
        assert response["Location"].startswith(reverse("backoffice:login") + "?next=")
        assert AuditEvent.objects.count() == events
    elif expected in (403, 404):
        assert AuditEvent.objects.count() == events, "a refused request wrote an audit event"
    elif spec.method == "post":
        assert AuditEvent.objects.count() > events, "a write left no trace"
    elif page in ("bank_panel", "contact_panel"):
        assert AuditEvent.objects.count() == events + 1
    else:
        assert AuditEvent.objects.count() == events, "a plain read wrote an audit event"


def test_matrix_covers_every_url() -> None:
    """Every named back-office URL is in the matrix (or is login/logout/language)."""
    from mianshen.backoffice.urls import urlpatterns

    names = {p.name for p in urlpatterns}
    covered = {"login", "logout", "set_language", "queue"}
    in_matrix = {
        "dashboard",
        "rounds",
        "round_detail",
        "round_progress",
        "round_start",
        "case",
        "case_explanation",
        "case_bank",
        "case_contact",
        "notices",
        "notice_detail",
        "notice_open",
        "objection_record",
        "objection_decide",
        "review_prepare",
        "review_decide",
        "confirmation_record",
    }
    assert names == covered | in_matrix

"""The case page: explanation from the stored evidence, audited bank/contact panels, four eyes, escaping."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.cases.models import Case, Review
from mianshen.cases.states import State
from mianshen.policy.explain import render
from mianshen.policy.parameters import resolve
from mianshen.registry.models import BankAccount, Unit
from mianshen.screening.models import RoundDecision

from .world import World

pytestmark = pytest.mark.django_db
Login = Callable[[str | None], Any]
HTMX = {"HTTP_HX_REQUEST": "true"}


def _pre(content: bytes) -> str:
    found = re.search(rb'<pre class="explanation"[^>]*>(.*?)</pre>', content, re.S)
    assert found, "no explanation on the page"
    return html.unescape(found.group(1).decode())


def _expected(case: Case, lang: str) -> str:
    """Independently: the stored decision of the case's last round, its evidence JSON parsed, rendered."""
    rnd = case.last_round
    assert rnd is not None
    stored = RoundDecision.objects.get(round=rnd, unit_id=case.unit_id)
    row = dict(stored.evidence)
    row.update(
        unit_id=stored.unit_id,
        credit_code=stored.credit_code,
        decision=stored.decision,
        failed=stored.failed,
        unknown=stored.unknown,
        routes=stored.routes,
        amount_fen=stored.amount_fen,
    )
    code = stored.credit_code
    text = render(row, resolve(rnd.policy_id, rnd.as_of), lang)
    assert code in text  # the rendering names the unit by its code; the page shows it masked
    return text.replace(code, code[:6] + "*" * (len(code) - 10) + code[-4:])


@pytest.mark.parametrize("which", ["publicised", "to_decide"])
def test_explanation_is_render_of_the_stored_evidence(world: World, login: Login, which: str) -> None:
    case = Case.objects.select_related("last_round").get(pk=getattr(world, which).pk)
    client = login("own")
    page = client.get(reverse("backoffice:case", args=[case.pk]))
    assert page.status_code == 200
    assert _pre(page.content) == _expected(case, "zh")
    # the English link: an htmx fragment, and the page itself with ?explain=en
    fragment = client.get(reverse("backoffice:case_explanation", args=[case.pk]) + "?lang=en", **HTMX)
    assert fragment.status_code == 200
    assert _pre(fragment.content) == _expected(case, "en")
    full = client.get(reverse("backoffice:case", args=[case.pk]) + "?explain=en")
    assert _pre(full.content) == _expected(case, "en")
    for content in (page.content, fragment.content, full.content):  # nowhere whole (issue 13 item 7)
        assert case.credit_code.encode() not in content


def test_explanation_for_an_ineligible_case(world: World, login: Login) -> None:
    case = Case.objects.select_related("last_round").filter(state=State.EXCLUDED).order_by("pk").first()
    assert case is not None
    page = login("city").get(reverse("backoffice:case", args=[case.pk]))
    assert _pre(page.content) == _expected(case, "zh")


def test_bank_panel_view_is_exactly_one_audit_event(world: World, login: Login) -> None:
    case = world.publicised
    account = BankAccount.objects.get(snapshot=world.snapshot, unit_id=case.unit_id)
    client = login("own")
    before = AuditEvent.objects.count()
    page = client.get(reverse("backoffice:case", args=[case.pk]))
    assert account.account_no.encode() not in page.content, "the account number shows before the panel opens"
    assert AuditEvent.objects.count() == before, "opening the case page is not a view of bank data"

    panel = client.get(reverse("backoffice:case_bank", args=[case.pk]), **HTMX)
    assert panel.status_code == 200
    assert account.account_no.encode() in panel.content
    assert "no-store" in panel["Cache-Control"]
    events = list(AuditEvent.objects.filter(seq__gt=before))
    assert len(events) == 1
    event = events[0]
    user = get_user_model().objects.get(username="own")
    assert (event.action, event.actor, event.actor_id) == (Action.STAFF_VIEWED_BANK_DATA, "own", user.pk)
    assert (event.object_type, event.object_id) == ("case", str(case.pk))
    assert account.account_no not in str(event.after), "the trail must not copy the account number"


def test_contact_panel_view_is_exactly_one_audit_event(world: World, login: Login) -> None:
    case = world.publicised
    phone = Unit.objects.get(snapshot=world.snapshot, unit_id=case.unit_id).phone
    client = login("aud")  # the auditor reads everything; the read itself is on the record
    before = AuditEvent.objects.count()
    panel = client.get(reverse("backoffice:case_contact", args=[case.pk]), **HTMX)
    assert panel.status_code == 200
    if phone:
        assert phone.encode() in panel.content
    events = list(AuditEvent.objects.filter(seq__gt=before))
    assert [(e.action, e.actor) for e in events] == [(Action.STAFF_VIEWED_CONTACT, "aud")]


def test_case_header_shows_the_masked_credit_code(world: World, login: Login) -> None:
    case = world.publicised
    page = login("city").get(reverse("backoffice:case", args=[case.pk])).content.decode()
    header = page.split('id="case-header"', 1)[1].split("</dl>", 1)[0]
    assert case.credit_code not in header
    assert case.credit_code[:6] + "********" + case.credit_code[-4:] in header


def test_four_eyes_refusal_is_shown_on_the_page(world: World, login: Login) -> None:
    """The city admin prepares a review, then tries to decide it: the service refuses, the page says why."""
    client = login("city")
    case = world.to_prepare
    prepared = client.post(
        reverse("backoffice:review_prepare", args=[case.pk]), {"recommendation": "approve", "notes": "齐全"}
    )
    assert prepared.status_code == 302
    review = Review.objects.get(case=case, decided_by="")
    page = client.get(reverse("backoffice:case", args=[case.pk])).content.decode()
    assert "四眼原则" in page  # the warning before trying
    refused = client.post(reverse("backoffice:review_decide", args=[review.pk]), {"decision": "approve"})
    assert refused.status_code == 422
    text = refused.content.decode()
    assert (
        'role="alert"' in text and "双人复核：提出审核意见的经办人不能审核自己的意见" in text
    )  # the refusal, in the page's language
    review.refresh_from_db()
    assert review.decided_by == ""
    # another officer may decide it
    done = login("rev").post(reverse("backoffice:review_decide", args=[review.pk]), {"decision": "approve"})
    assert done.status_code == 302
    assert Case.objects.get(pk=case.pk).state == State.IDENTIFIED


def test_invalid_form_is_422_and_writes_nothing(world: World, login: Login) -> None:
    before = AuditEvent.objects.count()
    response = login("own").post(
        reverse("backoffice:objection_record", args=[world.publicised.pk]),
        {"raised_by": "public", "grounds": ""},
    )
    assert response.status_code == 422
    assert "errorlist" in response.content.decode()
    assert AuditEvent.objects.count() == before


def test_objection_recorded_through_the_ui_then_decided(world: World, login: Login) -> None:
    case = world.publicised
    recorded = login("own").post(
        reverse("backoffice:objection_record", args=[case.pk]),
        {"raised_by": "unit", "contact": "13900000000", "grounds": "金额有误"},
        **HTMX,
        follow=True,
    )
    assert recorded.status_code == 200
    assert "异议已登记" in recorded.content.decode()
    case.refresh_from_db()
    assert case.state == State.OBJECTED
    objection = case.objections.get()
    decided = login("rev").post(
        reverse("backoffice:objection_decide", args=[objection.pk]),
        {"outcome": "upheld", "reason": "核实成立"},
    )
    assert decided.status_code == 302
    case.refresh_from_db()
    assert case.state == State.EXCLUDED


def test_everything_on_the_page_is_escaped(world: World, login: Login) -> None:
    Case.objects.filter(pk=world.publicised.pk).update(unit_name='<script>alert("x")</script>')
    page = login("city").get(reverse("backoffice:case", args=[world.publicised.pk])).content.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page

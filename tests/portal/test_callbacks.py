"""/callback/ (question → check → confirmation with a C- reference and the promised time) and /callback/status/
(reference → code to the phone given → progress and the 1–5 rating); the API's /api/callbacks; per-address
limit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

from mianshen.notify.callbacks import callback_record_outcome, due_text
from mianshen.notify.models import CallbackRequest, Message

from .conftest import sent_codes

REFERENCE = re.compile(r"^C-[0-9A-HJKMNP-TV-Z]{10}$")
ANSWERS = {"name": "李四", "phone": "139 1234 5678", "topic": "返还何时到账", "question": "请问何时到账？",
           "credit_code": "", "district": "110108"}  # fmt: skip


def ask(client: Client, **changes: str) -> str:
    form = client.post("/callback/", ANSWERS | changes)
    assert form.status_code == 302 and form["Location"] == "/callback/check/"
    check = client.get("/callback/check/").content.decode()
    assert "139****5678" in check and "13912345678" not in check and "海淀区" in check
    done = client.post("/callback/check/")
    assert done["Location"] == "/callback/done/"
    page = client.get("/callback/done/").content.decode()
    found = re.search(r'<strong class="reference" id="reference">([^<]+)</strong>', page)
    assert found is not None and "前给您回电" in page
    return found.group(1)


@pytest.mark.django_db
def test_a_request_gets_a_reference_and_the_promised_time(client: Client) -> None:
    reference = ask(client)
    assert REFERENCE.match(reference)
    cb = CallbackRequest.objects.get(reference=reference)
    assert (cb.district, cb.phone, cb.state) == ("110108", "13912345678", "assigned")
    page = client.get("/callback/done/").content.decode()
    assert due_text(cb.due_at) in page
    assert Message.objects.filter(kind="callback_received", to="13912345678").count() == 1


@pytest.mark.django_db
def test_bad_answers_are_named_next_to_their_field(client: Client) -> None:
    page = client.post("/callback/", ANSWERS | {"phone": "123"})
    assert page.status_code == 400
    assert 'id="phone-error"' in page.content.decode() and CallbackRequest.objects.count() == 0
    assert client.get("/callback/check/")["Location"] == "/callback/"
    english = client.post("/callback/?lang=en", ANSWERS | {"topic": ""}, HTTP_ACCEPT_LANGUAGE="en")
    assert english.status_code == 400 and 'id="topic-error"' in english.content.decode()


def test_status_with_a_code_then_rating(client: Client, outbox: Path) -> None:
    reference = ask(client)
    assert client.post("/callback/status/", {"reference": reference.lower()}).status_code == 200
    code = sent_codes(outbox)[-1]
    wrong = client.post("/callback/status/", {"reference": reference, "action": "code", "code": "000000"})
    assert wrong.status_code == 400 or code == "000000"
    ok = client.post("/callback/status/", {"reference": reference, "action": "code", "code": code})
    assert ok.status_code == 302
    page = client.get(ok["Location"]).content.decode()
    assert "待回电" in page and 'name="rating"' not in page
    cb = CallbackRequest.objects.get(reference=reference)
    callback_record_outcome(pk=cb.pk, outcome="answered", note="已答复", actor="haidian")
    page = client.get(ok["Location"]).content.decode()
    assert "已答复" in page and 'name="rating"' in page
    bad = client.post("/callback/status/", {"reference": reference, "action": "rate", "rating": "9"})
    assert bad.status_code == 400
    rated = client.post("/callback/status/", {"reference": reference, "action": "rate", "rating": "1"})
    assert rated.status_code == 302
    cb.refresh_from_db()
    assert (cb.state, cb.rating, cb.reopened) == ("assigned", 1, 1)  # 差评: a second call


def test_a_rating_needs_the_code_first(client: Client, outbox: Path) -> None:
    reference = ask(client)
    cb = CallbackRequest.objects.get(reference=reference)
    callback_record_outcome(pk=cb.pk, outcome="answered", note="已答复", actor="haidian")
    other = Client()
    page = other.post("/callback/status/", {"reference": reference, "action": "rate", "rating": "5"})
    assert page.status_code == 200  # taken as a code request, nothing rated
    cb.refresh_from_db()
    assert (
        cb.rating is None
        and other.get(f"/callback/status/?ref={reference}").content.decode().count('id="result"') == 0
    )


@pytest.mark.django_db
def test_the_api_creates_reads_and_rates(client: Client, settings: object) -> None:
    made = client.post("/api/callbacks", ANSWERS, content_type="application/json")
    assert made.status_code == 201, made.content
    reference = made.json()["reference"]
    assert REFERENCE.match(reference) and made.json()["due_at"]
    assert client.get(f"/api/callbacks/{reference}").status_code == 404  # no code yet
    bad = client.post("/api/callbacks", ANSWERS | {"phone": "1"}, content_type="application/json")
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "phone"
    assert client.post(f"/api/callbacks/{reference}/code").status_code == 202
    assert (
        client.post(
            f"/api/callbacks/{reference}/session", {"code": "x"}, content_type="application/json"
        ).status_code
        == 422
    )


@pytest.mark.django_db
def test_the_per_address_limit_answers_429(client: Client, settings: object) -> None:
    settings.PORTAL_ADDRESS_MAX_REQUESTS = 2  # type: ignore[attr-defined]
    for _ in range(2):
        assert client.post("/api/callbacks", ANSWERS, content_type="application/json").status_code == 201
    assert client.post("/api/callbacks", ANSWERS, content_type="application/json").status_code == 429
    client.post("/callback/", ANSWERS)
    assert client.post("/callback/check/").status_code == 429
    assert CallbackRequest.objects.count() == 2


def test_the_api_session_progress_and_rating(client: Client, outbox: Path) -> None:
    reference = client.post("/api/callbacks", ANSWERS, content_type="application/json").json()["reference"]
    assert client.post(f"/api/callbacks/{reference}/code").status_code == 202
    code = sent_codes(outbox)[-1]
    opened = client.post(
        f"/api/callbacks/{reference}/session", {"code": code}, content_type="application/json"
    )
    assert opened.status_code == 204
    got = client.get(f"/api/callbacks/{reference}").json()
    assert (got["state"], got["district"], got["rating"]) == ("assigned", "110108", None)
    early = client.post(f"/api/callbacks/{reference}/rating", {"rating": 5}, content_type="application/json")
    assert early.status_code == 422 and early.json()["detail"][0]["field"] == "rating"
    cb = CallbackRequest.objects.get(reference=reference)
    callback_record_outcome(pk=cb.pk, outcome="unreachable", note="无人接听", actor="haidian")
    rated = client.post(f"/api/callbacks/{reference}/rating", {"rating": 4}, content_type="application/json")
    assert (
        rated.status_code == 200
        and rated.json()["state"] == "closed"
        and rated.json()["outcome"] == "unreachable"
    )


def test_the_sweep_blanks_the_requester_a_year_after_closing(client: Client, outbox: Path) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from mianshen.notify.callbacks import callback_rate
    from mianshen.portal.services import portal_sweep

    closed, still_open = ask(client), ask(client)
    cb = CallbackRequest.objects.get(reference=closed)
    callback_record_outcome(pk=cb.pk, outcome="answered", note="已答复", actor="haidian")
    callback_rate(pk=cb.pk, rating=5)
    assert portal_sweep().callbacks == 0  # closed today: kept
    assert portal_sweep(timezone.now() + timedelta(days=364)).callbacks == 0
    later = timezone.now() + timedelta(days=366)
    assert portal_sweep(later).callbacks == 1 and portal_sweep(later).callbacks == 0
    cb.refresh_from_db()
    kept = CallbackRequest.objects.get(reference=still_open)  # open requests are never blanked
    assert (cb.name, cb.phone, cb.rating, cb.topic) == ("", "", 5, ANSWERS["topic"])
    assert (kept.name, kept.phone) == (ANSWERS["name"], "13912345678")
    before = len(sent_codes(outbox))
    assert client.post("/callback/status/", {"reference": closed}).status_code == 200  # the same answer
    assert len(sent_codes(outbox)) == before  # but no code goes anywhere


def test_the_api_rating_needs_the_csrf_token_of_the_session(outbox: Path) -> None:
    client = Client(enforce_csrf_checks=True)  # as a browser or an app would be held to it
    reference = client.post("/api/callbacks", ANSWERS, content_type="application/json").json()["reference"]
    assert client.post(f"/api/callbacks/{reference}/code").status_code == 202
    opened = client.post(
        f"/api/callbacks/{reference}/session",
        {"code": sent_codes(outbox)[-1]},
        content_type="application/json",
    )
    assert opened.status_code == 204 and "csrftoken" in opened.cookies
    cb = CallbackRequest.objects.get(reference=reference)
    callback_record_outcome(pk=cb.pk, outcome="answered", note="已答复", actor="haidian")
    url, body = f"/api/callbacks/{reference}/rating", {"rating": 5}
    refused = client.post(url, body, content_type="application/json")
    assert refused.status_code == 403 and refused.json()["detail"][0]["field"] == "csrf"
    forged = client.post(url, body, content_type="application/json", HTTP_X_CSRFTOKEN="x" * 32)
    assert forged.status_code == 403
    cb.refresh_from_db()
    assert cb.rating is None
    token = opened.cookies["csrftoken"].value
    rated = client.post(url, body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert rated.status_code == 200 and rated.json()["rating"] == 5

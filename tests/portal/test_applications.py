"""/apply/ and /api/applications: the typed forms (every bad input a field message, in Chinese and English; no
500 on any post), documents (type by content, size, stored outside the web root, served only to the unit's own
session and audited), a unit never sees or acts on another's applications or documents, the four-eyes decision
and its messages, and the round honouring a granted key-supervision application."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.cases.models import Application, ApplicationDocument, Case
from mianshen.cases.services import review_decide, review_prepare
from mianshen.cases.states import State
from mianshen.notify.models import Message
from mianshen.portal import lookup

from .conftest import make_cases

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def sign_in(client: Client, *unit_ids: str) -> None:
    session = client.session
    until = (timezone.now() + timedelta(minutes=30)).isoformat()
    session[lookup.SESSION_KEY] = {"units": list(unit_ids), "until": until}
    session.save()


@pytest.fixture
def two(db: None, settings: Any, tmp_path: Path) -> tuple[Case, Case]:
    """Two units: one on the commitment-breach track (must apply), one excluded."""
    settings.VAR_DIR = tmp_path
    settings.APPLICATION_UPLOAD_DIR = str(tmp_path / "uploads")
    a, b = make_cases(2, start=500)
    Case.objects.filter(pk=a.pk).update(state=State.AWAITING_APPLICATION, key_supervision=True,
                                        reason="COMMITMENT_BREACH")  # fmt: skip
    Case.objects.filter(pk=b.pk).update(state=State.EXCLUDED, reason="LAYOFF_RATE_EXCEEDED")
    a.refresh_from_db()
    b.refresh_from_db()
    return a, b


KEY = {
    "statement": "已按要求整改，补足了约定岗位并配合核查。",
    "contact_name": "张三",
    "contact_phone": "13800001111",
}


def test_signed_out_is_sent_to_the_lookup(client: Client, two: tuple[Case, Case]) -> None:
    response = client.get("/apply/")
    assert response.status_code == 401
    assert "/lookup/" in response.content.decode()


def test_offers_follow_the_case_state(client: Client, two: tuple[Case, Case]) -> None:
    a, _b = two
    sign_in(client, a.unit_id)
    page = client.get("/apply/").content.decode()
    assert f"/apply/new/{a.pk}/key_supervision/" in page
    assert f"/apply/new/{a.pk}/wrong_bank_details/" not in page  # not offered: said why
    assert "仅适用于因银行账户信息有误" in page
    en = client.get("/apply/?lang=en").content.decode()
    assert "Apply under key supervision" in en or "key supervision" in en.lower()


def test_the_journey_question_check_confirmation(client: Client, two: tuple[Case, Case]) -> None:
    a, _ = two
    sign_in(client, a.unit_id)
    response = client.post(f"/apply/new/{a.pk}/key_supervision/", KEY)
    assert response.status_code == 302 and response["Location"].endswith("/apply/check/")
    check = client.get("/apply/check/").content.decode()
    assert "张三" in check and "13800001111" in check
    response = client.post("/apply/check/")
    assert response.status_code == 302
    done = client.get("/apply/done/").content.decode()
    app = Application.objects.get(case=a)
    assert app.reference in done and app.reference.startswith("A-") and len(app.reference) == 12
    a.refresh_from_db()
    assert a.state == State.UNDER_REVIEW
    assert app.submitted_by == f"单位 {a.unit_id} portal"
    assert Message.objects.filter(kind="application_received", unit_id=a.unit_id).exists()
    listing = client.get("/apply/").content.decode()
    assert app.reference in listing and "办理中" in listing
    # a second application while this one is open is not offered
    assert f"/apply/new/{a.pk}/commitment_fulfilled/" not in listing


@pytest.mark.parametrize(
    ("kind", "posted", "field", "zh", "en"),
    [
        ("key_supervision", {**KEY, "statement": "短"}, "statement", "至少 10 个字", "at least 10 characters"),
        ("key_supervision", {**KEY, "contact_phone": "12345"}, "contact_phone", "11 位手机号码", "mobile number of 11 digits"),
        ("key_supervision", {**KEY, "contact_name": ""}, "contact_name", "请填写", "Please fill in"),
        ("commitment_fulfilled", {"fulfilled_on": "2021-02-30", "fulfilled_what": "补足岗位", "statement": "x" * 12},
         "fulfilled_on", "真实存在的日期", "real date"),
        ("commitment_fulfilled", {"fulfilled_on": "2999-01-01", "fulfilled_what": "补足岗位", "statement": "x" * 12},
         "fulfilled_on", "不能晚于今天", "later than today"),
    ],
)  # fmt: skip
def test_bad_input_is_named_next_to_its_field_in_both_languages(
    client: Client, two: tuple[Case, Case], kind: str, posted: dict[str, str], field: str, zh: str, en: str
) -> None:
    a, _ = two
    sign_in(client, a.unit_id)
    response = client.post(f"/apply/new/{a.pk}/{kind}/", posted)
    assert response.status_code == 400
    page = response.content.decode()
    assert f'id="{field}-error"' in page and zh in page
    response = client.post(f"/apply/new/{a.pk}/{kind}/?lang=en", posted, HTTP_ACCEPT_LANGUAGE="en")
    assert en.lower() in response.content.decode().lower()
    assert not Application.objects.exists()


@pytest.mark.parametrize(
    ("posted", "field", "zh"),
    [
        ({"related_codes": "91110000ABC", "persons_transferred": "3"}, "related_codes", "不是有效的统一社会信用代码"),
        ({"related_codes": "911101050000000001", "persons_transferred": "3"}, "related_codes", "不是有效的统一社会信用代码"),
        ({"related_codes": "91110105MA01ABCD2X", "persons_transferred": "三"}, "persons_transferred", "只填数字"),
        ({"related_codes": "91110105MA01ABCD2X", "persons_transferred": "0"}, "persons_transferred", "1 到 100000"),
    ],
)  # fmt: skip
def test_related_transfers_fields(client: Client, two: tuple[Case, Case], posted: dict[str, str], field: str,
                                  zh: str) -> None:  # fmt: skip
    _, b = two
    sign_in(client, b.unit_id)
    response = client.post(
        f"/apply/new/{b.pk}/related_transfers/", {**posted, "statement": "人员转至关联公司。" * 2}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert f'id="{field}-error"' in page and zh in page
    assert 'id="documents-error"' in page  # the required document is missing too: every problem at once


def test_uploads_checked_by_content_and_size_and_served_only_to_the_unit(
    client: Client, two: tuple[Case, Case], settings: Any, tmp_path: Path
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    _, b = two
    sign_in(client, b.unit_id)
    posted = {"unit_type": "foundation", "statement": "本单位为基金会，属于返还范围。"}
    fake = SimpleUploadedFile("证书.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf")
    page = client.post(
        f"/apply/new/{b.pk}/type_outside_scope/", {**posted, "documents": fake}
    ).content.decode()
    assert "不是 PDF、JPEG 或 PNG" in page
    settings.APPLICATION_UPLOAD_MAX_BYTES = 64
    big = SimpleUploadedFile("big.png", PNG + b"\x00" * 100, content_type="image/png")
    page = client.post(
        f"/apply/new/{b.pk}/type_outside_scope/", {**posted, "documents": big}
    ).content.decode()
    assert "超过" in page
    assert not list((tmp_path / "uploads").glob("*")) if (tmp_path / "uploads").exists() else True
    settings.APPLICATION_UPLOAD_MAX_BYTES = 5 * 1024 * 1024
    good = SimpleUploadedFile(
        "证书.png", PDF, content_type="image/png"
    )  # the name lies; the content is a PDF
    assert (
        client.post(f"/apply/new/{b.pk}/type_outside_scope/", {**posted, "documents": good}).status_code
        == 302
    )
    assert client.post("/apply/check/").status_code == 302
    doc = ApplicationDocument.objects.get()
    assert doc.content_type == "application/pdf" and doc.name == "证书.png"
    stored = tmp_path / "uploads" / doc.stored_as
    assert stored.read_bytes() == PDF and str(settings.STATIC_ROOT) not in str(stored)
    response = client.get(f"/apply/documents/{doc.pk}/")
    assert response.status_code == 200 and response.content == PDF
    assert response["Content-Type"] == "application/pdf" and "attachment" in response["Content-Disposition"]
    assert AuditEvent.objects.filter(action=Action.APPLICATION_DOCUMENT_OPENED).count() == 1
    other = Client()
    sign_in(other, two[0].unit_id)
    assert other.get(f"/apply/documents/{doc.pk}/").status_code == 404
    assert Client().get(f"/apply/documents/{doc.pk}/").status_code == 401
    stored.write_bytes(PDF + b"changed")
    assert client.get(f"/apply/documents/{doc.pk}/").status_code == 404  # a changed file is never served


def test_no_unit_sees_or_acts_on_another_units_applications(client: Client, two: tuple[Case, Case]) -> None:
    a, b = two
    sign_in(client, a.unit_id)
    client.post(f"/apply/new/{a.pk}/key_supervision/", KEY)
    client.post("/apply/check/")
    ref = Application.objects.get().reference
    intruder = Client()
    sign_in(intruder, b.unit_id)
    assert ref not in intruder.get("/apply/").content.decode()
    assert intruder.get(f"/apply/new/{a.pk}/commitment_fulfilled/").status_code == 404
    assert intruder.post(f"/apply/new/{a.pk}/commitment_fulfilled/", {}).status_code == 404
    body = intruder.get("/api/applications").json()
    assert ref not in json.dumps(body) and [c["number"] for c in body["cases"]] == [b.number]
    response = intruder.post(
        "/api/applications", {"case_number": a.number, "kind": "commitment_fulfilled", "answers": {}},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 422 and Application.objects.count() == 1


def test_api_needs_the_session_and_csrf(two: tuple[Case, Case]) -> None:
    a, _ = two
    client = Client(enforce_csrf_checks=True)
    assert client.get("/api/applications").status_code == 401
    sign_in(client, a.unit_id)
    payload = {"case_number": a.number, "kind": "key_supervision", "answers": KEY}
    response = client.post("/api/applications", payload, content_type="application/json")
    assert response.status_code == 403 and not Application.objects.exists()
    client.get("/api/applications")
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/api/applications", payload, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 201, response.content
    ref = response.json()["reference"]
    listed = client.get("/api/applications").json()
    assert listed["cases"][0]["applications"][0]["reference"] == ref
    assert listed["cases"][0]["applications"][0]["outcome"] == ""


def test_four_eyes_grant_tells_the_unit(client: Client, two: tuple[Case, Case]) -> None:
    a, _ = two
    sign_in(client, a.unit_id)
    client.post(f"/apply/new/{a.pk}/key_supervision/", KEY)
    client.post("/apply/check/")
    review = review_prepare(case_id=a.pk, recommendation="approve", notes="整改属实", actor="officer-a")
    review_decide(review_id=review.pk, approve=True, actor="reviewer-b", reason="同意")
    app = Application.objects.get()
    assert (app.outcome, app.decided_by, app.review_id) == ("granted", "reviewer-b", review.pk)
    a.refresh_from_db()
    assert a.state == State.IDENTIFIED and a.key_supervision
    assert Message.objects.filter(kind="application_decided", unit_id=a.unit_id).exists()
    assert AuditEvent.objects.filter(action=Action.APPLICATION_DECIDED).count() == 1
    assert "准予" in client.get("/apply/").content.decode()


SAFE_TEXT = st.text(st.characters(codec="utf-8"), max_size=60)


@hsettings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    kind=st.sampled_from(["key_supervision", "commitment_fulfilled", "type_outside_scope", "related_transfers",
                          "type_change_missed", "believe_qualify", "wrong_bank_details", "nonsense"]),
    data=st.dictionaries(st.sampled_from(["statement", "contact_name", "contact_phone", "fulfilled_on",
                                          "fulfilled_what", "unit_type", "related_codes", "persons_transferred",
                                          "new_unit_type", "changed_on", "bank_code", "branch_code", "account_no",
                                          "account_name", "remove_documents"]), SAFE_TEXT, max_size=8),
)  # fmt: skip
def test_no_post_to_any_form_answers_500(two: tuple[Case, Case], kind: str, data: dict[str, str]) -> None:
    a, b = two
    client = Client()
    sign_in(client, a.unit_id, b.unit_id)
    for case in (a, b):
        response = client.post(
            f"/apply/new/{case.pk}/{kind}/", {k: v.replace("\x00", "") for k, v in data.items()}
        )
        assert response.status_code in {302, 400, 404, 409}
    assert client.post("/apply/check/").status_code in {200, 302, 400}


def test_the_sweep_deletes_uploads_no_application_names(
    client: Client, two: tuple[Case, Case], tmp_path: Path
) -> None:
    import os

    from django.core.files.uploadedfile import SimpleUploadedFile

    from mianshen.portal.services import portal_sweep

    a, b = two
    sign_in(client, a.unit_id, b.unit_id)
    posted = {"unit_type": "foundation", "statement": "本单位为基金会，属于返还范围。"}
    kept = SimpleUploadedFile("kept.pdf", PDF, content_type="application/pdf")
    assert (
        client.post(f"/apply/new/{b.pk}/type_outside_scope/", {**posted, "documents": kept}).status_code
        == 302
    )
    client.post("/apply/check/")
    abandoned = SimpleUploadedFile("abandoned.pdf", PDF, content_type="application/pdf")
    response = client.post(f"/apply/new/{a.pk}/key_supervision/", {**KEY, "documents": abandoned})
    assert response.status_code == 302  # then never submitted
    files = sorted((tmp_path / "uploads").glob("*.bin"))
    assert len(files) == 2
    assert portal_sweep().documents == 0  # not a day old yet
    day_ago = (timezone.now() - timedelta(days=2)).timestamp()
    for path in files:
        os.utime(path, (day_ago, day_ago))
    assert portal_sweep().documents == 1
    (left,) = (tmp_path / "uploads").glob("*.bin")
    assert left.name == ApplicationDocument.objects.get().stored_as


def test_nothing_is_stored_while_an_answer_is_wrong(
    client: Client, two: tuple[Case, Case], tmp_path: Path
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    _, b = two
    sign_in(client, b.unit_id)
    doc = SimpleUploadedFile("证书.pdf", PDF, content_type="application/pdf")
    response = client.post(
        f"/apply/new/{b.pk}/type_outside_scope/", {"unit_type": "nonsense", "documents": doc}
    )
    assert response.status_code == 400 and 'id="unit_type-error"' in response.content.decode()
    assert not list((tmp_path / "uploads").glob("*.bin")) if (tmp_path / "uploads").exists() else True


def test_the_check_page_shows_a_choice_by_its_name_in_the_page_language(
    client: Client, two: tuple[Case, Case]
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    _, b = two
    sign_in(client, b.unit_id)
    doc = SimpleUploadedFile("证书.pdf", PDF, content_type="application/pdf")
    posted = {"unit_type": "foundation", "statement": "本单位为基金会，属于返还范围。", "documents": doc}
    assert client.post(f"/apply/new/{b.pk}/type_outside_scope/", posted).status_code == 302
    assert '<dd class="pre">基金会</dd>' in client.get("/apply/check/").content.decode()
    english = client.get("/apply/check/?lang=en").content.decode()
    assert '<dd class="pre">Foundations</dd>' in english

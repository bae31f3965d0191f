"""The back office's outbox page (failed / dead-lettered messages, counts by state, the audited retry), the
phone-consultation form (enquiries by channel) and the call-back phone shown masked until an audited reveal —
all district-scoped and permission-checked."""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.cases.models import Case
from mianshen.notify.callbacks import callback_check, callback_request
from mianshen.notify.kinds import benefit
from mianshen.notify.models import Enquiry, Message
from mianshen.notify.services import message_queue, message_transition
from mianshen.notify.states import MessageState
from mianshen.registry.models import Snapshot, Unit
from mianshen.staff.services import staff_add

from .conftest import verified_login

pytestmark = pytest.mark.django_db
M = MessageState


def client_for(name: str, role: str, district: str | None) -> Client:
    staff_add(username=name, role=role, district=district)
    return verified_login(Client(), get_user_model().objects.get(username=name))


def a_case(i: int, district: str) -> Case:
    return Case.objects.create(
        policy_id="beijing-2021", unit_id=f"U{i}", credit_code=f"91{district}MA{i:08d}", unit_name=f"单位{i}",
        district=district, state="approved", amount_fen=100_00, decision="eligible",
    )  # fmt: skip


def a_dead_letter(case: Case, phone: str, error: str = "HTTP 500 from the gateway") -> Message:
    msg = message_queue(kind="approved", channel="sms", to=phone, key=f"case{case.pk}:approved:t",
                        context={**benefit("beijing-2021"), "unit_name": case.unit_name, "amount": "100.00"}, unit_id=case.unit_id,
                        case_id=case.pk)  # fmt: skip
    for n in range(1, 7):
        message_transition(message_id=msg.pk, to=M.QUEUED, actor="test", reason=f"attempt {n}",
                           changes={"attempts": n, "last_error": error})  # fmt: skip
    return message_transition(
        message_id=msg.pk, to=M.FAILED, actor="test", reason="dead letter after 6 attempts"
    )


def test_the_outbox_page_lists_dead_letters_of_the_district_and_retries_one() -> None:
    mine = a_dead_letter(a_case(1, "110105"), "13800138000")
    theirs = a_dead_letter(a_case(2, "110108"), "13900139000", error="refused: blocked number")
    officer = client_for("cy", "district_officer", "110105")
    page = officer.get("/office/outbox/").content.decode()
    assert f'data-message="{mine.pk}"' in page and f'data-message="{theirs.pk}"' not in page
    assert "138****8000" in page and "13800138000" not in page  # the recipient masked
    assert "HTTP 500 from the gateway" in page and ">6<" in page  # last error, tries
    assert 'data-state="failed">1<' in page  # the counts are the district's
    assert officer.post(f"/office/outbox/{theirs.pk}/retry/").status_code == 404  # another district
    auditor = client_for("aud", "auditor", None)
    assert (
        f'data-message="{theirs.pk}"'
        in auditor.get("/office/outbox/?state=failed&channel=sms").content.decode()
    )
    assert 'class="retry"' not in auditor.get("/office/outbox/").content.decode()
    assert auditor.post(f"/office/outbox/{mine.pk}/retry/").status_code == 403  # read-only
    reviewer = client_for("rev", "reviewer", None)
    assert reviewer.post(f"/office/outbox/{mine.pk}/retry/").status_code == 403  # not the role's
    before = AuditEvent.objects.filter(action=Action.NOTIFICATION_TRANSITION).count()
    done = officer.post(f"/office/outbox/{mine.pk}/retry/", {"next": "/office/outbox/?state=failed"})
    assert done.status_code == 302 and done["Location"] == "/office/outbox/?state=failed"
    mine.refresh_from_db()
    assert (mine.state, mine.attempts, mine.closed_at, mine.provider_id) == ("queued", 1, None, "")
    event = AuditEvent.objects.filter(action=Action.NOTIFICATION_TRANSITION).order_by("-seq").first()
    assert event is not None and event.actor == "cy" and "retried by staff" in event.reason
    assert AuditEvent.objects.filter(action=Action.NOTIFICATION_TRANSITION).count() == before + 1
    # a queued message cannot be retried: refused, nothing written
    again = officer.post(f"/office/outbox/{mine.pk}/retry/", follow=True)
    assert "只有发送失败的消息可以重发" in again.content.decode()
    assert AuditEvent.objects.filter(action=Action.NOTIFICATION_TRANSITION).count() == before + 1
    retrying = officer.get("/office/outbox/?state=retrying").content.decode()
    assert f'data-message="{mine.pk}"' in retrying
    assert (
        f'data-message="{mine.pk}"'
        not in officer.get("/office/outbox/?state=failed&kind=otp").content.decode()
    )


def test_bad_filters_are_ignored_not_errors() -> None:
    city = client_for("boss", "city_admin", None)
    for query in ("?state=nonsense", "?kind=%00", "?channel=fax&page=-3", "?page=abc"):
        assert city.get("/office/outbox/" + query).status_code == 200
    assert city.get("/office/enquiries/?channel=<script>").status_code == 200


def test_a_phone_consultation_is_recorded_with_the_unit_of_its_credit_code() -> None:
    snap = Snapshot.objects.create(content_hash="e" * 64, source="test", extracted_on=date(2021, 6, 30))
    Unit.objects.create(snapshot=snap, line=2, unit_id="U77", credit_code="91110108MA00000077", name="海淀某公司",
                        unit_type="enterprise", industry="65", district="110108", dispatch=False, phone="")  # fmt: skip
    officer = client_for("cy", "district_officer", "110105")
    assert 'id="enquiry-form"' in officer.get("/office/enquiries/").content.decode()
    bad = officer.post("/office/enquiries/", {"topic": "", "credit_code": "", "outcome": "answered"})
    assert bad.status_code == 422 and 'id="topic-error"' in bad.content.decode()
    bad = officer.post(
        "/office/enquiries/", {"topic": "何时到账", "credit_code": "123", "outcome": "answered"}
    )
    assert bad.status_code == 422 and 'id="credit_code-error"' in bad.content.decode()
    assert 'value="何时到账"' in bad.content.decode()  # what was typed stays
    bad = officer.post("/office/enquiries/", {"topic": "何时到账", "credit_code": "", "outcome": "signed_in"})
    assert bad.status_code == 422 and 'id="outcome-error"' in bad.content.decode()
    assert not Enquiry.objects.exists()
    ok = officer.post("/office/enquiries/", {"topic": "何时到账", "credit_code": " 91110108ma00000077 ",
                                             "outcome": "forwarded"})  # fmt: skip
    assert ok.status_code == 302
    e = Enquiry.objects.get()
    assert (e.channel, e.unit_id, e.district, e.outcome, e.recorded_by) == (
        "phone",
        "U77",
        "110108",
        "forwarded",
        "cy",
    )
    assert AuditEvent.objects.filter(action=Action.ENQUIRY_RECORDED, object_id=str(e.pk)).exists()
    ok = officer.post("/office/enquiries/", {"topic": "政策咨询", "credit_code": "", "outcome": "answered"})
    assert Enquiry.objects.filter(topic="政策咨询", district="110105", unit_id=None).exists()
    # the list is district-scoped: the consultation about the Haidian unit shows to Haidian and the city
    haidian = client_for("hd", "district_officer", "110108")
    page = haidian.get("/office/enquiries/").content.decode()
    assert "何时到账" in page and "政策咨询" not in page
    city = client_for("boss", "city_admin", None).get("/office/enquiries/?channel=phone").content.decode()
    assert "何时到账" in city and "政策咨询" in city
    auditor = client_for("aud", "auditor", None)
    assert 'id="enquiry-form"' not in auditor.get("/office/enquiries/").content.decode()
    assert auditor.post("/office/enquiries/", {"topic": "x", "outcome": "answered"}).status_code == 403
    reviewer = client_for("rev", "reviewer", None)
    assert reviewer.post("/office/enquiries/", {"topic": "x", "outcome": "answered"}).status_code == 403


def test_the_call_back_phone_is_masked_until_an_audited_reveal() -> None:
    draft = callback_check(name="王五", phone="13700137000", topic="主题", question="?", district="110105")
    cb = callback_request(draft, now=timezone.now())
    officer = client_for("cy", "district_officer", "110105")
    detail = officer.get(f"/office/callbacks/{cb.pk}/").content.decode()
    assert "137****7000" in detail and "13700137000" not in detail and 'id="reveal-phone"' in detail
    assert not AuditEvent.objects.filter(action=Action.CALLBACK_PHONE_VIEWED).exists()
    assert officer.get(f"/office/callbacks/{cb.pk}/phone/").status_code == 405  # an action, not a link
    shown = officer.post(f"/office/callbacks/{cb.pk}/phone/", HTTP_HX_REQUEST="true")
    assert shown.status_code == 200 and 'id="full-phone">13700137000<' in shown.content.decode()
    event = AuditEvent.objects.get(action=Action.CALLBACK_PHONE_VIEWED)
    assert (event.actor, event.object_type, event.object_id) == ("cy", "callback", cb.reference)
    full = officer.post(f"/office/callbacks/{cb.pk}/phone/").content.decode()  # without htmx: the whole page
    assert "13700137000" in full and 'id="outcome-form"' in full
    assert AuditEvent.objects.filter(action=Action.CALLBACK_PHONE_VIEWED).count() == 2
    other = client_for("hd", "district_officer", "110108")
    assert other.post(f"/office/callbacks/{cb.pk}/phone/").status_code == 404
    auditor = client_for("aud", "auditor", None)
    assert "13700137000" in auditor.post(f"/office/callbacks/{cb.pk}/phone/").content.decode()
    assert AuditEvent.objects.filter(action=Action.CALLBACK_PHONE_VIEWED).count() == 3

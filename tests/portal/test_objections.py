"""/objections/new/ (question → check answers → confirmation with an O- reference) lands in the existing objection
queue; /objections/status/ shows the outcome after a code sent to the phone given."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.cases.models import Case, Notice, Objection
from mianshen.cases.services import objection_decide
from mianshen.cases.states import State
from mianshen.portal import services
from mianshen.portal.models import ObjectionReceipt, StatusCode

from .conftest import Listed, sent_codes

REFERENCE = re.compile(r"^O-[0-9A-HJKMNP-TV-Z]{10}$")
GROUNDS = "该单位去年已停业，职工全部离职，不应享受返还。"


def raise_objection(client: Client, entry_id: int, phone: str = "13812345678") -> str:
    form = client.post(
        "/objections/new/", {"entry": entry_id, "grounds": GROUNDS, "name": "张三", "phone": phone}
    )
    assert form.status_code == 302 and form["Location"] == "/objections/new/check/"
    check = client.get("/objections/new/check/").content.decode()
    assert "138****5678" in check and GROUNDS in check and "13812345678" not in check
    done = client.post("/objections/new/check/")
    assert done["Location"] == "/objections/new/done/"
    page = client.get("/objections/new/done/").content.decode()
    found = re.search(r'<strong class="reference" id="reference">([^<]+)</strong>', page)
    assert found is not None
    return found.group(1)


def test_an_objection_lands_in_the_queue_with_a_reference(client: Client, listed: Listed) -> None:
    case = listed.cases[3]
    reference = raise_objection(client, listed.entry(case).pk)
    assert REFERENCE.match(reference)
    objection = Objection.objects.get(case=case)
    assert objection.raised_by == "public" and objection.grounds == GROUNDS and objection.outcome == ""
    assert objection.contact == "张三 13812345678" and objection.recorded_by == services.ACTOR
    assert ObjectionReceipt.objects.get(reference=reference).objection == objection
    assert Case.objects.get(pk=case.pk).state == State.OBJECTED
    assert AuditEvent.objects.filter(action=Action.OBJECTION_RECORDED, object_id=str(objection.pk)).exists()
    # the draft is gone: a second POST of the check page does not record a second objection
    assert client.post("/objections/new/check/")["Location"] == "/objections/new/"
    assert Objection.objects.filter(case=case).count() == 1


def test_references_are_distinct_and_unguessable_in_form() -> None:
    from mianshen.portal.codes import new_reference

    refs = {new_reference("O") for _ in range(2000)}
    assert len(refs) == 2000 and all(REFERENCE.match(r) for r in refs)


@pytest.mark.parametrize(
    ("field", "values", "message"),
    [
        ("grounds", {"grounds": "太短"}, "请说明异议理由，至少 10 个字"),
        ("grounds", {"grounds": "长" * 2001}, "异议理由不能超过 2000 字"),
        ("phone", {"phone": "12345"}, "请输入 11 位手机号码"),
        ("name", {"name": "名" * 51}, "姓名不能超过 50 个字"),
    ],
)
def test_bad_answers_are_named_next_to_their_field(
    client: Client, listed: Listed, field: str, values: dict[str, str], message: str
) -> None:
    data = {"entry": listed.entry(listed.cases[0]).pk, "grounds": GROUNDS, "name": "", "phone": "13812345678"}
    response = client.post("/objections/new/", {**data, **values})
    body = response.content.decode()
    assert response.status_code == 400
    assert f'<p class="error-message" id="{field}-error">{message}' in body
    assert f'<a href="#{field}">{message}' in body
    assert not Objection.objects.exists()


def test_english_messages_for_an_english_reader(client: Client, listed: Listed) -> None:
    client.get("/", {"lang": "en"})
    body = client.post(
        "/objections/new/", {"entry": listed.entry(listed.cases[0]).pk, "grounds": GROUNDS, "phone": "1"}
    ).content.decode()
    assert "enter a mainland mobile number of 11 digits" in body


def test_no_objection_after_the_notice_or_against_an_unknown_line(client: Client, listed: Listed) -> None:
    entry = listed.entry(listed.cases[0])
    assert client.get("/objections/new/", {"entry": "999999"}).status_code == 404
    assert client.get("/objections/new/", {"entry": "abc"}).status_code == 404
    client.post("/objections/new/", {"entry": entry.pk, "grounds": GROUNDS, "phone": "13812345678"})
    Notice.objects.filter(pk=listed.notice.pk).update(ends_at=timezone.now() - timedelta(minutes=1))
    response = client.post("/objections/new/check/")
    assert response.status_code == 400 and "公示期已结束" in response.content.decode()
    assert not Objection.objects.exists()


def status_flow(client: Client, reference: str, outbox: Path) -> str:
    asked = client.post("/objections/status/", {"reference": reference.lower()})
    assert asked.status_code == 200 and "验证码已发送" in asked.content.decode()
    code = sent_codes(outbox)[-1]
    shown = client.post("/objections/status/", {"reference": reference, "action": "code", "code": code})
    assert shown.status_code == 302
    return client.get(shown["Location"]).content.decode()


def test_the_objector_sees_the_outcome_with_the_code_sent_to_the_phone(
    client: Client, listed: Listed, outbox: Path
) -> None:
    reference = raise_objection(client, listed.entry(listed.cases[5]).pk)
    page = status_flow(client, reference, outbox)
    assert "正在处理" in page and listed.cases[5].unit_name in page
    from mianshen.notify.models import Message

    message = Message.objects.get(
        kind="otp"
    )  # one otp SMS in the notify outbox, to the phone the objector gave
    assert (
        message.channel == "sms" and message.to == "13812345678" and message.params["code"] in message.body_zh
    )
    objection = Objection.objects.get(case=listed.cases[5])
    objection_decide(objection_id=objection.pk, outcome="upheld", reason="核实该单位已停业", actor="officer")
    page = Client().get(f"/objections/status/?ref={reference}").content.decode()
    assert 'id="result"' not in page  # another session sees nothing
    page = client.get(f"/objections/status/?ref={reference}").content.decode()
    assert "异议成立：该单位不予返还" in page and "核实该单位已停业" in page


def test_the_answer_to_a_code_request_is_the_same_for_an_unknown_reference(
    client: Client, listed: Listed, outbox: Path
) -> None:
    reference = raise_objection(client, listed.entry(listed.cases[1]).pk)
    known = Client().post("/objections/status/", {"reference": reference})
    unknown = Client().post("/objections/status/", {"reference": "O-0000000000"})
    known_body, unknown_body = (
        re.sub(r'value="(O-[^"]+|[A-Za-z0-9]{64})"', "", r.content.decode()) for r in (known, unknown)
    )
    assert known.status_code == unknown.status_code == 200
    assert known_body == unknown_body
    assert StatusCode.objects.count() == 2 and len(sent_codes(outbox)) == 1
    wrong = Client().post(
        "/objections/status/", {"reference": "O-0000000000", "action": "code", "code": "123456"}
    )
    assert wrong.status_code == 400 and "验证码不正确" in wrong.content.decode()


def test_wrong_expired_and_too_many_tries(client: Client, listed: Listed, outbox: Path) -> None:
    reference = raise_objection(client, listed.entry(listed.cases[2]).pk)
    client.post("/objections/status/", {"reference": reference})
    code = sent_codes(outbox)[-1]
    wrong = "000000" if code != "000000" else "111111"
    for attempt in range(4):
        r = client.post("/objections/status/", {"reference": reference, "action": "code", "code": wrong})
        assert "验证码不正确" in r.content.decode(), attempt
    r = client.post("/objections/status/", {"reference": reference, "action": "code", "code": wrong})
    assert "尝试次数过多" in r.content.decode()
    r = client.post("/objections/status/", {"reference": reference, "action": "code", "code": code})
    assert "尝试次数过多" in r.content.decode()  # even the right code, after five tries
    StatusCode.objects.all().delete()
    client.post("/objections/status/", {"reference": reference})
    StatusCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    r = client.post(
        "/objections/status/", {"reference": reference, "action": "code", "code": sent_codes(outbox)[-1]}
    )
    assert "验证码已过期" in r.content.decode()


def test_phone_limits_send_nothing_more_and_answer_the_same(
    client: Client, listed: Listed, outbox: Path
) -> None:
    reference = raise_objection(client, listed.entry(listed.cases[4]).pk)
    first = client.post("/objections/status/", {"reference": reference})
    second = client.post("/objections/status/", {"reference": reference})  # within the minute
    assert first.status_code == second.status_code == 200
    assert len(sent_codes(outbox)) == 1 and StatusCode.objects.filter(sent=False).count() == 1
    # the code already sent still opens the status (the newest *sent* code counts)
    r = client.post(
        "/objections/status/", {"reference": reference, "action": "code", "code": sent_codes(outbox)[0]}
    )
    assert r.status_code == 302


def test_the_address_limit_answers_429(client: Client, db: None, settings: object, outbox: Path) -> None:
    settings.PORTAL_ADDRESS_MAX_REQUESTS = 3  # type: ignore[attr-defined]
    answers = [
        client.post("/objections/status/", {"reference": "O-0000000000"}).status_code for _ in range(4)
    ]
    assert answers == [200, 200, 200, 429]
    other = Client(REMOTE_ADDR="10.0.0.9").post("/objections/status/", {"reference": "O-0000000000"})
    assert other.status_code == 200


def test_a_malformed_reference_is_named(client: Client, db: None) -> None:
    r = client.post("/objections/status/", {"reference": "X-123"})
    assert r.status_code == 400 and "请输入受理编号" in r.content.decode()


def test_the_sweep_deletes_what_is_past_its_period(client: Client, listed: Listed, outbox: Path) -> None:
    from django.core.management import call_command

    reference = raise_objection(client, listed.entry(listed.cases[8]).pk)
    client.post("/objections/status/", {"reference": reference})
    receipt = ObjectionReceipt.objects.get(reference=reference)
    objection_decide(
        objection_id=receipt.objection_id, outcome="rejected", reason="单位正常经营", actor="officer"
    )
    assert services.portal_sweep() == services.Swept(0, 0, 0)
    later = timezone.now() + timedelta(days=366)
    swept = services.portal_sweep(later)
    assert swept == services.Swept(codes=1, counters=1, phones=1)
    assert ObjectionReceipt.objects.get(reference=reference).phone == ""
    import io

    out = io.StringIO()
    call_command("portal", "sweep", stdout=out)
    assert out.getvalue().startswith("deleted 0 code row(s)")


def test_answers_for_one_unit_are_not_carried_to_another(client: Client, listed: Listed) -> None:
    first, second = (listed.entry(c).pk for c in listed.cases[:2])
    client.post("/objections/new/", {"entry": first, "grounds": GROUNDS, "phone": "13812345678"})
    assert GROUNDS in client.get("/objections/new/", {"entry": first}).content.decode()
    assert GROUNDS not in client.get("/objections/new/", {"entry": second}).content.decode()

"""/lookup/ and its API (contracts §4): a credit code → a code to each distinct phone on file (through the notify
outbox) → the unit's own case; identical answers and writes for known, unknown and no-phone credit codes; 6 digits,
10 minutes, once, 5 tries; a session sees only the units whose phone received the code; 30-minute sessions."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from mianshen.cases.models import Case
from mianshen.core.models import Job
from mianshen.notify.kinds import benefit
from mianshen.notify.models import Enquiry, Message
from mianshen.portal import lookup
from mianshen.portal.models import LookupCode, LookupRequest
from mianshen.registry.models import Snapshot, Unit

from .conftest import Listed, credit_code, make_cases, paid, sent_codes

SHARED = "91110105MA01SHARE1"


def _unit(snap: Snapshot, line: int, unit_id: str, code: str, phone: str | None) -> Unit:
    return Unit.objects.create(
        snapshot=snap, line=line, unit_id=unit_id, credit_code=code, name=f"单位{unit_id}", unit_type="enterprise",
        industry="I", district="110105", dispatch=False, phone=phone,
    )  # fmt: skip


@pytest.fixture
def units(outbox: Path) -> list[Case]:
    """Units 0-2 with their own phones, unit 3 without a phone, units 4 and 5 sharing a credit code with two
    phones, unit 6 sharing it with unit 4's phone."""
    cases = make_cases(7)
    snap = Snapshot.objects.create(content_hash="ef" * 32, source="test", extracted_on=date(2021, 6, 30))
    phones = ["13800000000", "13800000001", "13800000002", None, "13900000004", "13900000005", "13900000004"]
    for i, case in enumerate(cases):
        code = SHARED if i >= 4 else case.credit_code
        Case.objects.filter(pk=case.pk).update(credit_code=code)
        _unit(snap, i + 1, case.unit_id, code, phones[i])
    return list(Case.objects.order_by("pk"))


def ask(client: Client, code: str) -> str:
    response = client.post("/lookup/", {"credit_code": code})
    assert response.status_code == 200
    return response.content.decode()


def sign_in(client: Client, code: str, otp: str) -> int:
    return client.post("/lookup/", {"credit_code": code, "action": "code", "code": otp}).status_code


def scrub(body: str) -> str:
    return re.sub(r'value="[0-9A-Z]{18}"|name="csrfmiddlewaretoken" value="[^"]+"', "", body)


def test_a_unit_looks_itself_up_with_the_code_from_the_outbox(units: list[Case]) -> None:
    client = Client()
    body = ask(client, units[0].credit_code.lower())  # any case
    assert "验证码已发送" in body and "/callback/" in body and "呼我必回" in body
    [otp] = sent_codes(to="13800000000")
    message = Message.objects.get(kind="otp", to="13800000000")
    assert message.channel == "sms" and message.unit_id == units[0].unit_id
    assert sign_in(client, units[0].credit_code, otp) == 302
    page = client.get("/lookup/").content.decode()
    assert units[0].unit_name in page and units[1].unit_name not in page
    assert units[0].credit_code not in page  # masked
    assert Enquiry.objects.filter(channel="lookup", unit_id=units[0].unit_id).count() == 1
    api = client.get("/api/case").json()
    assert [c["unit_name"] for c in api["cases"]] == [units[0].unit_name]
    # a second sign-in the same day is the same enquiry
    client2 = Client()
    ask(client2, units[0].credit_code)
    Message.objects.filter(kind="otp").update(created_at=timezone.now() - timedelta(minutes=2))
    assert sign_in(client2, units[0].credit_code, sent_codes(to="13800000000")[-1]) in (302, 400)
    assert Enquiry.objects.filter(channel="lookup", unit_id=units[0].unit_id).count() == 1


def test_known_unknown_and_no_phone_answer_the_same_with_the_same_writes(units: list[Case]) -> None:
    answers = []
    for code in (units[1].credit_code, "91110105MA01NOBODY", units[3].credit_code):
        before = (LookupRequest.objects.count(), Job.objects.count(), Message.objects.count())
        answers.append(scrub(ask(Client(), code)))
        after = (LookupRequest.objects.count(), Job.objects.count(), Message.objects.count())
        assert (after[0] - before[0], after[1] - before[1], after[2] - before[2]) == (1, 1, 0)
    assert answers[0] == answers[1] == answers[2]
    assert len(sent_codes()) == 1  # only the known unit with a phone gets a code, after commit, by the job
    api = [Client().post("/api/lookup/code", {"credit_code": c}, content_type="application/json")
           for c in (units[1].credit_code, "91110105MA01NOBODY", units[3].credit_code)]  # fmt: skip
    assert {r.status_code for r in api} == {202} and len({r.content for r in api}) == 1


def test_a_shared_credit_code_sends_to_each_phone_and_a_session_sees_that_phones_units(
    units: list[Case],
) -> None:
    client = Client()
    ask(client, SHARED)
    sent_codes()
    codes = {c.phone: c for c in LookupCode.objects.all()}
    assert sorted(codes) == ["13900000004", "13900000005"]
    assert sorted(codes["13900000004"].unit_ids) == [units[4].unit_id, units[6].unit_id]
    otp = str(Message.objects.get(kind="otp", to="13900000005").params["code"])
    assert sign_in(client, SHARED, otp) == 302
    names = [c["unit_name"] for c in client.get("/api/case").json()["cases"]]
    assert names == [units[5].unit_name]


def test_wrong_expired_used_and_too_many_tries(units: list[Case]) -> None:
    client = Client()
    ask(client, units[2].credit_code)
    [otp] = sent_codes()
    wrong = "000000" if otp != "000000" else "111111"
    for _ in range(4):
        r = client.post("/lookup/", {"credit_code": units[2].credit_code, "action": "code", "code": wrong})
        assert r.status_code == 400 and "验证码不正确" in r.content.decode()
    r = client.post("/lookup/", {"credit_code": units[2].credit_code, "action": "code", "code": otp})
    assert "验证码不正确" not in r.content.decode() or r.status_code == 302
    assert r.status_code == 302  # the fifth try is still a try
    assert (
        "验证码已过期或已使用"
        in client.post(
            "/lookup/", {"credit_code": units[2].credit_code, "action": "code", "code": otp}
        ).content.decode()
    )  # used once
    unknown = Client().post(
        "/lookup/", {"credit_code": "91110105MA01NOBODY", "action": "code", "code": "123456"}
    )
    assert "验证码已过期或已使用" in unknown.content.decode()  # never asked: as for an old code
    ask(Client(), "91110105MA01NOBODY")
    for _ in range(5):
        r = Client().post(
            "/lookup/", {"credit_code": "91110105MA01NOBODY", "action": "code", "code": "123456"}
        )
    assert "尝试次数过多" in r.content.decode()
    LookupRequest.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    r = Client().post("/lookup/", {"credit_code": units[2].credit_code, "action": "code", "code": otp})
    assert "验证码已过期或已使用" in r.content.decode()


def test_the_phone_limits_are_notifys_and_the_answer_does_not_change(units: list[Case]) -> None:
    first = scrub(ask(Client(), units[0].credit_code))
    second = scrub(ask(Client(), units[0].credit_code))  # within the minute
    assert first == second and len(sent_codes()) == 1
    assert Message.objects.filter(kind="otp", state="suppressed").count() == 1


def test_the_session_ends_after_30_minutes_and_on_sign_out(units: list[Case]) -> None:
    client = Client()
    ask(client, units[1].credit_code)
    assert sign_in(client, units[1].credit_code, sent_codes()[-1]) == 302
    assert units[1].unit_name in client.get("/lookup/").content.decode()
    session = client.session
    data = session[lookup.SESSION_KEY]
    data["until"] = (timezone.now() - timedelta(seconds=1)).isoformat()
    session[lookup.SESSION_KEY] = data
    session.save()
    assert units[1].unit_name not in client.get("/lookup/").content.decode()
    assert client.get("/api/case").status_code == 401


@pytest.mark.parametrize("path", ["/lookup/", "/lookup/?lang=en", "/api/case", "/api/case?unit_id=U000001"])
def test_a_signed_in_unit_never_sees_another_units_case(units: list[Case], path: str) -> None:
    client = Client()
    ask(client, units[0].credit_code)
    assert sign_in(client, units[0].credit_code, sent_codes()[-1]) == 302
    response = client.get(path)
    body = response.content.decode()
    if path.startswith("/api/"):
        body = json.dumps(response.json(), ensure_ascii=False)
    assert units[0].unit_name in body
    for other in units[1:]:
        assert other.unit_name not in body and other.unit_id not in body
    anonymous = Client().get(path)
    assert units[0].unit_name not in anonymous.content.decode()


def test_bad_credit_codes_and_the_address_limit(units: list[Case], settings: object) -> None:
    r = Client().post("/lookup/", {"credit_code": "12345"})
    assert r.status_code == 400 and "18 位" in r.content.decode()
    assert (
        Client().post("/api/lookup/code", {"credit_code": "x"}, content_type="application/json").status_code
        == 422
    )
    settings.PORTAL_ADDRESS_MAX_REQUESTS = 2  # type: ignore[attr-defined]
    codes = [Client().post("/lookup/", {"credit_code": credit_code(90 + i)}).status_code for i in range(3)]
    assert codes == [200, 200, 429]


def test_a_paid_unit_sees_its_amount_the_last_4_digits_and_its_inbox(units: list[Case]) -> None:
    from mianshen.notify.services import message_queue

    from .conftest import paid

    case = paid(units[0])
    message_queue(kind="paid", channel="inbox", to=case.unit_id, key=f"paid:{case.pk}", unit_id=case.unit_id,
                  context={**benefit("beijing-2021"), "unit_name": case.unit_name, "amount": "1,000.00", "date": "2021-07-01", "last4": "3445"})  # fmt: skip
    client = Client()
    ask(client, case.credit_code)
    assert sign_in(client, case.credit_code, sent_codes()[-1]) == 302
    page = client.get("/lookup/").content.decode()
    assert "已到账" in page and "尾号 3445" in page and "6222020200112233445" not in page
    assert case.number in page and "1,000.00" in page and 'aria-current="step"' not in page
    [api] = client.get("/api/case").json()["cases"]
    assert api["payment_state"] == "paid" and api["account_last4"] == "3445" and len(api["inbox"]) == 1
    assert all(s["done"] for s in api["steps"])


def test_the_sweep_deletes_lookup_codes_after_30_days(units: list[Case]) -> None:
    from mianshen.portal.services import portal_sweep

    ask(Client(), units[0].credit_code)
    sent_codes()
    assert portal_sweep().codes == 0 and LookupCode.objects.count() == 1
    LookupRequest.objects.update(created_at=timezone.now() - timedelta(days=31))
    assert portal_sweep().codes == 1
    assert not LookupRequest.objects.exists() and not LookupCode.objects.exists()


def test_a_second_request_within_the_minute_leaves_the_first_code_working(units: list[Case]) -> None:
    client = Client()
    ask(client, units[1].credit_code)
    [first] = sent_codes()
    ask(client, units[1].credit_code)  # suppressed by notify's 1-a-minute limit: nothing sent
    assert sent_codes() == [first] and LookupCode.objects.filter(sent=False).count() == 1
    assert sign_in(client, units[1].credit_code, first) == 302


def test_notify_outbox_lists_the_lookup_code_hidden(units: list[Case]) -> None:
    import io

    from django.core.management import call_command

    ask(Client(), units[2].credit_code)
    [otp] = sent_codes()
    out = io.StringIO()
    call_command("notify", "outbox", "--kind", "otp", "--json", stdout=out)
    [listed] = json.loads(out.getvalue())
    assert listed["to"] == "138****0002" and otp not in listed["body"] and "******" in listed["body"]
    assert listed["unit_id"] == units[2].unit_id and listed["state"] in ("queued", "sent", "delivered")


def test_a_case_is_read_with_its_payment_and_notice_in_one_query(
    listed: Listed, django_assert_max_num_queries: object
) -> None:
    """The lookup reads a case with its round, payment (and current instruction) and first notice together:
    the freshness row, the case, its inbox and its history are the queries (a decided case adds its decision's
    evidence); asked again with nothing changed, the view comes from the cache after the one freshness query."""
    case = paid(listed.cases[0])
    with django_assert_max_num_queries(4):  # type: ignore[operator]
        (view,) = lookup.lookup_cases((case.unit_id,), "zh-hans")
    assert (view.payment_state, view.account_last4) == ("paid", "3445")
    listed_step = next(s for s in view.steps if s.key == "listed")
    assert listed_step.at == listed.notice.starts_at and listed_step.done
    with django_assert_max_num_queries(1):  # type: ignore[operator]
        assert lookup.lookup_cases((case.unit_id,), "zh-hans") == [view]
    unlisted = make_cases(1, start=900)[0]
    with django_assert_max_num_queries(4):  # type: ignore[operator]
        (view,) = lookup.lookup_cases((unlisted.unit_id,), "zh-hans")
    assert view.payment_state == "" and not next(s for s in view.steps if s.key == "listed").done


def _fresh(unit_id: str, lang: str = "zh") -> list[lookup.CaseView]:
    case_ids = tuple(Case.objects.filter(unit_id=unit_id).order_by("-pk").values_list("pk", flat=True))
    return lookup.build_case_views(case_ids, lang)


def test_the_cached_view_follows_every_change_it_shows(listed: Listed) -> None:
    """Each kind of change a unit can see — a state move, a round, a message, the bank's answer, a re-issue to
    another account, a cancellation, another language — gives the view built from the database, never the
    cached one (the cache is keyed by those facts)."""
    from mianshen.cases.models import CaseHistory
    from mianshen.notify.models import Channel
    from mianshen.notify.services import message_queue
    from mianshen.payments.models import Instruction, Payment

    case = listed.cases[0]
    unit = (case.unit_id,)

    def same() -> None:
        for lang, short in (("zh-hans", "zh"), ("en", "en")):
            assert lookup.lookup_cases(unit, lang) == _fresh(case.unit_id, short), lang

    same()
    case = paid(case)  # history, state, payment and a settled instruction
    same()
    message_queue(kind="paid", channel=Channel.INBOX, to=case.unit_id, key="test-paid", unit_id=case.unit_id,
                  case_id=case.pk, context={**benefit("beijing-2021"), "unit_name": case.unit_name, "amount": "1.00", "date": "2026-12-01",
                           "last4": "3445"})  # fmt: skip
    same()
    payment = Payment.objects.get(case=case)
    first = Instruction.objects.get(payment=payment)
    Instruction.objects.filter(pk=first.pk).update(status="returned", return_reason="AC04")  # a return
    same()
    CaseHistory.objects.create(
        case=case, from_state="paid", to_state="awaiting_correction", actor="t", reason="t"
    )
    Case.objects.filter(pk=case.pk).update(state="awaiting_correction")
    same()
    second = Instruction.objects.create(
        payment=payment, case=case, attempt=2, end_to_end_id=f"E2F{case.pk:012d}", amount_fen=case.amount_fen,
        bank=first.bank, creditor_branch_code="102100000001", creditor_account="6222020200199990001",
        creditor_name=case.unit_name[:140], remittance="x", account_source="correction:1", status="frozen",
        created_by="test",
    )  # fmt: skip
    Payment.objects.filter(pk=payment.pk).update(current=second)
    same()
    assert lookup.lookup_cases(unit, "zh-hans")[0].account_last4 == "0001"
    Payment.objects.filter(pk=payment.pk).update(cancelled_at=timezone.now())
    same()
    assert lookup.lookup_cases(unit, "zh-hans")[0].payment_state == "cancelled"
    Case.objects.filter(pk=case.pk).update(unit_name="北京改名后的公司")  # a later drop renamed it
    same()
    assert lookup.lookup_cases(unit, "en")[0].unit_name == "北京改名后的公司"

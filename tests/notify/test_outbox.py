"""Queueing: messages at every step, in the cause's transaction, once per (to, event, channel); texts in both
languages; one-time codes under the phone's limits; quiet hours."""

from __future__ import annotations

import string
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import transaction

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.cases.models import Case
from mianshen.cases.services import notice_open, objection_decide, objection_record
from mianshen.cases.states import State
from mianshen.cases.transitions import Move, case_transition, case_transition_many
from mianshen.notify.kinds import CATALOGUE, Channel, Kind, benefit, render, templates
from mianshen.notify.models import Message
from mianshen.notify.receivers import kind_of_move
from mianshen.notify.services import (
    NewMessage,
    NotifyError,
    message_queue,
    messages_queue_many,
    not_before,
)

from .conftest import a_round, unit_case

pytestmark = pytest.mark.django_db
S = State


def test_every_kind_has_a_chinese_text_and_an_english_translation() -> None:
    assert set(CATALOGUE) == set(Kind)
    for kind in Kind:
        zh, en = templates(kind)
        assert zh != en, kind  # translated (locale/en)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh) and not any(
            "\u4e00" <= ch <= "\u9fff" for ch in en
        )
        # the same parameters in both, but for the benefit's words: a language may not need one (``{grant}``, the
        # Chinese verb 返还/发放, has no English counterpart)
        words = set(benefit("beijing-2021"))
        zh_fields = {f[1] for f in string.Formatter().parse(zh) if f[1]}
        en_fields = {f[1] for f in string.Formatter().parse(en) if f[1]}
        assert zh_fields - words == en_fields - words, kind
        assert en_fields <= zh_fields | words, kind


def test_listed_is_queued_for_every_unit_of_a_notice_in_its_transaction() -> None:
    rnd = a_round()
    with_phone = unit_case(rnd, 1, state=S.RECHECKED, amount=1_234_567_89)
    no_phone = unit_case(rnd, 2, state=S.RECHECKED, phone=None)
    bad_phone = unit_case(rnd, 3, state=S.RECHECKED, phone="010-1234")
    notice = notice_open(policy_id="beijing-2021", actor="officer", start=date(2021, 7, 1), days=7)
    msgs = list(Message.objects.filter(kind="listed").order_by("to", "channel"))
    assert {(m.channel, m.to) for m in msgs} == {
        ("inbox", with_phone.unit_id), ("sms", "13800138000"), ("inbox", no_phone.unit_id),
        ("inbox", bad_phone.unit_id),
    }  # fmt: skip
    sms = next(m for m in msgs if m.channel == "sms")
    assert sms.event == f"notice{notice.pk}:case{with_phone.pk}" and sms.case_id == with_phone.pk
    assert "1,234,567.89 元" in sms.body_zh and "2021-07-01 至 2021-07-07" in sms.body_zh
    assert "/objections/new/" in sms.body_zh and "1,234,567.89 yuan" in sms.body_en
    assert sms.state == "queued" and sms.unit_id == with_phone.unit_id
    assert AuditEvent.objects.filter(action=Action.NOTIFICATION_QUEUED, object_type="messages").exists()


def test_a_cause_rolled_back_leaves_no_message() -> None:
    rnd = a_round()
    case = unit_case(rnd, 1, state=S.PUBLICISED)
    with pytest.raises(RuntimeError), transaction.atomic():
        case_transition(case_id=case.pk, to=S.APPROVED, actor="a", reason="checkpoint")
        assert Message.objects.filter(kind="approved").count() == 2
        raise RuntimeError("the cause fails after the move")
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("frm", "to", "kind"),
    [
        (S.PUBLICISED, S.APPROVED, "approved"),
        (S.PUBLICISED, S.EXCLUDED, "dropped"),
        (S.APPROVED, S.EXCLUDED, "dropped"),
        (S.PUBLICISED, S.AWAITING_APPLICATION, "must_apply"),
        # awaiting_confirmation tells the firm's HOST employers, not the firm: tests/cases/test_hosts.py
        (S.OBJECTED, S.PUBLICISED, "objection_outcome"),
        (S.IDENTIFIED, S.RECHECKED, None),
        (S.RECHECKED, S.EXCLUDED, None),  # never listed: not "dropped"
    ],
)
def test_case_moves_tell_the_unit(frm: State, to: State, kind: str | None) -> None:
    assert kind_of_move(frm.value, to.value) == (
        None if kind is None else (Kind(kind), kind_of_move(frm, to)[1])
    )  # type: ignore[index]
    case = unit_case(a_round(), 1, state=frm)
    case_transition(case_id=case.pk, to=to, actor="a", reason="step", changes={"reason": "HEADCOUNT_DROP"})
    msgs = Message.objects.all()
    if kind is None:
        assert not msgs.exists()
        return
    assert {(m.kind, m.channel) for m in msgs} == {(kind, "sms"), (kind, "inbox")}
    body = msgs[0].body_zh
    assert case.unit_name in body
    if kind == "dropped":
        assert "HEADCOUNT_DROP" in body and "/callback/" in body


def test_the_bulk_path_of_case_moves_queues_the_same() -> None:
    rnd = a_round()
    cases = [unit_case(rnd, i, state=S.PUBLICISED, phone=f"1390000{i:04d}") for i in range(30)]
    case_transition_many(moves=[Move(c.pk, S.APPROVED, "checkpoint") for c in cases], actor="a")
    assert Message.objects.filter(kind="approved", channel="sms").count() == 30
    assert Message.objects.filter(kind="approved", channel="inbox").count() == 30
    # an amendment (same state, new amount) tells nobody
    case_transition_many(
        moves=[Move(c.pk, S.APPROVED, "x", changes={"amount_fen": 5}) for c in cases[:12]], actor="a"
    )
    assert Message.objects.count() == 60


def test_objection_outcome_is_told_in_both_languages() -> None:
    case = unit_case(a_round(), 1, state=S.RECHECKED)
    notice_open(policy_id="beijing-2021", actor="o", start=date.today() - timedelta(days=1), days=7)
    objection = objection_record(case_id=case.pk, raised_by="public", contact="x", grounds="y", actor="o")
    objection_decide(objection_id=objection.pk, outcome="upheld", reason="proved", actor="o")
    msg = Message.objects.get(kind="objection_outcome", channel="inbox")
    assert "异议成立，不予返还" in msg.body_zh and "the objection was upheld" in msg.body_en


def test_message_queue_is_once_per_to_key_channel_and_checks_its_input() -> None:
    first = message_queue(
        kind="otp", channel="sms", to="13800138000", key="otp:1", context={"code": "123456"}
    )
    again = message_queue(
        kind="otp", channel="sms", to="13800138000", key="otp:1", context={"code": "999999"}
    )
    assert again.pk == first.pk and Message.objects.count() == 1
    assert "123456" in first.body_zh and "123456" in first.body_en
    with pytest.raises(NotifyError, match="not a mobile phone number"):
        message_queue(kind="otp", channel="sms", to="12345", key="otp:2", context={"code": "1"})
    with pytest.raises(NotifyError, match="needs the parameter"):
        message_queue(kind="otp", channel="sms", to="13800138001", key="otp:3", context={})
    with pytest.raises(NotifyError):
        message_queue(kind="nope", channel="sms", to="13800138001", key="otp:4", context={})
    with pytest.raises(NotifyError, match="e-mail"):
        message_queue(kind="callback_received", channel="email", to="nobody", key="c", context={})
    with pytest.raises(NotifyError, match="one at a time"):
        messages_queue_many(messages=[NewMessage(Kind.OTP, Channel.SMS, "13800138000", "e", {"code": "1"})],
                            actor="a", reason="r")  # fmt: skip


def test_one_time_codes_obey_the_phone_limits() -> None:
    t0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    phone = "13912345678"

    def ask(i: int, at: datetime) -> str:
        return message_queue(kind="otp", channel="sms", to=phone, key=f"otp:{i}", context={"code": f"{i:06d}"},
                             now=at).state  # fmt: skip

    assert ask(1, t0) == "queued"
    assert ask(2, t0 + timedelta(seconds=30)) == "suppressed"  # 1 a minute
    states = [ask(10 + i, t0 + timedelta(minutes=2 + 2 * i)) for i in range(6)]
    assert states == ["queued"] * 4 + ["suppressed"] * 2  # 5 an hour
    later = [ask(100 + i, t0 + timedelta(hours=2, minutes=2 * i)) for i in range(7)]
    assert later == ["queued"] * 5 + ["suppressed"] * 2  # 10 a day: 5 + 5
    assert ask(200, t0 + timedelta(hours=5)) == "suppressed"
    assert ask(201, t0 + timedelta(days=1, minutes=1)) == "queued"
    suppressed = Message.objects.filter(state="suppressed")
    assert all(m.closed_at is not None and "limit" in m.last_error for m in suppressed)
    # another phone is not limited by this one
    assert message_queue(kind="otp", channel="sms", to="13700000000", key="o", context={"code": "1"},
                         now=t0 + timedelta(seconds=31)).state == "queued"  # fmt: skip


def test_quiet_hours_hold_sms_but_not_codes_or_the_inbox() -> None:
    night = datetime(2026, 3, 2, 22, 30, tzinfo=UTC)  # 06:30 Beijing time
    morning = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # 08:00 Beijing time
    assert not_before(Kind.LISTED, Channel.SMS, night) == morning.replace(day=3)
    assert not_before(Kind.LISTED, Channel.SMS, datetime(2026, 3, 2, 13, 30, tzinfo=UTC)) == morning.replace(
        day=3
    )
    assert not_before(Kind.LISTED, Channel.SMS, datetime(2026, 3, 2, 12, 59, tzinfo=UTC)).hour == 12
    assert not_before(Kind.OTP, Channel.SMS, night) == night
    assert not_before(Kind.LISTED, Channel.INBOX, night) == night


def test_bulk_queueing_skips_what_exists() -> None:
    rows = [NewMessage(Kind.APPROVED, Channel.INBOX, f"U{i}", f"e{i}", {**benefit("beijing-2021"), "unit_name": "甲", "amount": "1.00"})
            for i in range(40)]  # fmt: skip
    assert messages_queue_many(messages=rows[:25], actor="a", reason="r") == 25
    assert messages_queue_many(messages=rows, actor="a", reason="r") == 15
    assert Message.objects.count() == 40
    assert (
        render("approved", {**benefit("beijing-2021"), "unit_name": "甲", "amount": "1.00"}, "zh-hans")
        == Message.objects.first().body_zh
    )  # type: ignore[union-attr]


def test_the_straight_copy_writes_what_the_checked_insert_writes() -> None:
    """``fresh`` (COPY straight into the outbox on PostgreSQL) and the checked path (temporary table and ON
    CONFLICT; INSERT OR IGNORE on SQLite) write the same rows and audit the same counts."""
    rows = [NewMessage(Kind.APPROVED, channel, f"U{i}", f"case{i}:approved:v3", {**benefit("beijing-2021"), "unit_name": f"甲{i}", "amount": "1.00"},
                       unit_id=f"U{i}", case_id=i) for i in range(30) for channel in (Channel.INBOX, Channel.SMS)]  # fmt: skip
    skip = {"id", "created_at", "next_attempt_at"}

    def written() -> list[tuple[object, ...]]:
        names = [f.attname for f in Message._meta.concrete_fields if f.attname not in skip]
        return list(Message.objects.order_by("to", "channel").values_list(*names))

    assert messages_queue_many(messages=rows, actor="a", reason="r") == 60
    checked = written()
    Message.objects.all().delete()
    assert messages_queue_many(messages=rows, actor="a", reason="r", fresh=True) == 60
    assert written() == checked and len(checked) == 60
    queued = AuditEvent.objects.filter(action=Action.NOTIFICATION_QUEUED).order_by("seq")
    first, second = (e.after for e in queued)
    assert first == second


def test_case_moves_copy_straight_in_but_paid_and_openings_are_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mianshen.notify import receivers

    calls: list[bool] = []
    real = receivers.messages_queue_many

    def spy(**kwargs: object) -> int:
        calls.append(bool(kwargs.get("fresh")))
        return real(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(receivers, "messages_queue_many", spy)
    rnd = a_round()
    cases = [unit_case(rnd, i, state=S.PUBLICISED, phone=f"1390000{i:04d}") for i in range(12)]
    case_transition_many(moves=[Move(c.pk, S.APPROVED, "checkpoint") for c in cases], actor="a")
    assert calls == [True] and Message.objects.filter(kind="approved").count() == 24
    case = Case.objects.get(pk=cases[0].pk)
    assert receivers.case_moves(Case, moved=[(case, "")], actor="a") == 0  # an opening: checked, nothing new
    assert calls == [True, False]
    case.state = S.PAID
    receivers.case_moves(Case, moved=[(case, S.RELEASED.value)], actor="a")  # no instruction: nothing to say
    assert calls == [True, False, False]

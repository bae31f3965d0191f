"""呼我必回 (issue 12 item 4): request → acknowledged and routed → reminders at 50 % / 80 % → escalation at
100 % / 200 % (the sweep with a fake clock) → the officer's outcome → the rating (1–2 reopens); the state table
(hypothesis), every move audited; the command line."""

from __future__ import annotations

import io
import itertools
import json
from datetime import date, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from hypothesis import given, settings
from hypothesis import strategies as st

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.notify import callbacks as cbs
from mianshen.notify.callback_states import CALLBACK_TRANSITIONS, CallbackState, callback_can_move
from mianshen.notify.callbacks import (
    CallbackError,
    CallbackTransitionRefused,
    callback_check,
    callback_rate,
    callback_record_outcome,
    callback_request,
    callback_stats,
    callbacks_sweep,
    countdown,
    workdays_load,
)
from mianshen.notify.models import CallbackRequest, Enquiry, Message
from mianshen.notify.workingtime import BEIJING
from mianshen.payments.models import Holiday
from mianshen.staff.roles import Role, Staff

from .conftest import a_round, unit_case

pytestmark = pytest.mark.django_db
C = CallbackState
MONDAY_10 = datetime(2026, 12, 7, 10, 0, tzinfo=BEIJING)


def officer(name: str, role: str, district: str | None, phone: str = "", email: str = "") -> Staff:
    user = get_user_model().objects.create_user(name)
    return Staff.objects.create(user=user, role=role, district=district, phone=phone, email=email)


@pytest.fixture
def staff() -> None:
    officer("chaoyang", Role.DISTRICT_OFFICER, "110105", phone="13900000001", email="cy@example.cn")
    officer("haidian", Role.DISTRICT_OFFICER, "110108", phone="13900000002")
    officer("city", Role.CITY_ADMIN, None, email="city@example.cn")


def ask(district: str = "110105", credit_code: str = "", now: datetime = MONDAY_10) -> CallbackRequest:
    draft = callback_check(name="张三", phone="138 0013 8000", topic="何时到账", question="我单位的返还何时到账？",
                           credit_code=credit_code, district=district)  # fmt: skip
    return callback_request(draft, now=now)


def test_a_request_is_acknowledged_routed_and_counted(staff: None) -> None:
    cb = ask()
    assert cb.reference.startswith("C-") and len(cb.reference) == 12 and cb.state == C.ASSIGNED
    assert cb.district == "110105" and cb.phone == "13800138000"
    assert cb.due_at == datetime(2026, 12, 8, 10, 0, tzinfo=BEIJING)  # one working day
    assert cb.step_at == datetime(2026, 12, 7, 14, 0, tzinfo=BEIJING)  # 50 %
    ack = Message.objects.get(kind="callback_received")
    assert ack.to == "13800138000" and cb.reference in ack.body_zh and "2026-12-08 10:00" in ack.body_zh
    assert Enquiry.objects.get(key=f"callback:{cb.reference}").channel == "callback"
    actions = list(AuditEvent.objects.filter(object_type="callback").values_list("action", flat=True))
    assert actions == [int(Action.CALLBACK_REQUESTED), int(Action.CALLBACK_TRANSITION)]


def test_routing_unit_district_then_form_then_city(staff: None) -> None:
    case = unit_case(a_round(), 7)  # a unit of 110105 (朝阳)
    assert ask(district="110108", credit_code=case.credit_code).district == "110105"
    assert ask(district="110108").district == "110108"
    assert ask(district="").district == ""


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("name", {"name": " "}),
        ("phone", {"phone": "12345"}),
        ("topic", {"topic": ""}),
        ("question", {"question": "x" * 2001}),
        ("credit_code", {"credit_code": "123"}),
        ("district", {"district": "999999"}),
        ("question", {"question": "a\x00b"}),
        ("name", {"name": "\ud800"}),
    ],
)
def test_bad_answers_name_their_field(field: str, values: dict[str, str]) -> None:
    answers = {"name": "张三", "phone": "13800138000", "topic": "t", "question": "q"} | values
    with pytest.raises(CallbackError) as exc:
        callback_check(**answers)
    assert exc.value.field == field and str(exc.value)


def test_the_sweep_reminds_at_50_and_80_percent_and_escalates_at_100_and_200(staff: None) -> None:
    cb = ask()
    assert callbacks_sweep(now=MONDAY_10 + timedelta(hours=3, minutes=59)).reminded == 0
    first = callbacks_sweep(now=datetime(2026, 12, 7, 14, 0, tzinfo=BEIJING))  # 50 %: 4 working hours
    assert (first.reminded, first.escalated, first.messages) == (
        1,
        0,
        2,
    )  # the 朝阳 officer's phone and e-mail
    assert callbacks_sweep(now=datetime(2026, 12, 7, 14, 30, tzinfo=BEIJING)).reminded == 0  # once only
    reminders = Message.objects.filter(kind="callback_reminder").order_by("channel")
    assert [(m.channel, m.to) for m in reminders] == [("email", "cy@example.cn"), ("sms", "13900000001")]
    # 80 % = 6.4 h: Mon 16:24
    assert callbacks_sweep(now=datetime(2026, 12, 7, 16, 24, tzinfo=BEIJING)).reminded == 1
    # the evening and the night do not count: still not due at Tue 09:59
    assert callbacks_sweep(now=datetime(2026, 12, 8, 9, 59, tzinfo=BEIJING)).escalated == 0
    assert countdown(
        CallbackRequest.objects.get(pk=cb.pk), now=datetime(2026, 12, 8, 9, 59, tzinfo=BEIJING)
    ) == timedelta(minutes=1)
    breach = callbacks_sweep(now=datetime(2026, 12, 8, 10, 0, tzinfo=BEIJING))
    assert breach.escalated == 1
    escalated = Message.objects.filter(kind="callback_escalated")
    assert {m.to for m in escalated} == {"city@example.cn", "13900000001", "cy@example.cn"}
    assert "市级" in escalated.first().body_zh  # type: ignore[union-attr]
    cb.refresh_from_db()
    assert cb.escalated_at is not None and cb.step == 3
    assert cb in cbs.callbacks_all(overdue=True, now=datetime(2026, 12, 8, 10, 1, tzinfo=BEIJING))
    # twice the time: Wed 10:00
    assert callbacks_sweep(now=datetime(2026, 12, 9, 10, 0, tzinfo=BEIJING)).escalated == 1
    cb.refresh_from_db()
    assert cb.step == 4 and cb.step_at is None
    assert callbacks_sweep(now=datetime(2026, 12, 30, tzinfo=BEIJING)).messages == 0
    codes = AuditEvent.objects.filter(object_id=cb.reference).values_list("action", flat=True)
    assert list(codes).count(int(Action.CALLBACK_REMINDED)) == 2
    assert list(codes).count(int(Action.CALLBACK_ESCALATED)) == 2


def test_a_clock_that_jumps_gets_every_step_once(staff: None) -> None:
    ask()
    done = callbacks_sweep(now=datetime(2026, 12, 20, tzinfo=BEIJING))
    assert (done.reminded, done.escalated) == (2, 2)
    assert callbacks_sweep(now=datetime(2026, 12, 21, tzinfo=BEIJING)).messages == 0


def test_the_calendar_holidays_and_make_up_days_move_the_deadline(staff: None) -> None:
    Holiday.objects.create(day=date(2026, 12, 8), name="test holiday")
    assert workdays_load(days=[date(2026, 12, 12)], name="调休") == 1  # a Saturday worked
    assert workdays_load(days=[date(2026, 12, 12)]) == 0
    friday = datetime(2026, 12, 11, 12, 0, tzinfo=BEIJING)
    assert ask(now=friday).due_at == datetime(2026, 12, 12, 12, 0, tzinfo=BEIJING)
    assert ask(now=MONDAY_10).due_at == datetime(2026, 12, 9, 10, 0, tzinfo=BEIJING)  # Tue off


def test_calls_ratings_and_reopening(staff: None) -> None:
    cb = ask()
    later = MONDAY_10 + timedelta(hours=2)
    with pytest.raises(CallbackError):
        callback_rate(pk=cb.pk, rating=5)  # not called yet
    with pytest.raises(CallbackError):
        callback_record_outcome(pk=cb.pk, outcome="answered", note=" ", actor="chaoyang")
    with pytest.raises(CallbackError):
        callback_record_outcome(pk=cb.pk, outcome="closed", note="x", actor="chaoyang")
    cb = callback_record_outcome(
        pk=cb.pk, outcome="answered", note="已解释到账时间", actor="chaoyang", now=later
    )
    assert (cb.state, cb.outcome, cb.called_by, cb.step_at) == (C.ANSWERED, "answered", "chaoyang", None)
    with pytest.raises(CallbackTransitionRefused):
        callback_record_outcome(pk=cb.pk, outcome="answered", note="again", actor="chaoyang")
    with pytest.raises(CallbackError):
        callback_rate(pk=cb.pk, rating=6)
    cb = callback_rate(pk=cb.pk, rating=2, now=later + timedelta(hours=1))  # 差评: reopened
    assert (cb.state, cb.reopened, cb.called_at) == (C.ASSIGNED, 1, None)
    assert cb.due_at == datetime(2026, 12, 8, 13, 0, tzinfo=BEIJING)
    # the second round reminds again (its own keys)
    assert callbacks_sweep(now=datetime(2026, 12, 7, 17, 0, tzinfo=BEIJING)).reminded == 1
    cb = callback_record_outcome(pk=cb.pk, outcome="unreachable", note="无人接听", actor="chaoyang",
                                 now=datetime(2026, 12, 8, 9, 30, tzinfo=BEIJING))  # fmt: skip
    cb = callback_rate(pk=cb.pk, rating=4)
    assert cb.state == C.CLOSED and cb.closed_at is not None and cb.rating == 4
    with pytest.raises(CallbackError):
        callback_rate(pk=cb.pk, rating=1)  # closed: no more ratings
    [stats] = callback_stats()
    assert (stats.district, stats.requests, stats.called, stats.on_time) == ("110105", 1, 1, 1)
    assert (stats.resolution_rate, stats.satisfaction, stats.response_rate) == (0.0, 4.0, 1.0)
    events = AuditEvent.objects.filter(object_id=cb.reference)
    assert events.filter(action=int(Action.CALLBACK_CLOSED)).count() == 1
    assert events.filter(action=int(Action.CALLBACK_RATED)).count() == 2


def test_stats_per_district(staff: None) -> None:
    a, b, c = ask(), ask(), ask(district="110108")
    callback_record_outcome(
        pk=a.pk, outcome="answered", note="ok", actor="x", now=MONDAY_10 + timedelta(hours=1)
    )
    callback_record_outcome(
        pk=b.pk, outcome="answered", note="ok", actor="x", now=MONDAY_10 + timedelta(days=3)
    )
    callback_rate(pk=a.pk, rating=5)
    stats = {s.district: s for s in callback_stats()}
    cy, hd = stats["110105"], stats["110108"]
    assert (cy.response_rate, cy.resolution_rate, cy.on_time_share, cy.satisfaction) == (1.0, 1.0, 0.5, 5.0)
    assert (hd.requests, hd.response_rate, hd.on_time_share, hd.satisfaction) == (1, 0.0, None, None)
    assert c.state == C.ASSIGNED


# ---- the state table -----------------------------------------------------------------------------------------


def test_the_state_table_reaches_closed_from_new_and_closed_is_final() -> None:
    seen, todo = {C.NEW}, [C.NEW]
    while todo:
        for nxt in CALLBACK_TRANSITIONS[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert seen == set(C) and CALLBACK_TRANSITIONS[C.CLOSED] == frozenset()


actions = st.lists(
    st.one_of(
        st.tuples(st.just("outcome"), st.sampled_from(["answered", "unreachable"])),
        st.tuples(st.just("rate"), st.integers(min_value=0, max_value=6)),
        st.tuples(st.just("sweep"), st.integers(min_value=0, max_value=60)),
    ),
    max_size=8,
)


@settings(max_examples=25, deadline=None)
@given(actions)
def test_any_sequence_of_actions_keeps_to_the_state_table(steps: list[tuple[str, object]]) -> None:
    """Whatever the officer, the requester and the clock do, every recorded move is one the table allows, each
    with its audit event, and a refused action writes nothing."""
    cb = ask(district="110108")
    now = MONDAY_10
    for what, arg in steps:
        before = CallbackRequest.objects.get(pk=cb.pk)
        n_events = AuditEvent.objects.count()
        try:
            if what == "outcome":
                callback_record_outcome(pk=cb.pk, outcome=str(arg), note="n", actor="o", now=now)
            elif what == "rate":
                callback_rate(pk=cb.pk, rating=int(arg), now=now)  # type: ignore[call-overload]
            else:
                now += timedelta(hours=int(arg))  # type: ignore[call-overload]
                callbacks_sweep(now=now)
        except CallbackError:
            after = CallbackRequest.objects.get(pk=cb.pk)
            assert after.state == before.state and AuditEvent.objects.count() == n_events
            continue
        after = CallbackRequest.objects.get(pk=cb.pk)
        if after.state != before.state:
            path = [C(before.state)]
            if what == "outcome":
                path.append(C.CALLED)
            path.append(C(after.state))
            assert all(callback_can_move(x, y) for x, y in itertools.pairwise(path))
        assert (after.rating is None) or 1 <= after.rating <= 5
    moves = AuditEvent.objects.filter(object_id=cb.reference, action__in=[int(Action.CALLBACK_TRANSITION),
                                                                        int(Action.CALLBACK_CLOSED)])  # fmt: skip
    for event in moves:
        assert callback_can_move(C(event.before["state"]), C(event.after["state"]))
    CallbackRequest.objects.filter(pk=cb.pk).delete()


# ---- the command line ----------------------------------------------------------------------------------------


def test_callback_list_and_overdue(staff: None) -> None:
    old = ask(now=datetime(2026, 1, 5, 10, 0, tzinfo=BEIJING))
    ask(now=datetime(2099, 1, 5, 10, 0, tzinfo=BEIJING))
    out = io.StringIO()
    call_command("callback", "list", "--json", stdout=out)
    rows = json.loads(out.getvalue())
    assert len(rows) == 2 and {r["district"] for r in rows} == {"110105"}
    assert rows[0]["reference"] == old.reference and rows[0]["phone"] == "138****8000"
    out = io.StringIO()
    call_command("callback", "list", "--overdue", stdout=out)
    text = out.getvalue()
    assert old.reference in text and "2099" not in text and "13800138000" not in text


def test_callback_command_bad_input_is_one_line() -> None:
    with pytest.raises(CommandError):
        call_command("callback", "frobnicate")

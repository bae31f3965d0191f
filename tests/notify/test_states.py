"""Message states: the table, the one function that writes them (an AST scan), and random walks of a message
through sends, failures, receipts and the 72-hour close against the database (hypothesis state machine)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.notify.kinds import benefit
from mianshen.notify.models import Message
from mianshen.notify.services import (
    Accepted,
    MessageTransitionRefused,
    Sender,
    SendFailed,
    SendRefused,
    SendTimeout,
    deliver_due,
    message_queue,
    message_transition,
    messages_close_stale,
    receipt_apply,
)
from mianshen.notify.states import FINAL, TRANSITIONS, MessageState, can_move
from tests.cases.field_writes import writes

M = MessageState


def test_the_table() -> None:
    assert set(TRANSITIONS) == set(MessageState)
    assert {s.value for s in MessageState} == {
        "queued",
        "sent",
        "delivered",
        "failed",
        "suppressed",
    }  # contracts §4
    for final in FINAL:
        assert TRANSITIONS[final] == frozenset()
    assert not can_move(M.SENT, M.QUEUED) and not can_move(M.SENT, M.SUPPRESSED)
    assert not can_move(M.SENT, M.DELIVERED, closed=True)


def test_no_code_outside_the_transition_functions_writes_a_state() -> None:
    found = writes(app_models="mianshen.notify.models", models={"Message"}, fields={"state"},
                   tables={"notify_message"})  # fmt: skip
    assert {w.module for w in found} == {"mianshen.notify.services"}, [str(w) for w in found]
    lines = {w.line for w in found}
    source = Path(__file__).resolve().parents[2] / "src/mianshen/notify/services.py"
    text = source.read_text(encoding="utf-8").splitlines()
    ranges = []  # the one transition function, and its bulk form (the same checks and events, many messages)
    for name in ("message_transition", "message_transition_many"):
        start = next(i for i, line in enumerate(text, 1) if line.startswith(f"def {name}("))
        end = next(i for i, line in enumerate(text, 1) if i > start and line.startswith("def "))
        ranges.append((start, end))
    assert all(any(start < line < end for start, end in ranges) for line in lines), sorted(lines)
    assert all(any(start < line < end for line in lines) for start, end in ranges)  # both really write it


class ScriptedSender(Sender):
    """A provider whose next answers are drawn by the test: ok, 500, timeout (maybe after taking it), refused."""

    name = "scripted"

    def __init__(self) -> None:
        self.next = "ok"
        self.taken: dict[int, list[str]] = {}
        self.ids = 0

    def _take(self, msg: Message) -> str:
        # unique across the examples too (they share one database): a provider never reuses its ids, and a
        # receipt for "P1" of an earlier example must not land on this one (the test failed now and then)
        self.ids += 1
        provider_id = f"P{msg.pk}-{self.ids}"
        self.taken.setdefault(msg.pk, []).append(provider_id)
        return provider_id

    def send(self, msg: Message) -> Accepted:
        step = self.next
        if step == "500":
            raise SendFailed("HTTP 500")
        if step == "refused":
            raise SendRefused("bad number")
        if step == "timeout_taken":
            self._take(msg)
            raise SendTimeout("no answer")
        if step == "timeout":
            raise SendTimeout("no answer")
        return Accepted(self._take(msg))

    def lookup(self, msg: Message) -> Accepted | None:
        ids = self.taken.get(msg.pk)
        return Accepted(ids[0]) if ids else None


class MessageMachine(RuleBasedStateMachine):
    """Random steps against one message: its state only follows the table, a final state never changes, the
    provider never gets it twice, and every change is an audit event."""

    @initialize()
    def queue(self) -> None:
        self.n = getattr(type(self), "_n", 0) + 1
        type(self)._n = self.n
        self.sender = ScriptedSender()
        self.msg = message_queue(kind="approved", channel="sms", to="13800138000", key=f"m{self.n}",
                                 context={**benefit("beijing-2021"), "unit_name": "甲", "amount": "1.00"})  # fmt: skip
        self.now = timezone.now() + timedelta(days=1)  # past any quiet hours of today
        self.now = self.now.replace(hour=4)  # 12:00 Beijing time
        self.history = [M.QUEUED]
        self.closed = False
        self.events = self._events()

    def _events(self) -> int:
        return AuditEvent.objects.filter(
            action__in=[Action.NOTIFICATION_TRANSITION, Action.NOTIFICATION_QUEUED],
            object_id=str(self.msg.pk),
        ).count()

    def _state(self) -> Message:
        return Message.objects.get(pk=self.msg.pk)

    @rule(answer=st.sampled_from(["ok", "500", "timeout", "timeout_taken", "refused"]),
          wait=st.sampled_from([0, 1, 10, 200]))  # fmt: skip
    def deliver(self, answer: str, wait: int) -> None:
        self.now += timedelta(minutes=wait)
        self.sender.next = answer
        before = self._state()
        deliver_due(senders={"sms": self.sender, "email": self.sender, "inbox": self.sender}, now=self.now)
        after = self._state()
        if before.state != M.QUEUED or before.next_attempt_at > self.now:
            assert (after.state, after.attempts) == (before.state, before.attempts)

    @rule(delivered=st.booleans(), by_ours=st.booleans())
    def receipt(self, delivered: bool, by_ours: bool) -> None:
        msg = self._state()
        provider = msg.provider_id or "unknown"
        result = receipt_apply(
            provider_id=provider, delivered=delivered, message_id=msg.pk if by_ours else None
        )
        after = self._state()
        if result == "applied":
            assert msg.state in (M.QUEUED, M.SENT) and not msg.closed_at
            assert after.state == (M.DELIVERED if delivered else M.FAILED)
        else:
            assert (after.state, after.closed_at) == (msg.state, msg.closed_at)

    @rule(hours=st.sampled_from([1, 71, 73]))
    def close_stale(self, hours: int) -> None:
        msg = self._state()
        messages_close_stale(now=timezone.now() + timedelta(hours=hours))
        after = self._state()
        if msg.state == M.SENT and not msg.closed_at and hours > 72:
            assert after.closed_at is not None and after.state == M.SENT

    @rule(to=st.sampled_from(list(MessageState)))
    def move(self, to: MessageState) -> None:
        msg = self._state()
        allowed = can_move(M(msg.state), to, closed=msg.closed_at is not None)
        try:
            message_transition(message_id=msg.pk, to=to, actor="test", reason="random")
        except MessageTransitionRefused:
            assert not allowed
            assert self._state().state == msg.state
        else:
            assert allowed
            assert self._events() == self.events + 1  # the move is an audit event
            self.events += 1

    @invariant()
    def follows_the_table(self) -> None:
        msg = self._state()
        state = M(msg.state)
        if state != self.history[-1]:
            assert can_move(self.history[-1], state), (self.history, state)
            assert self.history[-1] not in FINAL
            self.history.append(state)
        if state in FINAL:
            assert msg.closed_at is not None
        assert len(self.sender.taken.get(msg.pk, [])) <= 1, "the provider got it twice"
        events = self._events()
        assert events >= self.events  # never fewer: audit is append-only, and a change is an event
        self.events = events


@pytest.mark.django_db
def test_random_walks_of_a_message_follow_the_table() -> None:
    run_state_machine_as_test(
        MessageMachine,
        settings=settings(max_examples=30, stateful_step_count=15, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow]),
    )  # fmt: skip


@pytest.mark.django_db
def test_the_bulk_transition_checks_each_move_like_the_one_message_function() -> None:
    from mianshen.notify.services import MessageMove, message_transition_many

    a, b = [message_queue(kind="otp", channel="sms", to=f"1380013800{i}", key=f"k{i}",
                                     context={"code": "123456"}) for i in range(2)]  # fmt: skip
    message_transition(message_id=b.pk, to=M.DELIVERED, actor="t", reason="r")  # final: closed
    moves = [MessageMove(a.pk, M.SENT, "ok", {"provider_id": "p1"}), MessageMove(b.pk, M.SENT, "late", {})]
    with pytest.raises(MessageTransitionRefused, match="delivered → sent"):
        message_transition_many(moves=moves, actor="t")
    assert Message.objects.get(pk=a.pk).state == "queued"  # strict: nothing written
    written = message_transition_many(moves=moves, actor="t", strict=False)
    assert [m.pk for m in written] == [a.pk]
    a.refresh_from_db()
    assert (a.state, a.provider_id, a.sent_at is not None, a.closed_at) == ("sent", "p1", True, None)
    event = AuditEvent.objects.filter(action=Action.NOTIFICATION_TRANSITION, object_id=str(a.pk)).get()
    assert (event.before["state"], event.after["state"], event.reason) == ("queued", "sent", "ok")

"""A failed message put back in the queue by a person (``message_retry``, the back office's outbox page): the
one move out of a final state, audited; the next attempt asks the provider first, so a dead letter whose last
send was in fact taken is recorded, not sent twice; a retried message goes out again when the provider did not
have it; nothing but ``failed`` can be retried."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.notify.kinds import benefit
from mianshen.notify.models import Message
from mianshen.notify.senders import FileSender, InboxSender, SmsGatewaySender
from mianshen.notify.services import (
    MAX_ATTEMPTS,
    MessageTransitionRefused,
    deliver_due,
    message_queue,
    message_retry,
    receipt_apply,
)
from mianshen.notify.states import FINAL, RETRY, TRANSITIONS, MessageState, can_move

from .fake_gateway import ACCESS_KEY, SECRET, GatewayState, fake_gateway

M = MessageState


@pytest.fixture
def gateway() -> Iterator[tuple[SmsGatewaySender, GatewayState]]:
    with fake_gateway() as (url, state):
        state.slow = 0.6
        yield (
            SmsGatewaySender(url, access_key=ACCESS_KEY, secret=SECRET, sign_name="稳岗返还", timeout=0.3),
            state,
        )


def dead_letter(sms: SmsGatewaySender, state: GatewayState, tmp_path: Path, last: str) -> Message:
    msg = message_queue(kind="approved", channel="sms", to="13800138000", key="case1:approved:v1",
                        context={**benefit("beijing-2021"), "unit_name": "甲公司", "amount": "1.00"})  # fmt: skip
    state.script = ["500"] * (MAX_ATTEMPTS - 1) + [last]
    senders = {"sms": sms, "email": FileSender(tmp_path), "inbox": InboxSender()}
    when = timezone.now() + timedelta(hours=1)  # outside quiet hours or not: far enough to be due
    for _ in range(MAX_ATTEMPTS):
        deliver_due(senders=senders, now=when)
        msg.refresh_from_db()
        when = max(when, msg.next_attempt_at) + timedelta(seconds=1)
        if msg.state == M.FAILED:
            break
    return msg


def _quiet_free(monkeypatch: pytest.MonkeyPatch) -> None:
    from mianshen.notify import services

    monkeypatch.setattr(services, "not_before", lambda kind, channel, at: at)


@pytest.mark.django_db
def test_a_dead_letter_whose_last_send_was_taken_is_found_not_sent_twice(
    gateway: tuple[SmsGatewaySender, GatewayState], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _quiet_free(monkeypatch)
    sms, state = gateway
    state.receipt_mode = "never"  # (a receipt would settle it first: the lookup is what is under test)
    msg = dead_letter(sms, state, tmp_path, "accept_timeout")  # the 6th send was taken, its answer lost
    assert (msg.state, msg.attempts, msg.closed_at is not None) == ("failed", MAX_ATTEMPTS, True)
    assert state.sent_count(f"m{msg.pk}") == 1
    retried = message_retry(message_id=msg.pk, actor="officer-a", reason="网关已恢复")
    assert (retried.state, retried.attempts, retried.closed_at, retried.provider_id) == (
        "queued",
        1,
        None,
        "",
    )
    event = AuditEvent.objects.filter(action=Action.NOTIFICATION_TRANSITION, object_id=str(msg.pk)).order_by(
        "-seq"
    )[0]
    assert (event.actor, event.before["state"], event.after["state"]) == ("officer-a", "failed", "queued")
    assert event.reason == "retried by staff: 网关已恢复"
    done = deliver_due(senders={"sms": sms, "email": FileSender(tmp_path), "inbox": InboxSender()},
                       now=timezone.now() + timedelta(hours=2))  # fmt: skip
    msg.refresh_from_db()
    assert (done.found, msg.state, msg.attempts) == (1, "sent", 2)
    assert state.sent_count(f"m{msg.pk}") == 1  # never sent twice


@pytest.mark.django_db
def test_a_retried_dead_letter_goes_out_when_the_provider_never_had_it(
    gateway: tuple[SmsGatewaySender, GatewayState], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _quiet_free(monkeypatch)
    sms, state = gateway
    msg = dead_letter(sms, state, tmp_path, "500")
    assert msg.state == "failed" and state.sent_count(f"m{msg.pk}") == 0
    message_retry(message_id=msg.pk, actor="officer-a")
    deliver_due(senders={"sms": sms, "email": FileSender(tmp_path), "inbox": InboxSender()},
                now=timezone.now() + timedelta(hours=2))  # fmt: skip
    msg.refresh_from_db()
    # sent once, and its receipt (pulled in the same pass) closed it; a late duplicate changes nothing
    assert (msg.state, state.sent_count(f"m{msg.pk}")) == ("delivered", 1)
    assert receipt_apply(provider_id=state.sent[0]["BizId"], delivered=False) == "ignored"


@pytest.mark.django_db
@pytest.mark.parametrize("state", [M.QUEUED, M.SENT, M.DELIVERED, M.SUPPRESSED])
def test_only_a_failed_message_can_be_retried(state: MessageState) -> None:
    msg = message_queue(kind="approved", channel="inbox", to="U1", key=f"k-{state}",
                        context={**benefit("beijing-2021"), "unit_name": "甲公司", "amount": "1.00"})  # fmt: skip
    Message.objects.filter(pk=msg.pk).update(state=state.value)  # the state under test, set directly
    before = AuditEvent.objects.count()
    with pytest.raises(MessageTransitionRefused):
        message_retry(message_id=msg.pk, actor="officer-a")
    assert AuditEvent.objects.count() == before
    assert Message.objects.get(pk=msg.pk).state == state.value


@given(st.sampled_from(list(MessageState)), st.sampled_from(list(MessageState)))
def test_retry_is_the_only_way_out_of_a_final_state(current: MessageState, target: MessageState) -> None:
    if current in FINAL:
        assert not can_move(current, target)  # delivery and receipts never leave a final state
        assert ((current, target) in RETRY) == (current == M.FAILED and target == M.QUEUED)
    else:
        assert (current, target) not in RETRY
        assert can_move(current, target) == (target in TRANSITIONS[current])

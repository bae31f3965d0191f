"""Delivery after commit: the file sender, the SMS gateway (a real HTTP server on loopback) and SMTP (aiosmtpd on
loopback); retries with backoff, a dead letter, a provider that times out, answers 500 or twice; receipts twice,
late, out of order or never (final after 72 hours); never sent twice after a lost answer."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.db import transaction
from django.utils import timezone

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.notify import services
from mianshen.notify.kinds import benefit
from mianshen.notify.models import Message
from mianshen.notify.senders import FileSender, InboxSender, SmsGatewaySender, SmtpSender
from mianshen.notify.services import (
    MAX_ATTEMPTS,
    Sender,
    deliver_due,
    message_queue,
    messages_close_stale,
    receipt_apply,
)

from .fake_gateway import ACCESS_KEY, SECRET, GatewayState, fake_gateway

pytestmark = pytest.mark.django_db


def otp(i: int = 1, phone: str = "13800138000") -> Message:
    return message_queue(kind="otp", channel="sms", to=phone, key=f"otp:{i}", context={"code": f"{i:06d}"})


def later(minutes: float) -> Any:
    return timezone.now() + timedelta(minutes=minutes)


@pytest.fixture
def gateway() -> Iterator[tuple[SmsGatewaySender, GatewayState]]:
    with fake_gateway() as (url, state):
        state.slow = 0.6
        yield (
            SmsGatewaySender(url, access_key=ACCESS_KEY, secret=SECRET, sign_name="稳岗返还", timeout=0.3),
            state,
        )


def senders(sms: Sender, tmp_path: Path) -> dict[str, Sender]:
    return {"sms": sms, "email": FileSender(tmp_path / "out"), "inbox": InboxSender()}


def test_the_file_sender_writes_a_readable_file_and_delivers(tmp_path: Path, settings: Any) -> None:
    msg = otp()
    inbox = message_queue(
        kind="approved",
        channel="inbox",
        to="U1",
        key="k",
        context={**benefit("beijing-2021"), "unit_name": "甲公司", "amount": "1.00"},
    )
    done = deliver_due(now=later(0.01))
    assert done.delivered == 2
    text = (Path(settings.NOTIFY_OUTBOX_DIR) / "sms" / f"{msg.pk}.txt").read_text(encoding="utf-8")
    assert "138****8000" in text and "000001" in text and "验证码" in text and "Your code" in text
    msg.refresh_from_db()
    inbox.refresh_from_db()
    assert (msg.state, msg.attempts, msg.closed_at is not None) == ("delivered", 1, True)
    assert inbox.state == "delivered"
    events = AuditEvent.objects.filter(action=Action.NOTIFICATION_TRANSITION, object_id=str(msg.pk))
    assert [(e.before["state"], e.after["state"]) for e in events.order_by("seq")] == [
        ("queued", "queued"), ("queued", "delivered")]  # fmt: skip


def test_gateway_send_and_receipt(gateway: tuple[SmsGatewaySender, GatewayState], tmp_path: Path) -> None:
    sms, state = gateway
    msg = otp()
    done = deliver_due(senders=senders(sms, tmp_path), now=later(0.01))
    msg.refresh_from_db()
    assert (done.sent, done.receipts) == (1, 1)
    sent = state.sent[0]
    assert (sent["PhoneNumbers"], sent["SignName"], sent["TemplateCode"], sent["OutId"]) == (
        "13800138000", "稳岗返还", "SMS_MS_OTP", f"m{msg.pk}")  # fmt: skip
    assert '"code": "000001"' in sent["TemplateParam"]
    assert msg.state == "delivered" and msg.provider_id == sent["BizId"] and msg.sent_at is not None
    assert state.bad_signatures == 0


def test_a_500_is_retried_with_backoff_then_a_dead_letter(
    gateway: tuple[SmsGatewaySender, GatewayState], tmp_path: Path
) -> None:
    sms, state = gateway
    msg = otp()
    state.script = ["500"] * MAX_ATTEMPTS
    when = timezone.now()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert deliver_due(senders=senders(sms, tmp_path), now=when).deferred == 0
        msg.refresh_from_db()
        assert msg.attempts == attempt and "HTTP 500" in msg.last_error
        if attempt < MAX_ATTEMPTS:
            assert msg.state == "queued" and msg.next_attempt_at == when + services.backoff(attempt)
            assert (
                deliver_due(
                    senders=senders(sms, tmp_path), now=msg.next_attempt_at - timedelta(seconds=1)
                ).sent
                == 0
            )
            when = msg.next_attempt_at
    assert msg.state == "failed" and msg.closed_at is not None  # the dead letter
    assert state.sent == [] and len(state.script) == 0


def test_a_timeout_is_looked_up_before_sending_again(
    gateway: tuple[SmsGatewaySender, GatewayState], tmp_path: Path
) -> None:
    sms, state = gateway
    msg = otp()
    state.receipt_mode = "never"  # (a receipt would tell us first: see the next test)
    state.script = ["accept_timeout"]  # the gateway took it, but its answer never came
    deliver_due(senders=senders(sms, tmp_path), now=later(0.01))
    msg.refresh_from_db()
    assert msg.state == "queued" and "SendTimeout" in msg.last_error and len(state.sent) == 1
    done = deliver_due(senders=senders(sms, tmp_path), now=later(2))
    msg.refresh_from_db()
    assert done.found == 1 and msg.state == "sent" and msg.provider_id == state.sent[0]["BizId"]
    assert state.sent_count(f"m{msg.pk}") == 1  # not sent twice


def test_a_receipt_overtaking_a_lost_answer_settles_the_message(
    gateway: tuple[SmsGatewaySender, GatewayState], tmp_path: Path
) -> None:
    sms, state = gateway
    msg = otp()
    state.script = ["accept_timeout"]
    done = deliver_due(senders=senders(sms, tmp_path), now=later(0.01))
    msg.refresh_from_db()
    assert done.receipts == 1 and msg.state == "delivered" and msg.provider_id == state.sent[0]["BizId"]
    assert deliver_due(senders=senders(sms, tmp_path), now=later(10)).sent == 0
    assert state.sent_count(f"m{msg.pk}") == 1


def test_a_timeout_that_took_nothing_is_sent_on_the_next_attempt(
    gateway: tuple[SmsGatewaySender, GatewayState], tmp_path: Path
) -> None:
    sms, state = gateway
    msg = otp()
    state.script = ["timeout"]
    deliver_due(senders=senders(sms, tmp_path), now=later(0.01))
    deliver_due(senders=senders(sms, tmp_path), now=later(2))
    msg.refresh_from_db()
    assert msg.state == "delivered" and msg.attempts == 2 and state.sent_count(f"m{msg.pk}") == 1


def test_a_refusal_fails_at_once(gateway: tuple[SmsGatewaySender, GatewayState], tmp_path: Path) -> None:
    sms, state = gateway
    msg = otp()
    state.script = ["refuse"]
    deliver_due(senders=senders(sms, tmp_path), now=later(0.01))
    msg.refresh_from_db()
    assert msg.state == "failed" and msg.attempts == 1 and "MOBILE_NUMBER_ILLEGAL" in msg.last_error


def test_receipts_twice_late_out_of_order_or_never(
    gateway: tuple[SmsGatewaySender, GatewayState], tmp_path: Path
) -> None:
    sms, state = gateway
    state.receipt_mode = "twice"
    state.fail_phones = {"13800000002"}
    a, b = otp(1, "13800000001"), otp(2, "13800000002")
    done = deliver_due(senders=senders(sms, tmp_path), now=later(0.01))
    assert (done.sent, done.receipts) == (2, 2)  # each receipt came twice: applied once
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.state, b.state) == ("delivered", "failed") and "MK:0001" in b.last_error
    # out of order / late: a contradicting receipt after the final one changes nothing
    assert receipt_apply(provider_id=a.provider_id, delivered=False, error="late") == "ignored"
    assert receipt_apply(provider_id="BIZ-unknown", delivered=True) == "unknown"
    a.refresh_from_db()
    assert a.state == "delivered" and a.last_error == ""
    # never: a sent message without a receipt is final after 72 hours
    state.receipt_mode = "never"
    c = otp(3, "13800000003")
    deliver_due(senders=senders(sms, tmp_path), now=later(0.01))
    c.refresh_from_db()
    assert c.state == "sent" and c.closed_at is None
    assert messages_close_stale(now=timezone.now() + timedelta(hours=71)) == 0
    assert messages_close_stale(now=timezone.now() + timedelta(hours=73)) == 1
    c.refresh_from_db()
    assert c.state == "sent" and c.closed_at is not None
    assert receipt_apply(provider_id=c.provider_id, delivered=True) == "ignored"


def test_a_receipt_before_our_record_of_the_send(tmp_path: Path) -> None:
    msg = otp()
    assert receipt_apply(provider_id="BIZX", delivered=True) == "unknown"
    assert receipt_apply(provider_id="BIZX", delivered=True, message_id=msg.pk) == "applied"
    msg.refresh_from_db()
    assert msg.state == "delivered" and msg.provider_id == "BIZX"
    assert deliver_due(senders=senders(InboxSender(), tmp_path), now=later(0.01)).delivered == 0


class _Sink:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.startswith("refused@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted"


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, _Sink]]:
    sink = _Sink()
    with socket.socket() as probe:  # a free loopback port (the controller checks it can connect to it)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, sink
    finally:
        controller.stop()


def test_smtp_sender_against_a_real_server(smtp_server: tuple[int, _Sink], tmp_path: Path) -> None:
    port, sink = smtp_server
    smtp = SmtpSender("127.0.0.1", port, sender="noreply@mianshen.test", timeout=5)
    ok = message_queue(kind="callback_received", channel="email", to="someone@example.com", key="C-1",
                       context={"ref": "C-0123456789", "due": "2026-03-03 17:00"})  # fmt: skip
    bad = message_queue(kind="callback_received", channel="email", to="refused@example.com", key="C-2",
                        context={"ref": "C-0123456780", "due": "2026-03-03 17:00"})  # fmt: skip
    sms = FileSender(tmp_path / "o")
    deliver_due(senders={"sms": sms, "email": smtp, "inbox": InboxSender()}, now=later(0.01))
    ok.refresh_from_db()
    bad.refresh_from_db()
    assert ok.state == "sent" and ok.provider_id == f"<mianshen-{ok.pk}@mianshen.test>"
    assert bad.state == "failed" and "refused" in bad.last_error
    [mail] = sink.messages
    assert mail["To"] == "someone@example.com" and mail["Message-ID"] == ok.provider_id
    text = mail.get_payload(decode=True).decode("utf-8")
    assert "C-0123456789" in text and "呼我必回" in text and "call-back" in text


def test_an_unreachable_smtp_server_is_retried(tmp_path: Path) -> None:
    smtp = SmtpSender("127.0.0.1", 9, timeout=1)  # nothing listens on the discard port
    msg = message_queue(kind="callback_received", channel="email", to="a@example.com", key="C",
                        context={"ref": "C-1", "due": "x"})  # fmt: skip
    deliver_due(senders={"sms": InboxSender(), "email": smtp, "inbox": InboxSender()}, now=later(0.01))
    msg.refresh_from_db()
    assert msg.state == "queued" and msg.attempts == 1 and msg.last_error.startswith("SendFailed")


class _Scripted(Sender):
    """A provider whose answer depends on the message's address: ``…1`` refused, ``…2`` fails (5xx), ``…3``
    accepts without delivering (a receipt comes later), ``…4`` already has it (found by the lookup of a retry),
    anything else delivered at once."""

    name = "scripted"

    def send(self, msg: Message) -> services.Accepted:
        tail = msg.to[-1]
        if tail == "1":
            raise services.SendRefused("bad number")
        if tail == "2":
            raise services.SendFailed("HTTP 500")
        return services.Accepted(provider_id=f"p{msg.to}", delivered=tail != "3")

    def lookup(self, msg: Message) -> services.Accepted | None:
        return services.Accepted(provider_id=f"p{msg.to}", delivered=True) if msg.to.endswith("4") else None


def _outbox_after(deliver: Any, now: Any, kinds: list[str] | None) -> tuple[Any, dict[str, Any]]:
    """Deliver with ``deliver``, then what each message (by address and channel) looks like and its audit events
    (state before/after and reason): read, then rolled back."""
    picture: dict[str, Any] = {}

    class Undo(Exception):
        pass

    with pytest.raises(Undo), transaction.atomic():
        sender = _Scripted()
        result = deliver(
            senders={"sms": sender, "email": sender, "inbox": sender}, now=now, kinds=kinds, limit=50
        )
        for m in Message.objects.order_by("to", "channel"):
            events = AuditEvent.objects.filter(action=Action.NOTIFICATION_TRANSITION, object_id=str(m.pk))
            picture[f"{m.to}/{m.channel}"] = (
                m.state, m.attempts, m.provider_id, m.last_error, m.closed_at is not None, m.sent_at is not None,
                m.next_attempt_at - now, [(e.before, e.after, e.reason) for e in events.order_by("seq")],
            )  # fmt: skip
        counts = (result.sent, result.delivered, result.retried, result.failed, result.deferred, result.found)
        raise Undo
    return counts, picture


@pytest.mark.parametrize("hour", [10, 23])  # Beijing time: 23:00 is in the SMS quiet hours
@pytest.mark.parametrize("kinds", [None, ["payment_failed"]])
def test_batch_delivery_does_what_one_at_a_time_does(hour: int, kinds: list[str] | None) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    now = datetime(2026, 12, 8, hour, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    for i in range(10):
        for channel, to in (("sms", f"1380013{i:04d}"), ("inbox", f"U{i}")):
            kind = "payment_failed" if i % 2 else "approved"
            context = {**benefit("beijing-2021"), "unit_name": "甲", "amount": "1.00", "what": "x", "why": "y", "next_step": "z",
                       "reason_code": "AC01"}  # fmt: skip
            message_queue(kind=kind, channel=channel, to=to, key=f"k{i}", context=context)
    retry = Message.objects.get(to="13800130004")  # an earlier attempt whose answer was lost: looked up first
    Message.objects.filter(pk=retry.pk).update(attempts=1)
    dead = Message.objects.get(to="U2")  # its last attempt fails: a dead letter
    Message.objects.filter(pk=dead.pk).update(attempts=MAX_ATTEMPTS - 1)
    Message.objects.update(next_attempt_at=now - timedelta(minutes=1))
    one = _outbox_after(deliver_due, now, kinds)
    batch = _outbox_after(services.deliver_batch, now, kinds)
    assert batch == one
    assert one[0][1] > 0 and any(p[0] == "failed" for p in one[1].values())

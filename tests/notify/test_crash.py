"""Crash test of delivery (issue 12, reliability): the sender is killed at every step — after its attempt was
committed and before anything was sent (``claimed``), after the provider took the message and before its state
was written (``accepted``), after the state was written (``recorded``) — across 200 seeded runs against the fake
SMS gateway (a real HTTP server on loopback), with the gateway also answering 500, timing out before or after
taking a message, and sending receipts once, twice or never. Then the worker starts again: no message is sent
twice, none is lost, and every one ends final (``delivered``, or ``sent`` closed after 72 hours without a receipt).

The kill is in process: a ``BaseException`` raised at the point (no ``except Exception`` catches it, and an open
transaction rolls back, as the database does for a killed client). One run with a real process killed by
``os._exit`` at ``accepted`` checks that the in-process kill is not kinder than the real one."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from mianshen.notify import services
from mianshen.notify.senders import FileSender, InboxSender, SmsGatewaySender
from mianshen.notify.services import deliver_due, message_queue, messages_close_stale

from .fake_gateway import ACCESS_KEY, SECRET, GatewayState, fake_gateway

POINTS = ("claimed", "accepted", "recorded")
RUNS = 200


class Killed(BaseException):
    pass


@pytest.fixture
def gateway() -> Iterator[tuple[str, GatewayState]]:
    with fake_gateway() as (url, state):
        state.slow = 0.6
        yield url, state


def _reset(state: GatewayState) -> None:
    with state.lock:
        state.script.clear()
        state.sent.clear()
        state.pending.clear()
        state.fail_phones.clear()


def one_run(seed: int, url: str, state: GatewayState, tmp_path: Path) -> None:
    rng = random.Random(seed)
    _reset(state)
    state.receipt_mode = rng.choice(["once", "twice", "never"])
    state.script.extend(
        rng.choice(["ok", "ok", "500", "timeout", "accept_timeout"]) for _ in range(rng.randint(0, 3))
    )
    sms = SmsGatewaySender(url, access_key=ACCESS_KEY, secret=SECRET, sign_name="稳岗返还", timeout=0.3)
    senders = {"sms": sms, "email": FileSender(tmp_path), "inbox": InboxSender()}
    msgs = [
        message_queue(
            kind="otp",
            channel="sms",
            to=f"1390{seed:03d}{i:04d}",
            key=f"crash:{seed}:{i}",
            context={"code": f"{seed % 1000:03d}{i:03d}"},
        )
        for i in range(rng.randint(1, 4))
    ]
    point, nth = rng.choice(POINTS), rng.randint(1, len(msgs))
    seen = {"n": 0}

    def hook(name: str) -> None:
        if name == point:
            seen["n"] += 1
            if seen["n"] == nth:
                raise Killed(f"killed at {name}")

    now = timezone.now()
    services.CRASH_HOOK = hook
    try:
        deliver_due(senders=senders, now=now)
    except Killed:
        pass
    finally:
        services.CRASH_HOOK = None
    # the worker again, as time passes (backoffs), until nothing is left to do
    for step in range(1, 12):
        deliver_due(senders=senders, now=now + timedelta(minutes=6 * step * step))
    messages_close_stale(now=timezone.now() + timedelta(hours=73))
    for msg in msgs:
        msg.refresh_from_db()
        out_id = f"m{msg.pk}"
        assert state.sent_count(out_id) == 1, (seed, point, msg.pk, state.sent_count(out_id), msg.state)
        assert msg.state in ("delivered", "sent") and msg.closed_at is not None, (seed, point, msg.state)
        assert msg.provider_id == next(m["BizId"] for m in state.sent if m["OutId"] == out_id)


@pytest.mark.django_db(transaction=True)
def test_killed_at_every_step_never_twice_never_lost(
    gateway: tuple[str, GatewayState], tmp_path: Path
) -> None:
    url, state = gateway
    for seed in range(RUNS):
        one_run(seed, url, state, tmp_path)
    assert state.bad_signatures == 0


CHILD = """
import os, sys
import django
os.environ["DJANGO_SETTINGS_MODULE"] = "mianshen.settings"
django.setup()
from mianshen.notify import services
from mianshen.notify.senders import InboxSender, SmsGatewaySender
def hook(name):
    if name == "accepted":
        os._exit(86)
services.CRASH_HOOK = hook
sms = SmsGatewaySender(sys.argv[1], access_key=sys.argv[2], secret=sys.argv[3], sign_name="x", timeout=2)
services.deliver_due(senders={"sms": sms, "email": sms, "inbox": InboxSender()})
"""


@pytest.mark.django_db(transaction=True)
def test_a_real_process_killed_after_the_provider_took_it(
    gateway: tuple[str, GatewayState], tmp_path: Path
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the child process needs the test database by URL: PostgreSQL")
    url, state = gateway
    _reset(state)
    state.receipt_mode = "never"
    msg = message_queue(
        kind="otp", channel="sms", to="13900000001", key="real-kill", context={"code": "111111"}
    )
    s = connection.settings_dict
    db_url = f"postgresql://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    src = Path(__file__).resolve().parents[2] / "src"
    env = os.environ | {"MIANSHEN_DATABASE_URL": db_url, "PYTHONPATH": str(src)}
    child = subprocess.run([sys.executable, "-c", CHILD, url, ACCESS_KEY, SECRET], env=env, timeout=120,
                           capture_output=True, text=True)  # fmt: skip
    assert child.returncode == 86, child.stderr[-2000:]
    msg.refresh_from_db()
    assert msg.state == "queued" and msg.attempts == 1 and len(state.sent) == 1  # taken, not recorded
    sms = SmsGatewaySender(url, access_key=ACCESS_KEY, secret=SECRET, sign_name="x", timeout=2)
    done = deliver_due(
        senders={"sms": sms, "email": sms, "inbox": InboxSender()}, now=timezone.now() + timedelta(minutes=2)
    )
    msg.refresh_from_db()
    assert done.found == 1 and msg.state == "sent" and state.sent_count(f"m{msg.pk}") == 1

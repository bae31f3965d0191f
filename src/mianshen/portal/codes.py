"""One-time codes: how they are made, kept (a hash only) and sent.

Sending goes through a small interface (``CodeSender``) named by ``settings.PORTAL_CODE_SENDER``. The default,
``OutboxSender``, queues an ``otp`` SMS in the notify outbox (contracts §4: a row per message, delivered by the
worker). The per-phone limits (1 a minute, 5 an hour, 10 a day) live in one place, notify's ``message_queue``:
beyond them the message is written ``suppressed`` and nothing goes out; the sender says whether it will."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from mianshen.notify.kinds import Channel, Kind
from mianshen.notify.services import message_queue
from mianshen.notify.states import MessageState

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class CodeSender(Protocol):
    def send(self, *, phone: str, code: str, key: str, purpose: str, unit_id: str | None = None) -> bool:
        """Send ``code`` to ``phone`` once per ``key``; True if it goes out, False if a limit held it back."""
        ...


class OutboxSender:
    """An ``otp`` SMS in the notify outbox, in the caller's transaction (the worker delivers it after commit)."""

    def send(self, *, phone: str, code: str, key: str, purpose: str, unit_id: str | None = None) -> bool:
        msg = message_queue(
            kind=Kind.OTP,
            channel=Channel.SMS,
            to=phone,
            key=f"portal:{purpose}:{key}",
            context={"code": code},
            unit_id=unit_id,
            actor="portal",
        )
        return msg.state != MessageState.SUPPRESSED


def code_sender() -> CodeSender:
    sender: CodeSender = import_string(settings.PORTAL_CODE_SENDER)()
    return sender


def new_code() -> str:
    """Six random digits (``secrets``)."""
    return f"{secrets.randbelow(1_000_000):06d}"


def code_hash(reference: str, code: str) -> str:
    """HMAC-SHA-256 of the code, keyed by the site's secret and bound to the reference."""
    key = settings.SECRET_KEY.encode("utf-8")
    return hmac.new(key, f"{reference}:{code}".encode(), hashlib.sha256).hexdigest()


def new_reference(kind: str) -> str:
    """``kind`` + ``-`` + 10 Crockford base32 characters from ``secrets`` (50 random bits), contracts §4."""
    return f"{kind}-" + "".join(secrets.choice(CROCKFORD) for _ in range(10))


def normalise_reference(text: str) -> str:
    """A reference as typed (any case, spaces, Crockford's look-alikes I/L → 1, O → 0 after the hyphen) in its
    canonical form; the empty string if it cannot be one."""
    raw = "".join(str(text).split()).upper()
    if len(raw) != 12 or raw[1] != "-" or raw[0] not in "OAC":
        return ""
    body = raw[2:].translate(str.maketrans("ILO", "110"))
    if any(c not in CROCKFORD for c in body):
        return ""
    return raw[:2] + body

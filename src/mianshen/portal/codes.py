"""One-time codes: how they are made, kept (a hash only) and sent.

Sending goes through a small interface (``CodeSender``) named by ``settings.PORTAL_CODE_SENDER``. Until the
notify outbox (contracts §4: a row per message, delivered by the worker) is on main, the default sender writes
one file per message under ``var/outbox/sms/`` as the demo's senders do; wiring the outbox later is one class."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class CodeSender(Protocol):
    def send(self, *, phone: str, text: str, purpose: str) -> None: ...


class FileOutboxSender:
    """One file per message: ``var/outbox/sms/portal-<time>-<random>.txt`` with ``to:``, ``purpose:`` and the text."""

    def send(self, *, phone: str, text: str, purpose: str) -> None:
        folder = Path(settings.VAR_DIR) / "outbox" / "sms"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"portal-{timezone.now():%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}.txt"
        path = folder / name
        path.write_text(f"to: {phone}\npurpose: {purpose}\n\n{text}\n", encoding="utf-8")
        path.chmod(0o600)


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

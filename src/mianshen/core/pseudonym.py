"""Person pseudonyms: the only form in which a person's identity number enters a drop or the database.

``pseudonym(identity_number, key)`` is HMAC-SHA256 with the agency's key over the NFKC-normalised, upper-cased
identity number, in lower-case hex (64 digits; issue 15, docs/data-drop.md). NFKC makes full-width digits and
letters the plain ones, upper-casing makes the check character ``x`` the ``X`` of GB 11643, and surrounding
white space is dropped: the same person gets the same pseudonym whoever typed the number. Without the key a
pseudonym cannot be recomputed from a guessed number (identity numbers are few enough to try them all).

``configured_key()`` reads the key from the environment (``MIANSHEN_PSEUDONYM_KEY``); without it, a fixed key
that is for demonstrations and tests only (``DEMO_KEY``) — an agency sets its own and keeps it secret.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import unicodedata

ENV_KEY = "MIANSHEN_PSEUDONYM_KEY"
DEMO_KEY = b"mianshen-demo-only-pseudonym-key-not-for-production"


class PseudonymError(ValueError):
    """An identity number or key that cannot be used (one line)."""


def normalise(identity_number: str) -> str:
    """NFKC, upper case, no surrounding white space."""
    return unicodedata.normalize("NFKC", identity_number).strip().upper()


def pseudonym(identity_number: str, key: bytes) -> str:
    """HMAC-SHA256(key, NFKC(upper(identity_number))) as 64 lower-case hex digits."""
    if not key:
        raise PseudonymError("the pseudonym key is empty")
    text = normalise(identity_number)
    if not text:
        raise PseudonymError("the identity number is empty")
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def configured_key() -> bytes:
    """The key from ``MIANSHEN_PSEUDONYM_KEY`` (UTF-8), or the demonstration key when it is unset or empty."""
    value = os.environ.get(ENV_KEY, "")
    return value.encode("utf-8") if value else DEMO_KEY

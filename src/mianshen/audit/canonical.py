"""The canonical form of an audit event and its chain hash.

An event's ``hash`` is the lowercase hex SHA-256 of the UTF-8 bytes of one JSON object with exactly these
eleven keys (``HASHED_FIELDS``)::

    seq          integer, 1, 2, 3, ... (gap-free)
    at           string "YYYY-MM-DDTHH:MM:SS.ffffffZ": the timestamp in UTC, always six fraction digits
    actor        string (the actor's name as copied in at the time)
    actor_id     integer or null
    action       integer: the event-type code from ``catalogue.Action``
    object_type  string
    object_id    string
    before       any JSON value or null (see "values" below)
    after        any JSON value or null
    reason       string ("" when none)
    prev_hash    string: the ``hash`` of the event with seq - 1; for seq 1, 64 zeros (``GENESIS_HASH``)

serialised as Python's ``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
allow_nan=False)`` produces it, that is:

* object keys sorted by Unicode code point, at every depth; no whitespace anywhere;
* strings in double quotes, non-ASCII characters written as themselves (UTF-8), only ``"``, ``\\`` and the
  control characters U+0000..U+001F escaped (``\\b \\f \\n \\r \\t``, otherwise ``\\u00XX`` lowercase hex);
* integers in plain decimal, ``true``, ``false``, ``null``; no floating-point numbers (refused on write).

Values (``before`` and ``after``) are normalised *before* they are stored and hashed, so what the database
gives back hashes to the same bytes: ``Decimal`` becomes its string, ``date`` its ISO string, an aware
``datetime`` the ``at`` format above, tuples lists; dictionary keys must be strings; floats, NaN, NUL
characters and lone surrogates are refused (they do not survive every database round trip exactly).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

GENESIS_HASH = "0" * 64
HASHED_FIELDS = (
    "seq",
    "at",
    "actor",
    "actor_id",
    "action",
    "object_type",
    "object_id",
    "before",
    "after",
    "reason",
    "prev_hash",
)

_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _build_encoder() -> Callable[[Any], str]:
    """``_ENCODER.encode``, with CPython's C encoder built once instead of on every call (``verify`` encodes
    millions of events). Falls back to ``_ENCODER.encode`` where the accelerator is missing or differs."""
    try:
        from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]

        make = c_make_encoder(None, _ENCODER.default, encode_basestring, None, ":", ",", True, False, False)

        def encode(value: Any) -> str:
            return "".join(make(value, 0))

        probe = {"b": ["稳岗", 1, None, True, '\n"\x01'], "a": {"z": -(2**70), "y": ""}, "": []}
        if encode(probe) != _ENCODER.encode(probe):
            raise ValueError("the C encoder disagrees")
        return encode
    except (ImportError, TypeError, ValueError):
        return _ENCODER.encode


canonical_encoder = _build_encoder()
"""``canonical_encoder(value) -> str``: the canonical JSON text of a normalised value."""


class NotCanonical(ValueError):
    """A value that cannot be stored in an audit event exactly (float, non-string key, NUL, ...)."""


def canonical_timestamp(at: datetime) -> str:
    """``at`` in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``; a naive datetime is refused."""
    if at.tzinfo is None:
        raise NotCanonical(f"naive datetime {at!r}: audit timestamps must be timezone-aware")
    if at.utcoffset():
        at = at.astimezone(UTC)
    return at.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def canonical_json(value: Any) -> bytes:
    """The canonical bytes of an already normalised JSON value."""
    return canonical_encoder(value).encode("utf-8")


def event_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    actor_id: int | None,
    action: int,
    object_type: str,
    object_id: str,
    before: Any,
    after: Any,
    reason: str,
    prev_hash: str,
) -> str:
    """The chain hash of one event (see the module docstring for the exact bytes)."""
    payload = {
        "seq": seq,
        "at": canonical_timestamp(at),
        "actor": actor,
        "actor_id": actor_id,
        "action": int(action),
        "object_type": object_type,
        "object_id": object_id,
        "before": before,
        "after": after,
        "reason": reason,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_encoder(payload).encode("utf-8")).hexdigest()


def check_text(value: str, *, what: str) -> str:
    """``value`` if it can be stored and hashed exactly (no NUL, no lone surrogate)."""
    if "\x00" in value:
        raise NotCanonical(f"{what}: NUL characters cannot be stored")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise NotCanonical(f"{what}: not encodable as UTF-8 ({exc.reason})") from exc
    return value


def normalise(value: Any, *, what: str = "value") -> Any:
    """``value`` as the JSON the database will give back: see the module docstring for the rules."""
    if value is None or value is True or value is False:
        return value
    if isinstance(value, str):
        return check_text(str(value), what=what)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        raise NotCanonical(f"{what}: floats are not allowed (inexact); use an integer (fen) or a string")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise NotCanonical(f"{what}: {value} is not a finite number")
        return str(value)
    if isinstance(value, datetime):
        return canonical_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return normalise(value.value, what=what)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotCanonical(f"{what}: dictionary key {key!r} is not a string")
            out[check_text(key, what=what)] = normalise(item, what=f"{what}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [normalise(item, what=f"{what}[{i}]") for i, item in enumerate(value)]
    raise NotCanonical(f"{what}: {type(value).__name__} is not a JSON value")

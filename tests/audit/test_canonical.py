"""The canonical form: exact bytes, deterministic, Chinese text as UTF-8, unstorable values refused;
and the event-type catalogue."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from mianshen.audit.canonical import (
    GENESIS_HASH,
    NotCanonical,
    canonical_json,
    canonical_timestamp,
    event_hash,
    normalise,
)
from mianshen.audit.catalogue import Action
from mianshen.audit.verify import _json, _timestamp

AT = datetime(2021, 7, 1, 8, 0, 0, 5, tzinfo=UTC)
EVENT: dict[str, Any] = {
    "seq": 1,
    "at": AT,
    "actor": "张三",
    "actor_id": None,
    "action": 300,
    "object_type": "case",
    "object_id": "C-1",
    "before": {"state": "eligible"},
    "after": {"state": "approved", "金额": 123},
    "reason": "复核通过",
    "prev_hash": GENESIS_HASH,
}


def test_canonical_bytes_are_exactly_as_documented() -> None:
    expected = (
        '{"action":300,"actor":"张三","actor_id":null,"after":{"state":"approved","金额":123},'
        '"at":"2021-07-01T08:00:00.000005Z","before":{"state":"eligible"},"object_id":"C-1",'
        '"object_type":"case","prev_hash":"' + "0" * 64 + '","reason":"复核通过","seq":1}'
    ).encode()
    assert event_hash(**EVENT) == hashlib.sha256(expected).hexdigest()


def test_hash_is_deterministic_whatever_the_key_order() -> None:
    shuffled = dict(reversed(list(EVENT.items())))
    shuffled["after"] = {"金额": 123, "state": "approved"}
    assert event_hash(**shuffled) == event_hash(**EVENT)


def test_chinese_text_is_utf8_not_escaped() -> None:
    assert canonical_json({"b": "稳岗返还", "a": "免申即享"}) == '{"a":"免申即享","b":"稳岗返还"}'.encode()
    assert canonical_json(['\n\t"\\\x01']) == b'["\\n\\t\\"\\\\\\u0001"]'


def test_timestamps_are_utc_with_microseconds() -> None:
    beijing = timezone(timedelta(hours=8))
    assert canonical_timestamp(datetime(2021, 7, 1, 16, 0, tzinfo=beijing)) == "2021-07-01T08:00:00.000000Z"
    assert event_hash(**EVENT | {"at": AT.astimezone(beijing)}) == event_hash(**EVENT)
    with pytest.raises(NotCanonical, match="naive"):
        canonical_timestamp(datetime(2021, 7, 1))


def test_every_field_changes_the_hash() -> None:
    base = event_hash(**EVENT)
    changes = {
        "seq": 2,
        "at": AT + timedelta(microseconds=1),
        "actor": "李四",
        "actor_id": 7,
        "action": 301,
        "object_type": "unit",
        "object_id": "C-2",
        "before": None,
        "after": {"state": "approved", "金额": 124},
        "reason": "",
        "prev_hash": "f" * 64,
    }
    assert set(changes) == set(EVENT)
    for field, value in changes.items():
        assert event_hash(**EVENT | {field: value}) != base, field


def test_normalise_makes_values_database_exact() -> None:
    assert normalise(
        {"amount": Decimal("12.30"), "on": date(2021, 7, 1), "at": AT, "ids": (1, 2), "ok": True, "n": None}
    ) == {
        "amount": "12.30",
        "on": "2021-07-01",
        "at": "2021-07-01T08:00:00.000005Z",
        "ids": [1, 2],
        "ok": True,
        "n": None,
    }
    assert normalise(Action.ROUND_STARTED) == 200


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"x": 0.1}, "floats"),
        ({1: "a"}, "not a string"),
        ({"x": "a\x00b"}, "NUL"),
        ({"x": "\ud800"}, "UTF-8"),
        ({"x": Decimal("NaN")}, "finite"),
        ({"x": {1, 2}}, "not a JSON value"),
    ],
)
def test_normalise_refuses_what_would_not_round_trip(value: object, message: str) -> None:
    with pytest.raises(NotCanonical, match=message):
        normalise(value)


def test_catalogue_codes_and_names_are_unique_and_blocked_by_hundreds() -> None:
    names = [a.dotted for a in Action]
    assert len(set(names)) == len(names)
    assert (
        Action(300) is Action.CASE_TRANSITION
        and Action.by_dotted("audit.checkpoint") is Action.AUDIT_CHECKPOINT
    )
    for member in Action:
        assert 100 <= member.value <= 999 and member.description, member
    expected = {100: "snapshot.imported", 200: "round.started", 201: "round.completed", 300: "case.transition",
                310: "case.reviewed", 400: "notice.opened", 410: "objection.recorded", 411: "objection.decided",
                500: "payment.instruction_created", 510: "bank_file.frozen", 511: "bank_file.uploaded",
                520: "bank_status.applied", 530: "payment.held", 600: "account.correction_prepared",
                601: "account.correction_approved", 700: "staff.viewed_bank_data", 701: "staff.viewed_contact",
                900: "audit.checkpoint"}  # fmt: skip
    assert {code: Action(code).dotted for code in expected} == expected


@pytest.mark.parametrize(
    ("stored", "canonical"),
    [
        ("2021-07-01T08:00:00.000005Z", "2021-07-01T08:00:00.000005Z"),  # PostgreSQL's to_char
        ("2021-07-01 08:00:00.000005", "2021-07-01T08:00:00.000005Z"),  # SQLite, as Django writes it
        ("2021-07-01 08:00:00", "2021-07-01T08:00:00.000000Z"),
        ("2021-07-01 16:00:00.000005+08:00", "2021-07-01T08:00:00.000005Z"),  # any other spelling: parsed
        (datetime(2021, 7, 1, 8, 0, 0, 5), "2021-07-01T08:00:00.000005Z"),  # naive: UTC
        (datetime(2021, 7, 1, 8, 0, 0, 5, tzinfo=UTC), "2021-07-01T08:00:00.000005Z"),
    ],
)
def test_verify_reads_every_stored_timestamp_as_the_canonical_form(stored: object, canonical: str) -> None:
    assert _timestamp(stored) == canonical


def test_verify_reads_json_text_exactly() -> None:
    assert _json('{"a": [1, "稳"]}') == {"a": [1, "稳"]}
    assert _json(' {"a": 1} ') == {"a": 1}
    assert _json(None) is None and _json({"already": "parsed"}) == {"already": "parsed"}
    with pytest.raises(ValueError):
        _json('{"a": 1} trailing')

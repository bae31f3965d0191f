"""Audit services: append an event to the chain; write a checkpoint of the head outside the database.

``audit_record`` writes in the caller's transaction, so the event commits or rolls back with the change it
records (a failure inside it dooms the whole transaction: there is no savepoint to catch it at). Appends are
serialised: on PostgreSQL by a transaction-level advisory lock (``CHAIN_LOCK_KEY``), held until the caller's
transaction ends; on SQLite by the IMMEDIATE transaction itself (settings: ``transaction_mode``). The unique
``seq`` is the last line of defence: without the lock a racing writer fails, it never forks the chain.

Record the event late in the transaction, after the row locks the change needs, to keep the chain lock short
and to take locks in one order everywhere (rows, then the chain).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from mianshen.core.bulkdb import insert_rows

from .canonical import canonical_encoder, canonical_timestamp, check_text, event_hash, normalise
from .catalogue import Action
from .checkpoints import checkpoint_append, checkpoint_file
from .models import AuditEvent
from .selectors import audit_head

log = logging.getLogger(__name__)

# pg_advisory_xact_lock key of the chain: the ASCII bytes of "mianaudt" as a signed 64-bit integer.
CHAIN_LOCK_KEY = int.from_bytes(b"mianaudt", "big", signed=True)
DEFAULT_CHECKPOINT_EVERY = 10_000
ENV_CHECKPOINT_EVERY = "MIANSHEN_AUDIT_CHECKPOINT_EVERY"


def audit_record(
    *,
    actor: str,
    action: Action | int,
    obj_type: str,
    obj_id: str | int,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
    actor_id: int | None = None,
) -> AuditEvent:
    """Append one event to the chain, in the caller's transaction (or its own when there is none).

    ``before``/``after`` hold the old and new values under named keys; they are normalised as described in
    ``canonical.py`` (no floats: money is integer fen). Every ``checkpoint_every()``-th event schedules a
    checkpoint for after the commit.
    """
    fields = _fields(actor, actor_id, action, obj_type, obj_id, before, after, reason)
    with transaction.atomic(savepoint=False):
        _chain_lock(connections[DEFAULT_DB_ALIAS])
        head = audit_head()
        fields.update(seq=head.seq + 1, at=timezone.now(), prev_hash=head.hash)
        event = AuditEvent(**fields, hash=event_hash(**fields))
        event.save(force_insert=True)
        _schedule_checkpoint(
            head.seq, event.seq, only_checkpoints=fields["action"] == Action.AUDIT_CHECKPOINT
        )
    return event


def audit_record_many(*, actor: str, events: Iterable[Mapping[str, Any]], actor_id: int | None = None) -> int:
    """Append many events by one actor at once (a screening round opening 450,000 cases): one lock, one
    timestamp, one bulk insert (``COPY`` on PostgreSQL, ``executemany`` on SQLite), in the caller's transaction.
    Each event is a mapping with ``action``, ``obj_type``, ``obj_id`` and optionally ``before``, ``after``,
    ``reason``. Returns how many were appended."""
    prepared = _prepare(actor, actor_id, events)  # checked before anything is locked
    if not prepared:
        return 0
    with audit_appending(actor=actor, actor_id=actor_id) as append:
        return append.add_prepared(prepared)


class AuditAppend:
    """The events being appended inside ``audit_appending``: the chain is locked and its head read."""

    def __init__(
        self, actor: str, actor_id: int | None, seq: int, prev_hash: str, connection: BaseDatabaseWrapper
    ) -> None:
        self.actor, self.actor_id, self.connection = actor, actor_id, connection
        self.next_seq, self.prev_hash = seq + 1, prev_hash
        self.at = timezone.now()
        self.rows: list[tuple[Any, ...]] = []

    def add(self, events: Iterable[Mapping[str, Any]]) -> int:
        """Check, normalise and chain ``events`` (mappings as for ``audit_record_many``): pure Python, no query.
        They are inserted when the ``audit_appending`` block is left."""
        return self.add_prepared(_prepare(self.actor, self.actor_id, events))

    def add_prepared(self, prepared: list[dict[str, Any]]) -> int:
        rows = _chained_rows(prepared, self.next_seq, self.prev_hash, self.at, self.connection)
        if rows:
            self.rows.extend(rows)
            self.next_seq, self.prev_hash = rows[-1][0] + 1, rows[-1][-1]
        return len(rows)


@contextmanager
def audit_appending(*, actor: str, actor_id: int | None = None) -> Iterator[AuditAppend]:
    """Append events by one actor, in the caller's transaction, as ``audit_record_many`` does, for a caller that
    has database work to do meanwhile. Entering locks the chain and reads its head (so enter it after the row
    locks the change needs); the block hands its events to ``AuditAppend.add``, which checks and hashes them
    without a query - the cases app keeps PostgreSQL busy with its pipelined UPDATE while it does; leaving
    inserts them in one bulk insert (nothing is inserted if the block raises)."""
    connection = connections[DEFAULT_DB_ALIAS]
    with transaction.atomic(savepoint=False):
        _chain_lock(connection)
        head = audit_head()
        append = AuditAppend(actor, actor_id, head.seq, head.hash, connection)
        yield append
        if append.rows:
            insert_rows(AuditEvent, _insert_columns(), append.rows)
            _schedule_checkpoint(head.seq, append.next_seq - 1)


def _prepare(actor: str, actor_id: int | None, events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``_fields`` of every event. What is the same for the whole batch (the actor) or repeats from event to
    event (action and object type) is checked once; an event whose other values are not plainly fine (not a
    ``str`` object id or reason, non-ASCII or NUL in them, an object id over the length limit) goes through
    ``_fields`` itself, which raises its own error in its own order."""
    prepared = []
    seen: dict[tuple[Any, Any], tuple[int, str]] = {}  # (action, obj_type) -> checked (code, obj_type)
    common: dict[str, Any] | None = None  # the checked actor and actor_id
    id_limit = dict(_max_lengths())["object_id"] or 2**63
    for event in events:
        if not _EVENT_KEYS.issuperset(event):
            raise TypeError(f"audit event: unknown key(s) {sorted(set(event) - _EVENT_KEYS)}")
        action, obj_type, obj_id = event["action"], event["obj_type"], event["obj_id"]
        before, after, reason = event.get("before"), event.get("after"), event.get("reason", "")
        try:
            checked = seen.get((action, obj_type))
        except TypeError:  # unhashable: let _fields say what is wrong with it
            checked = None
        if (
            checked is None
            or common is None
            or type(obj_id) is not str
            or len(obj_id) > id_limit
            or not _plain_text(obj_id)
            or type(reason) is not str
            or not _plain_text(reason)
        ):
            fields = _fields(actor, actor_id, action, obj_type, obj_id, before, after, reason)
            seen[(action, obj_type)] = (fields["action"], fields["object_type"])
            common = {"actor": fields["actor"], "actor_id": fields["actor_id"]}
            prepared.append(fields)
            continue
        prepared.append(
            {
                **common,
                "action": checked[0],
                "object_type": checked[1],
                "object_id": obj_id,
                "before": _normalise(before, what="before"),
                "after": _normalise(after, what="after"),
                "reason": reason,
            }
        )
    return prepared


def _plain_text(value: str) -> bool:
    """What ``check_text`` accepts, for the common case: ASCII without NUL (anything else: ask check_text)."""
    return value.isascii() and "\x00" not in value


def _chained_rows(
    prepared: list[dict[str, Any]], seq: int, prev_hash: str, at: datetime, connection: BaseDatabaseWrapper
) -> list[tuple[Any, ...]]:
    """The rows (``_INSERT_FIELDS`` order) of ``prepared`` events appended after ``prev_hash`` from ``seq`` on.

    The hash is ``canonical.event_hash``'s, computed here without building the payload dictionary (most of the
    time of a 450,000-event batch): the canonical JSON of the payload, whose keys in code-point order are
    ``action actor actor_id after at before object_id object_type prev_hash reason seq``, is put together from
    the canonical JSON of each value (``canonical_encoder`` for ``before``/``after``, ``encode_basestring`` -
    the string encoder inside it - for strings, ``str`` for integers). The first event of every batch is also
    hashed by ``event_hash`` itself; a difference is a bug here, and nothing is written. The canonical text of
    ``before``/``after`` is also what PostgreSQL stores (jsonb parses JSON text); on SQLite the text is Django's
    own (``json.dumps``), so the stored rows are the ORM's byte for byte.
    """
    encode, sha256 = canonical_encoder, hashlib.sha256
    text_of = encode if connection.vendor == "postgresql" else json.dumps
    at_json = f'"{canonical_timestamp(at)}"'
    at_db = _copy_datetime(at, connection)
    rows: list[tuple[Any, ...]] = []
    for fields in prepared:
        actor, actor_id, action = fields["actor"], fields["actor_id"], fields["action"]
        obj_type, obj_id, reason = fields["object_type"], fields["object_id"], fields["reason"]
        before, after = fields["before"], fields["after"]
        before_json = "null" if before is None else encode(before)
        after_json = "null" if after is None else encode(after)
        canonical = (
            f'{{"action":{action},"actor":{_json_str(actor)},"actor_id":{"null" if actor_id is None else actor_id},'
            f'"after":{after_json},"at":{at_json},"before":{before_json},"object_id":{_json_str(obj_id)},'
            f'"object_type":{_json_str(obj_type)},"prev_hash":{_json_str(prev_hash)},'
            f'"reason":{_json_str(reason)},"seq":{seq}}}'
        )
        digest = sha256(canonical.encode("utf-8")).hexdigest()
        if not rows and digest != event_hash(**fields, seq=seq, at=at, prev_hash=prev_hash):
            raise RuntimeError("audit: the batch hash differs from canonical.event_hash")
        # stored: SQL NULL for None (as the ORM writes it), else the JSON text
        stored_before = None if before is None else before_json if text_of is encode else text_of(before)
        stored_after = None if after is None else after_json if text_of is encode else text_of(after)
        rows.append(
            (seq, at_db, actor, actor_id, action, obj_type, obj_id, stored_before, stored_after, reason,
             prev_hash, digest)
        )  # fmt: skip
        prev_hash, seq = digest, seq + 1
    return rows


def _copy_datetime(value: datetime, connection: BaseDatabaseWrapper) -> Any:
    """A timestamp as a bulk row carries it: ISO text for PostgreSQL's COPY (it parses the offset; cheaper than
    the driver formatting the same datetime on every row), Django's stored form on SQLite."""
    if connection.vendor == "postgresql":
        return value.isoformat()
    return AuditEvent._meta.get_field("at").get_db_prep_save(value, connection)


def audit_checkpoint(
    *, directory: Path | None = None, actor: str = "system:checkpoint", file: Path | None = None
) -> Path:
    """Append the committed chain head (seq, hash, at, count) to the checkpoint file (``file``, else
    ``checkpoint_file(directory)``) and record that as an ``audit.checkpoint`` event; returns the file. Runs in
    its own transaction (never inside another one, so that it only ever writes down events that are
    committed). ``CheckpointFileError`` (nothing recorded) when the file cannot be written."""
    path = file if file is not None else checkpoint_file(directory)
    connection = connections[DEFAULT_DB_ALIAS]
    with transaction.atomic(durable=True):
        _chain_lock(connection)
        head = audit_head()
        # The number of events is the head's seq: the chain is gap-free from 1 (audit_record gives seq + 1 under
        # the chain lock, the table refuses UPDATE/DELETE, verify requires seq 1, 2, 3, ...). Counting the table
        # instead was a full scan growing with the trail, after every ``checkpoint_every()`` events.
        count = head.seq
        checkpoint_append(
            path,
            {
                "seq": head.seq,
                "hash": head.hash,
                "at": canonical_timestamp(head.at) if head.at else None,
                "count": count,
                "written_at": canonical_timestamp(timezone.now()),
                "database": _database_label(connection),
            },
        )
        audit_record(
            actor=actor,
            action=Action.AUDIT_CHECKPOINT,
            obj_type="audit_chain",
            obj_id=str(head.seq),
            after={"seq": head.seq, "hash": head.hash, "count": count, "file": str(path)},
        )
    return path


def checkpoint_every() -> int:
    """Write a checkpoint after every N-th event: ``$MIANSHEN_AUDIT_CHECKPOINT_EVERY``, else the setting
    ``AUDIT_CHECKPOINT_EVERY``, else 10,000; 0 turns automatic checkpoints off."""
    configured = os.environ.get(ENV_CHECKPOINT_EVERY, "").strip()
    if configured:
        return max(int(configured), 0)
    return max(int(getattr(settings, "AUDIT_CHECKPOINT_EVERY", DEFAULT_CHECKPOINT_EVERY)), 0)


_EVENT_KEYS = frozenset({"action", "obj_type", "obj_id", "before", "after", "reason"})
# The columns ``audit_record_many`` inserts, in its rows' order (``id`` comes from the sequence).
_INSERT_FIELDS = ("seq", "at", "actor", "actor_id", "action", "object_type", "object_id", "before", "after",
                  "reason", "prev_hash", "hash")  # fmt: skip
_json_str: Callable[[str], str] = encode_basestring  # a str as JSON text, non-ASCII as itself (canonical)
_SCALARS = frozenset({int, bool, type(None)})


@cache
def _insert_columns() -> list[str]:
    columns = {f.name: f.column for f in AuditEvent._meta.concrete_fields}
    return [columns[name] for name in _INSERT_FIELDS]


@cache
def _max_lengths() -> tuple[tuple[str, int | None], ...]:
    return tuple(
        (name, getattr(AuditEvent._meta.get_field(name), "max_length", None))
        for name in ("actor", "object_type", "object_id")
    )


def _fields(
    actor: str,
    actor_id: int | None,
    action: Action | int,
    obj_type: str,
    obj_id: str | int,
    before: Any,
    after: Any,
    reason: str,
) -> dict[str, Any]:
    """The checked, normalised fields of one event (everything but seq, at and the hashes)."""
    code = Action(action)
    if not actor.strip():
        raise ValueError("an audit event needs an actor")
    for (name, limit), value in zip(_max_lengths(), (actor, obj_type, str(obj_id)), strict=True):
        if limit is not None and len(value) > limit:
            raise ValueError(f"audit {name} longer than {limit} characters: {value[:40]!r}...")
    return {
        "actor": check_text(actor, what="actor"),
        "actor_id": None if actor_id is None else int(actor_id),
        "action": int(code),
        "object_type": check_text(obj_type, what="object type"),
        "object_id": check_text(str(obj_id), what="object id"),
        "before": _normalise(before, what="before"),
        "after": _normalise(after, what="after"),
        "reason": check_text(reason, what="reason"),
    }


def _normalise(value: Any, *, what: str) -> Any:
    """``canonical.normalise(value)``, with a fast path for the usual flat dictionary of ASCII strings (no NUL),
    integers, booleans and None, which it returns unchanged (as a copy); anything else goes through
    ``normalise``, which also raises its own errors."""
    if type(value) is not dict:
        return normalise(value, what=what)
    for key, item in value.items():
        kind = type(item)
        if kind is str:
            if not item.isascii() or "\x00" in item:
                return normalise(value, what=what)
        elif kind not in _SCALARS:
            return normalise(value, what=what)
        if type(key) is not str or not key.isascii() or "\x00" in key:
            return normalise(value, what=what)
    return dict(value)


def _schedule_checkpoint(old_head: int, new_head: int, *, only_checkpoints: bool = False) -> None:
    """After the commit, write a checkpoint if the appended range crossed a multiple of ``checkpoint_every``
    (never for a checkpoint's own event)."""
    every = checkpoint_every()
    if every and not only_checkpoints and new_head // every > old_head // every:
        transaction.on_commit(_checkpoint_after_commit, robust=True)


def _checkpoint_after_commit() -> None:
    path = audit_checkpoint(actor="system:auto-checkpoint")
    log.info("audit checkpoint written to %s", path)


def _chain_lock(connection: BaseDatabaseWrapper) -> None:
    """Serialise appends to the chain until the end of the current transaction."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])
    elif connection.vendor != "sqlite":  # SQLite: BEGIN IMMEDIATE already holds the write lock
        raise NotImplementedError(f"audit trail: no chain lock for {connection.vendor}")


def _database_label(connection: BaseDatabaseWrapper) -> str:
    return f"{connection.vendor}:{connection.settings_dict.get('NAME', '')}"

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

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from .canonical import canonical_timestamp, check_text, event_hash, normalise
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


def audit_record_many(
    *, actor: str, events: Iterable[Mapping[str, Any]], actor_id: int | None = None, batch_size: int = 2_000
) -> int:
    """Append many events by one actor at once (a screening round opening 450,000 cases): one lock, one
    timestamp, bulk inserts, in the caller's transaction. Each event is a mapping with ``action``,
    ``obj_type``, ``obj_id`` and optionally ``before``, ``after``, ``reason``. Returns how many were appended."""
    prepared = []
    for event in events:
        unknown = set(event) - _EVENT_KEYS
        if unknown:
            raise TypeError(f"audit event: unknown key(s) {sorted(unknown)}")
        prepared.append(
            _fields(
                actor,
                actor_id,
                event["action"],
                event["obj_type"],
                event["obj_id"],
                event.get("before"),
                event.get("after"),
                event.get("reason", ""),
            )
        )
    if not prepared:
        return 0
    with transaction.atomic(savepoint=False):
        _chain_lock(connections[DEFAULT_DB_ALIAS])
        head = audit_head()
        at, prev_hash, rows = timezone.now(), head.hash, []
        for seq, fields in enumerate(prepared, start=head.seq + 1):
            fields.update(seq=seq, at=at, prev_hash=prev_hash)
            prev_hash = event_hash(**fields)
            rows.append(AuditEvent(**fields, hash=prev_hash))
        AuditEvent.objects.bulk_create(rows, batch_size=batch_size)
        _schedule_checkpoint(head.seq, head.seq + len(rows))
    return len(rows)


def audit_checkpoint(*, directory: Path | None = None, actor: str = "system:checkpoint") -> Path:
    """Append the committed chain head (seq, hash, at, count) to the checkpoint file and record that as an
    ``audit.checkpoint`` event; returns the file. Runs in its own transaction (never inside another one, so
    that it only ever writes down events that are committed)."""
    path = checkpoint_file(directory)
    connection = connections[DEFAULT_DB_ALIAS]
    with transaction.atomic(durable=True):
        _chain_lock(connection)
        head = audit_head()
        count = AuditEvent.objects.count()
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
    for name, value in (("actor", actor), ("object_type", obj_type), ("object_id", str(obj_id))):
        limit = getattr(AuditEvent._meta.get_field(name), "max_length", None)
        if limit is not None and len(value) > limit:
            raise ValueError(f"audit {name} longer than {limit} characters: {value[:40]!r}...")
    return {
        "actor": check_text(actor, what="actor"),
        "actor_id": None if actor_id is None else int(actor_id),
        "action": int(code),
        "object_type": check_text(obj_type, what="object type"),
        "object_id": check_text(str(obj_id), what="object id"),
        "before": normalise(before, what="before"),
        "after": normalise(after, what="after"),
        "reason": check_text(reason, what="reason"),
    }


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

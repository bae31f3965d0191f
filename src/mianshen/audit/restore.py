"""After a restore from backup: record, visibly, that the events the backup did not hold are lost.

A database restored from a dump taken at seq N no longer holds the events written after the dump, while the
checkpoint file - kept elsewhere, on write-once storage - still names some of them: ``audit verify`` reports
``truncated after seq N`` and names the lost range, and keeps doing so. When the loss is understood (the
restore was deliberate: a disk failed, the ticket says so), an administrator accepts it:

    mianshen audit accept-restore --reason "restored the 03:00 dump after the disk failure, ticket 123"

``audit_restore_accept`` checks that the trail is intact up to its head and that the file's only complaint is
the lost end, then records an ``audit.restore_accepted`` (901) event naming the lost range and the checkpoints
that named it (seq and hash), and writes a new checkpoint. From then on ``verify`` sets those checkpoints aside
when it reaches that event - only those, and only ones beyond the restored head, so the event cannot hide a
disagreement earlier in the chain - and warns about the accepted loss on every run. Nothing is rewritten: the
checkpoint file keeps the lines of the lost events as evidence.
"""

from __future__ import annotations

from pathlib import Path

from django.db import DEFAULT_DB_ALIAS, connections, transaction

from .catalogue import Action
from .models import AuditEvent
from .selectors import audit_head
from .services import _chain_lock, audit_checkpoint, audit_record  # the chain lock: same package
from .verify import audit_verify


class RestoreRefused(Exception):
    """There is no restore loss to accept (one line saying why)."""


def audit_restore_accept(*, actor: str, reason: str, checkpoints: Path | None = None) -> AuditEvent:
    """Accept the loss of the events beyond the head that the checkpoint file names; returns the
    ``audit.restore_accepted`` event. ``RestoreRefused`` when the trail is intact, broken in any other way, or
    moved while it was being verified."""
    if not reason.strip():
        raise RestoreRefused("accepting a restore's lost events needs a reason")
    result = audit_verify(checkpoints=checkpoints)
    if result.ok:
        raise RestoreRefused("the audit trail is intact: there is no lost end to accept")
    if not result.lost or len(result.problems) != 1:
        raise RestoreRefused(f"only a lost end can be accepted, and the trail is BROKEN at {result.problem}")
    with transaction.atomic(durable=True):
        _chain_lock(connections[DEFAULT_DB_ALIAS])
        head = audit_head()
        if (head.seq, head.hash) != (result.head_seq, result.head_hash):
            raise RestoreRefused("events were added while the trail was being verified: run it again")
        event = audit_record(
            actor=actor,
            action=Action.AUDIT_RESTORE_ACCEPTED,
            obj_type="audit_chain",
            obj_id=str(head.seq),
            reason=reason,
            after={
                "head_seq": head.seq,
                "head_hash": head.hash,
                "lost_from": head.seq + 1,
                "lost_to": max(cp.seq for cp in result.lost),
                "file": str(result.checkpoint_path),
                "superseded": [{"seq": cp.seq, "hash": cp.hash} for cp in result.lost],
            },
        )
    audit_checkpoint(actor=actor, file=result.checkpoint_path)
    return event

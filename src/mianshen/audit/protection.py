"""Append-only protection of the audit table, in the database itself.

PostgreSQL: one trigger function that raises ``integrity_constraint_violation``, fired BEFORE UPDATE OR DELETE
for each row and BEFORE TRUNCATE for the statement, both ``ENABLE ALWAYS`` (they fire even with
``session_replication_role = replica``). SQLite: BEFORE UPDATE and BEFORE DELETE triggers that
``RAISE(ABORT, ...)``. Either way Django raises ``django.db.IntegrityError`` with "append-only" in the message.

Migration 0002 installs the protection. An administrator who must repair something removes and restores it
with ``mianshen audit protection remove --reason ...`` / ``restore`` (``protection_remove`` /
``protection_restore``): removal first writes a checkpoint and records an ``audit.protection_removed`` event,
restoring records ``audit.protection_restored``, so both are visible in the trail itself; ``audit verify``
warns while the protection is off. Dropping the triggers by hand bypasses those events, but not the chain:
whatever is then changed is found by ``verify``. In production, also let the application's database role not
own the table, so it cannot drop the triggers at all.

``install_protection`` / ``drop_protection`` (``triggers.py``, re-exported here) are the bare SQL, recording no
event: for migrations and the test suite's flush only.
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections, transaction

from .catalogue import Action
from .models import AuditEvent
from .services import audit_checkpoint, audit_record
from .triggers import drop_protection, install_protection, protection_installed

__all__ = [
    "drop_protection",
    "install_protection",
    "protection_installed",
    "protection_remove",
    "protection_restore",
]


def protection_remove(*, actor: str, reason: str) -> AuditEvent:
    """Remove append-only protection, visibly: write a checkpoint of the head, then record an
    ``audit.protection_removed`` event and drop the triggers in one transaction. Returns the event."""
    if not reason.strip():
        raise ValueError("removing the audit trail's protection needs a reason")
    path = audit_checkpoint(actor=actor)
    connection = connections[DEFAULT_DB_ALIAS]
    with transaction.atomic(durable=True):
        event = audit_record(
            actor=actor,
            action=Action.AUDIT_PROTECTION_REMOVED,
            obj_type="audit_chain",
            obj_id="protection",
            reason=reason,
            after={"protected": False, "checkpoint_file": str(path)},
        )
        drop_protection(connection)
    return event


def protection_restore(*, actor: str, reason: str = "") -> AuditEvent:
    """Restore append-only protection and record an ``audit.protection_restored`` event (one transaction)."""
    connection = connections[DEFAULT_DB_ALIAS]
    with transaction.atomic(durable=True):
        was_on = protection_installed(connection)
        install_protection(connection)
        return audit_record(
            actor=actor,
            action=Action.AUDIT_PROTECTION_RESTORED,
            obj_type="audit_chain",
            obj_id="protection",
            reason=reason,
            before={"protected": was_on},
            after={"protected": True},
        )

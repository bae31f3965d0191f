"""The audit trail (全程留痕): one append-only, hash-chained table of events.

Every event carries a gap-free sequence number and the SHA-256 of its canonical form, which includes the hash of
the event before it (``canonical.py``), so changing, deleting, reordering or inserting an event breaks the chain,
and truncating the end is caught by the checkpoints kept outside the database (``checkpoints.py``).

Rows are written only by ``services.audit_record`` and never changed: the database refuses UPDATE, DELETE and
(on PostgreSQL) TRUNCATE on this table (triggers, migration 0002, ``protection.py``). Nothing here is a foreign
key: the actor's name is copied in and ``actor_id`` is a plain number, so no deletion elsewhere can cascade into
the trail.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from .catalogue import Action, action_choices


class AppendOnly(Exception):
    """An attempt to change or delete an audit event through the ORM."""


class AuditEvent(models.Model):
    seq = models.BigIntegerField(unique=True, help_text="position in the chain: 1, 2, 3, ... without gaps")
    at = models.DateTimeField(help_text="when the event was recorded (stored in UTC)")
    actor = models.CharField(max_length=150, help_text="who: a user name, 'system:<job>' or 'cli:<os user>'")
    actor_id = models.BigIntegerField(
        null=True, blank=True, help_text="the actor's user id, if any (not a FK)"
    )
    action = models.PositiveSmallIntegerField(choices=action_choices, help_text="event type, see catalogue")
    object_type = models.CharField(max_length=60, help_text="what kind of thing: 'case', 'bank_file', ...")
    object_id = models.CharField(max_length=200, help_text="which one: its business id, as text")
    before = models.JSONField(null=True, blank=True, help_text="old values under named keys")
    after = models.JSONField(null=True, blank=True, help_text="new values under named keys")
    reason = models.TextField(blank=True, default="")
    prev_hash = models.CharField(
        max_length=64, help_text="hash of the event with seq - 1 (64 zeros for seq 1)"
    )
    hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the canonical form, hex")

    class Meta:
        ordering = ["seq"]
        constraints = [
            models.CheckConstraint(condition=models.Q(seq__gte=1), name="audit_event_seq_positive")
        ]
        indexes = [
            models.Index(fields=["object_type", "object_id", "seq"], name="audit_event_object"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action_type.dotted} {self.object_type}:{self.object_id} by {self.actor}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnly(f"audit event {self.seq} is append-only: it cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnly(f"audit event {self.seq} is append-only: it cannot be deleted")

    @property
    def action_type(self) -> Action:
        return Action(self.action)

"""Audit selectors: the head of the chain and the timeline of one object."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from .canonical import GENESIS_HASH
from .models import AuditEvent


@dataclass(frozen=True)
class ChainHead:
    """The last event of the chain; ``seq`` 0 and the genesis hash when the trail is empty."""

    seq: int
    hash: str
    at: datetime | None

    @property
    def empty(self) -> bool:
        return self.seq == 0


def audit_head() -> ChainHead:
    """The event with the highest seq (as this connection sees it)."""
    row = AuditEvent.objects.order_by("-seq").values_list("seq", "hash", "at").first()
    if row is None:
        return ChainHead(seq=0, hash=GENESIS_HASH, at=None)
    return ChainHead(seq=row[0], hash=row[1], at=row[2])


def audit_events_for(obj_type: str, obj_id: str) -> QuerySet[AuditEvent]:
    """Every event about one object, oldest first: a case's timeline is ``audit_events_for("case", "42")``."""
    return AuditEvent.objects.filter(object_type=obj_type, object_id=str(obj_id)).order_by("seq")

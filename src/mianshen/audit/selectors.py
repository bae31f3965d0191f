"""Audit selectors: the head of the chain, the timeline of one object, whether there is a trail to read and
whether the business tables hold anything a trail should account for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.apps import apps
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import QuerySet

from .canonical import GENESIS_HASH
from .models import AuditEvent
from .triggers import TABLE

# Tables whose rows are only ever written together with audit events: (app label, model, what they are).
BUSINESS_TABLES = (
    ("registry", "Snapshot", "snapshot(s)"),
    ("screening", "ScreeningRound", "screening round(s)"),
    ("cases", "Case", "case(s)"),
    ("payments", "Payment", "payment(s)"),
    ("payments", "BankFile", "bank file(s)"),
    ("payments", "Correction", "account correction(s)"),
)


class AuditUnavailable(Exception):
    """The trail cannot be checked at all: no audit table, or an unreadable checkpoint file (one line)."""


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


def audit_table_require() -> None:
    """``AuditUnavailable`` unless the audit table exists (a fresh database, not migrated, has none)."""
    connection = connections[DEFAULT_DB_ALIAS]
    with connection.cursor() as cursor:
        present = TABLE in connection.introspection.table_names(cursor)
    if not present:
        raise AuditUnavailable(
            f"there is no audit table ({TABLE}) in this database: run `mianshen migrate` on a new database; "
            "on one that held data, the trail was dropped"
        )


def business_rows() -> list[tuple[str, int]]:
    """(what, how many) for each business table that holds rows."""
    counts = [(label, apps.get_model(app, model).objects.count()) for app, model, label in BUSINESS_TABLES]
    return [(label, n) for label, n in counts if n]

"""Small helpers shared by the payment services: audit (batched when the audit app offers it), ids, time,
the bank registry and the holiday calendar."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any, TypeVar

from django.db import connection, transaction
from django.utils import timezone as dj_timezone

from mianshen.audit.catalogue import Action
from mianshen.audit.services import audit_record, audit_record_many
from mianshen.core.errors import Refusal

from ..banks import DEFAULT_BANKS, env_holidays, id_prefix
from ..models import Bank, Holiday

CST = timezone(timedelta(hours=8), "CST")
T = TypeVar("T")


class PaymentError(Refusal):
    """A request the payment rules refuse (one line for the user, in English and Chinese)."""


def audit_many(*, actor: str, events: Sequence[dict[str, Any]]) -> None:
    """Record ``events`` (dicts of ``audit_record`` keyword arguments) in the caller's transaction: one
    event through ``audit_record``, more through ``audit_record_many`` (one chain lock, bulk insert)."""
    if len(events) == 1:
        audit_record(actor=actor, **events[0])
    elif events:
        audit_record_many(actor=actor, events=list(events))


def event(
    action: Action,
    obj_type: str,
    obj_id: str | int,
    *,
    before: Any = None,
    after: Any = None,
    reason: str = "",
) -> dict[str, Any]:
    return {
        "action": action,
        "obj_type": obj_type,
        "obj_id": str(obj_id),
        "before": before,
        "after": after,
        "reason": reason,
    }


def today_local() -> date:
    return dj_timezone.localdate()


def now_cst() -> datetime:
    """Now, in China Standard Time, to the second (``GrpHdr/CreDtTm``)."""
    return dj_timezone.now().astimezone(CST).replace(microsecond=0)


def end_to_end_id(case_id: int, attempt: int) -> str:
    """``MS-E0000000123-01``: unique forever as long as case ids are (they are never reused: PROTECT)."""
    return f"{id_prefix()}-E{case_id:010d}-{attempt:02d}"


def msg_id(execution_date: date, bank: str, n: int) -> str:
    """``MS-M20261201-102-0001``: the n-th file for a bank and execution date."""
    return f"{id_prefix()}-M{execution_date:%Y%m%d}-{bank}-{n:04d}"


def bank_registry_load_defaults(*, actor: str = "system") -> int:
    """Create the default banks that are missing (idempotent, audited); returns how many were added."""
    existing = set(Bank.objects.values_list("code", flat=True))
    missing = [
        Bank(
            code=b.code,
            name=b.name,
            cooperating=b.cooperating,
            reports_only_rejects=b.reports_only_rejects,
            silence_days=b.silence_days,
        )
        for b in DEFAULT_BANKS
        if b.code not in existing
    ]
    if not missing:
        return 0
    with transaction.atomic():
        Bank.objects.bulk_create(missing, ignore_conflicts=True)
        audit_record(
            actor=actor,
            action=Action.BANK_REGISTRY_LOADED,
            obj_type="bank_registry",
            obj_id="default",
            after={"added": sorted(b.code for b in missing)},
        )
    return len(missing)


def holidays_all() -> frozenset[date]:
    """The holiday calendar: the ``Holiday`` table plus ``$MIANSHEN_HOLIDAYS``."""
    return frozenset(Holiday.objects.values_list("day", flat=True)) | env_holidays()


def holidays_load(*, days: Iterable[date], name: str = "") -> int:
    """Add holidays to the calendar (idempotent); returns how many were new."""
    existing = set(Holiday.objects.values_list("day", flat=True))
    new = [Holiday(day=d, name=name) for d in sorted(set(days)) if d not in existing]
    Holiday.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def is_postgres() -> bool:
    return connection.vendor == "postgresql"

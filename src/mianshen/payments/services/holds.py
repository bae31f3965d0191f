"""The hold queue: raise an item once per business key (the audit event is the alert), resolve it."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mianshen.audit.catalogue import Action
from mianshen.core.bulkdb import one_parameter

from ..models import HoldItem
from .common import PaymentError, audit_many, event

BATCH = 500  # hold items per INSERT/UPDATE: a bounded parameter list, however many a bank file raises


def holds_raise(*, actor: str, items: Sequence[HoldItem]) -> list[HoldItem]:
    """Insert the items whose key is new (in the caller's transaction); returns those, each audited."""
    if not items:
        return []
    unique = {i.key: i for i in items}
    existing = set(HoldItem.objects.filter(key__in=one_parameter(list(unique))).values_list("key", flat=True))
    new = [i for k, i in unique.items() if k not in existing]
    HoldItem.objects.bulk_create(new, batch_size=BATCH)
    audit_many(
        actor=actor,
        events=[
            event(
                Action.PAYMENT_HELD,
                "hold",
                i.key,
                after={
                    "kind": i.kind,
                    "case": i.case_id,
                    "instruction": i.instruction_id,
                    "bank_file": i.bank_file_id,
                    "inbound": i.inbound_id,
                },
                reason=i.message,
            )
            for i in new
        ],
    )
    return new


def hold_resolve(*, hold_id: int, actor: str, resolution: str) -> HoldItem:
    """Close a hold item with what was done about it."""
    if not resolution.strip():
        raise PaymentError(_("请填写处理情况"))
    with transaction.atomic():
        hold = HoldItem.objects.select_for_update().filter(pk=hold_id).first()
        if hold is None:
            raise PaymentError(_("没有编号为 %(hold_id)s 的挂起事项"), hold_id=hold_id)
        if hold.resolved_at is not None:
            raise PaymentError(
                _("挂起事项 %(hold_id)s 已由 %(resolved_by)s 处理"),
                hold_id=hold_id,
                resolved_by=hold.resolved_by,
            )
        hold.resolved_at = timezone.now()
        hold.resolved_by = actor
        hold.resolution = resolution
        hold.save(update_fields=["resolved_at", "resolved_by", "resolution"])
        audit_many(
            actor=actor,
            events=[
                event(Action.PAYMENT_RELEASED, "hold", hold.key, after={"kind": hold.kind}, reason=resolution)
            ],
        )
    return hold


def holds_close_for(
    *,
    actor: str,
    resolution: str,
    instruction_ids: Sequence[int] = (),
    kinds: Sequence[str] = (),
    keys: Sequence[str] = (),
) -> int:
    """Resolve the open items of ``kinds`` about these instructions, or with these ``keys`` (a re-issue
    settled them)."""
    items = HoldItem.objects.filter(resolved_at=None)
    if keys:
        items = items.filter(key__in=one_parameter(list(keys)))
    else:
        items = items.filter(instruction_id__in=one_parameter(list(instruction_ids)), kind__in=list(kinds))
    open_items = list(items)
    now = timezone.now()
    for hold in open_items:
        hold.resolved_at, hold.resolved_by, hold.resolution = now, actor, resolution
    HoldItem.objects.bulk_update(open_items, ["resolved_at", "resolved_by", "resolution"], batch_size=BATCH)
    audit_many(
        actor=actor,
        events=[
            event(Action.PAYMENT_RELEASED, "hold", h.key, after={"kind": h.kind}, reason=resolution)
            for h in open_items
        ],
    )
    return len(open_items)

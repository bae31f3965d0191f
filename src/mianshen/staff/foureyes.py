"""Four eyes (maker-checker, 双人复核): the one preamble and stamp of every decision on a request one officer
made and another decides. Used by reviews (``cases.services.review_decide``), account corrections
(``payments.services.recovery.correction_decide``) and payment requests
(``payments.services.approvals.approval_decide``).

A request is a model with a maker column (``prepared_by`` / ``requested_by``) and ``decided_by``,
``decided_at``, ``outcome``; its table has a check constraint that the decider is not the maker (the database's
own four eyes, beside this service check). Deciding one is always:

1. ``four_eyes_open`` — in the caller's transaction: lock the request (``SELECT … FOR UPDATE``), refuse it when
   it does not exist, is already decided, or the checker is its maker. The refusals are the caller's own
   (``FourEyes``: each kind says them in its words, English and Chinese); their order is fixed here.
2. the caller's own work (re-issue a payment, carry out the request, move the case), which may still refuse;
3. ``four_eyes_close`` — stamp the decider, the time and the outcome (and the caller's extra columns), save
   those columns only, and record the kind's audit event, in the same transaction.

Who may decide (an active staff member whose role has the checker's permission) is checked where the person is
named: ``staff.actors.staff_actor`` for a command's ``--actor``, the back office's role checks for a page. The
services themselves take the actor's name as given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import models, transaction
from django.utils import timezone

from mianshen.audit.catalogue import Action
from mianshen.audit.services import audit_record

M = TypeVar("M", bound=models.Model)


@dataclass(frozen=True)
class FourEyes(Generic[M]):
    """One kind of four-eyes request: its model, maker column, audit object type and refusals.

    ``missing(pk)`` is the refusal of a request that does not exist (``None``: the model's ``DoesNotExist``
    propagates); ``decided(request)`` of one already decided; ``own(request)`` of the maker deciding it."""

    model: type[M]
    maker: str
    obj_type: str
    decided: Callable[[M], Exception]
    own: Callable[[M], Exception]
    missing: Callable[[int], Exception] | None = None


def four_eyes_open(rule: FourEyes[M], pk: int, *, actor: str) -> M:
    """The request ``pk``, locked for the rest of the caller's transaction, open, and not ``actor``'s own."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("four_eyes_open locks the request: call it inside transaction.atomic()")
    locked = rule.model._default_manager.select_for_update()
    if rule.missing is None:
        request = locked.get(pk=pk)
    else:
        found = locked.filter(pk=pk).first()
        if found is None:
            raise rule.missing(pk)
        request = found
    if getattr(request, "decided_by", ""):
        raise rule.decided(request)
    if getattr(request, rule.maker) == actor:
        raise rule.own(request)
    return request


def four_eyes_close(
    rule: FourEyes[M],
    request: M,
    *,
    actor: str,
    outcome: str,
    action: Action,
    after: Mapping[str, Any],
    reason: str = "",
    fields: Mapping[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
) -> M:
    """Stamp ``request`` decided by ``actor`` now with ``outcome`` (and ``fields``, the kind's own columns such
    as a decision note), save those columns, and record ``action`` on it (``after``, ``reason``). ``events``: a
    bulk path's list of audit events (``audit_record`` keyword arguments) that it records together, in its
    transaction: the event is appended there instead of recorded now."""
    extra = dict(fields or {})
    request.decided_by = actor  # type: ignore[attr-defined]
    request.decided_at = timezone.now()  # type: ignore[attr-defined]
    request.outcome = outcome  # type: ignore[attr-defined]
    for name, value in extra.items():
        setattr(request, name, value)
    request.save(update_fields=["decided_by", "decided_at", "outcome", *extra])
    decided: dict[str, Any] = {"action": action, "obj_type": rule.obj_type, "obj_id": str(request.pk),
                               "after": dict(after), "reason": reason}  # fmt: skip
    if events is not None:
        events.append(decided)
    else:
        audit_record(actor=actor, **decided)
    return request

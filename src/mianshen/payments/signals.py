"""What the payment side tells the apps above it (notify queues the messages). Payments imports none of them: a
receiver is connected in its app's ``ready()``. Sent INSIDE the transaction that made the change, so what a
receiver writes commits or rolls back with it.

``unit_notices.send(sender=Payment, notices=[UnitNotice, …], actor=actor)`` — units to tell: a payment that
failed (rejected or returned, with the reason in words and what to do) or that waits for an account."""

from __future__ import annotations

from dataclasses import dataclass

from django.dispatch import Signal

unit_notices = Signal()


@dataclass(frozen=True, slots=True)
class UnitNotice:
    """One thing a unit must be told about its payment. ``event`` is the business key (queued once)."""

    event: str  # "case123:no_account", "<EndToEndId>:failed"
    kind: str  # "no_account" or "payment_failed"
    case_id: int
    payment_id: int | None
    amount_fen: int
    reason_code: str = ""
    returned: bool = False  # the money came back (camt.054 return) rather than being rejected
    why_zh: str = ""  # what went wrong, in words
    why_en: str = ""
    next_step_zh: str = ""  # what the unit should do
    next_step_en: str = ""

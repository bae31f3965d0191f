"""Reading the outbox (the operators' listing, the portal's inbox)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from .kinds import Channel, Kind
from .models import Message
from .services import hide_secret, mask
from .states import MessageState


def outbox(
    *, to: str | None = None, kind: str | None = None, unit_id: str | None = None
) -> QuerySet[Message]:
    """Messages, oldest first, optionally to one address, of one kind, or of one unit."""
    rows = Message.objects.order_by("id")
    if to:
        rows = rows.filter(to=to.strip())
    if kind:
        rows = rows.filter(kind=Kind(kind))
    if unit_id:
        rows = rows.filter(unit_id=unit_id)
    return rows


def inbox(*, unit_id: str) -> QuerySet[Message]:
    """A unit's portal inbox, newest first."""
    return Message.objects.filter(channel=Channel.INBOX, to=unit_id).order_by("-id")


def message_public(msg: Message, *, unmask: bool = False) -> dict[str, Any]:
    """A message as ``notify outbox --json`` prints it (contracts §4): the address masked and a one-time code
    hidden unless ``unmask``."""
    body = msg.body if unmask else hide_secret(msg, msg.body)
    return {
        "id": msg.pk,
        "kind": msg.kind,
        "channel": msg.channel,
        "to": msg.to if unmask else mask(msg.to, msg.channel),
        "unit_id": msg.unit_id,
        "case_id": msg.case_id,
        "state": msg.state,
        "attempts": msg.attempts,
        "created_at": msg.created_at.isoformat(),
        "sent_at": msg.sent_at.isoformat() if msg.sent_at else None,
        "closed_at": msg.closed_at.isoformat() if msg.closed_at else None,
        "provider_id": msg.provider_id,
        "last_error": msg.last_error,
        "body": body,
        "body_en": msg.body_en if unmask else hide_secret(msg, msg.body_en),
    }


# The back office's outbox page: what went wrong (issue 12: "a dead letter … that shows in the back office").
TROUBLE = ("failed", "retrying", "suppressed")


def outbox_trouble(
    rows: QuerySet[Message], *, state: str = "failed", kind: str = "", channel: str = ""
) -> QuerySet[Message]:
    """``rows`` (already scoped) narrowed to messages in trouble, newest first: ``failed`` (dead letters and
    refusals), ``retrying`` (queued again after a failed attempt), ``suppressed`` (never sent), or ``all``
    three; optionally one kind and one channel (unknown values are ignored)."""
    wanted = {
        "failed": Q(state="failed"),
        "retrying": Q(state="queued", attempts__gt=0) & ~Q(last_error=""),
        "suppressed": Q(state="suppressed"),
    }
    if state in wanted:
        rows = rows.filter(wanted[state])
    else:
        rows = rows.filter(wanted["failed"] | wanted["retrying"] | wanted["suppressed"])
    if kind in {k.value for k in Kind}:
        rows = rows.filter(kind=kind)
    if channel in {c.value for c in Channel}:
        rows = rows.filter(channel=channel)
    return rows.order_by("-id")


def outbox_state_counts(rows: QuerySet[Message]) -> dict[str, int]:
    """Messages per state (every state present, 0 when none), plus ``retrying`` (queued after a failed attempt)."""
    out = {s.value: 0 for s in MessageState}
    for state, n in rows.values_list("state").annotate(n=Count("id")).order_by():
        out[state] = n
    out["retrying"] = rows.filter(state="queued", attempts__gt=0).exclude(last_error="").count()
    return out

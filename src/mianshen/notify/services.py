"""The outbox's services: queue a message (one, or hundreds of thousands at once), the one transition function of
message states, and delivery after commit (attempts, backoff, dead letter, receipts, the 72-hour close).

Public API for the apps above (portal, back office, cli) — see docs/notify.md:

- ``message_queue(kind=, channel=, to=, key=, context=, unit_id=, case_id=, actor=)`` → ``Message``: one message,
  in the caller's transaction, once per (to, key, channel); one-time codes obey the per-phone limits
  (``OTP_LIMITS``: beyond them the message is written ``suppressed`` and nothing is sent).
- ``deliver_due()`` — what the worker runs: send what is due, collect receipts, close stale ``sent`` messages.
- ``receipt_apply(provider_id=, status=)`` — a provider's delivery receipt, idempotent.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from mianshen.audit.catalogue import Action
from mianshen.audit.services import audit_record, audit_record_many
from mianshen.core.bulkdb import one_parameter, update_rows
from mianshen.core.jobs import job_enqueue

from .kinds import CATALOGUE, Channel, Kind, render, resolve, templates
from .models import Message
from .states import FINAL, RECEIPT_WAIT, RETRY, MessageState, can_move

log = logging.getLogger(__name__)
M = MessageState
BEIJING = ZoneInfo("Asia/Shanghai")

# Quiet hours for SMS (Beijing time): from 21:00 to 08:00 nothing but one-time codes goes out.
QUIET_FROM, QUIET_UNTIL = time(21, 0), time(8, 0)
# One-time codes to one phone (contracts §4): at most 1 a minute, 5 an hour, 10 a day.
OTP_LIMITS: tuple[tuple[int, timedelta], ...] = (
    (1, timedelta(minutes=1)),
    (5, timedelta(hours=1)),
    (10, timedelta(days=1)),
)
# Delivery: the wait before attempt n+1 (the last value repeats); a dead letter after MAX_ATTEMPTS attempts.
BACKOFF: tuple[timedelta, ...] = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
)
MAX_ATTEMPTS = 6

PHONE = re.compile(r"^1[3-9]\d{9}$")  # a mainland mobile number
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ACTOR = "system:notify"


class NotifyError(Exception):
    """Bad input to a notify service (one line; the command line prints it)."""


class MessageTransitionRefused(NotifyError):
    """A move the message state table does not allow."""


# ---- the one transition function ------------------------------------------------------------------------------


def message_transition(
    *,
    message_id: int,
    to: MessageState,
    actor: str,
    reason: str,
    changes: Mapping[str, Any] | None = None,
    retry: bool = False,
) -> Message:
    """Move one message (locked) from its state to ``to``, setting ``changes`` (other fields) with it; an audit
    event with the state before and after, in the same transaction. A move to a final state sets ``closed_at``.
    Raises ``MessageTransitionRefused`` (nothing written) when ``states.TRANSITIONS`` does not allow it.
    ``retry``: the one move out of a final state, ``failed → queued`` (``states.RETRY``), which a person asks for
    (``message_retry``); it reopens the message (``closed_at`` cleared)."""
    changes = dict(changes or {})
    with transaction.atomic():
        msg = Message.objects.select_for_update().get(pk=message_id)
        current = MessageState(msg.state)
        if retry and (current, to) in RETRY:
            changes["closed_at"] = None
        elif not can_move(current, to, closed=msg.closed_at is not None):
            raise MessageTransitionRefused(
                f"message {msg.pk}: {current.value} → {to.value} is not an allowed move"
                + (" (closed)" if msg.closed_at else "")
            )
        before = _snapshot(msg)
        now = timezone.now()
        if to in FINAL:
            changes.setdefault("closed_at", now)
        if to == M.SENT and current != M.SENT:
            changes.setdefault("sent_at", now)
        msg.state = to.value
        for name, value in changes.items():
            setattr(msg, name, value)
        msg.save(update_fields=["state", *changes])
        audit_record(
            actor=actor,
            action=Action.NOTIFICATION_TRANSITION,
            obj_type="message",
            obj_id=str(msg.pk),
            before=before,
            after=_snapshot(msg),
            reason=reason[:500],
        )
    return msg


@dataclass(frozen=True)
class MessageMove:
    """One message's move for ``message_transition_many``: to ``to`` with ``changes`` (other fields)."""

    message_id: int
    to: MessageState
    reason: str
    changes: Mapping[str, Any] = field(default_factory=dict)


def message_transition_many(
    *, moves: Sequence[MessageMove], actor: str, strict: bool = True
) -> list[Message]:
    """``message_transition`` for many messages in one transaction (a batch of deliveries): the rows locked, each
    move checked against ``states.TRANSITIONS``, ``closed_at``/``sent_at`` set as there, the rows written as plain
    rows (``update_rows``: COPY and one UPDATE on PostgreSQL) and one ``notification.transition`` event per message,
    the same event the one-message function records. ``strict``: a refused move refuses them all
    (``MessageTransitionRefused``, nothing written); otherwise it is left out (a receipt came first). Returns the
    messages written. No retries out of a final state here (``message_retry`` is one message, by a person)."""
    if not moves:
        return []
    with transaction.atomic():
        locked = {
            m.pk: m
            for m in Message.objects.select_for_update()
            .filter(pk__in=one_parameter([mv.message_id for mv in moves]))
            .order_by("pk")
        }
        now = timezone.now()
        written: list[Message] = []
        events: list[dict[str, Any]] = []
        columns: dict[str, None] = {"state": None}
        for mv in moves:
            msg = locked.get(mv.message_id)
            if msg is None:
                raise MessageTransitionRefused(f"message {mv.message_id}: no such message")
            current = MessageState(msg.state)
            if not can_move(current, mv.to, closed=msg.closed_at is not None):
                if strict:
                    raise MessageTransitionRefused(
                        f"message {msg.pk}: {current.value} → {mv.to.value} is not an allowed move"
                        + (" (closed)" if msg.closed_at else "")
                    )
                continue
            changes = dict(mv.changes)
            before = _snapshot(msg)
            if mv.to in FINAL:
                changes.setdefault("closed_at", now)
            if mv.to == M.SENT and current != M.SENT:
                changes.setdefault("sent_at", now)
            msg.state = mv.to.value
            for name, value in changes.items():
                setattr(msg, name, value)
                columns[name] = None
            written.append(msg)
            events.append(
                {
                    "action": Action.NOTIFICATION_TRANSITION,
                    "obj_type": "message",
                    "obj_id": str(msg.pk),
                    "before": before,
                    "after": _snapshot(msg),
                    "reason": mv.reason[:500],
                }
            )
        names = list(columns)
        update_rows(Message, names, [(m.pk, *(getattr(m, n) for n in names)) for m in written])
        audit_record_many(actor=actor, events=events)
    return written


def message_retry(*, message_id: int, actor: str, reason: str = "") -> Message:
    """Put a failed message (a dead letter, or one the provider refused or reported failed) back in the queue,
    due now: what a person in the back office asks for (audited as the transition, with ``actor``). Its tries
    restart at 1 when it had reached a sender, so that the next attempt asks the provider first whether it has
    the message (never sent twice); the provider id of the failed send is dropped, so a late receipt for it
    cannot close the new attempt. Raises ``MessageTransitionRefused`` unless the message is ``failed``."""
    with transaction.atomic():
        msg = Message.objects.select_for_update().get(pk=message_id)
        if msg.state != M.FAILED:
            raise MessageTransitionRefused(
                f"message {msg.pk}: only a failed message can be retried ({msg.state})"
            )
        return message_transition(
            message_id=msg.pk,
            to=M.QUEUED,
            actor=actor,
            reason=("retried by staff: " + reason.strip())[:500] if reason.strip() else "retried by staff",
            changes={
                "attempts": 1 if msg.attempts else 0,
                "next_attempt_at": timezone.now(),
                "provider_id": "",
            },
            retry=True,
        )


def _snapshot(msg: Message) -> dict[str, Any]:
    return {
        "state": msg.state,
        "attempts": msg.attempts,
        "provider_id": msg.provider_id,
        "closed": msg.closed_at is not None,
        "error": msg.last_error,
    }


# ---- queueing --------------------------------------------------------------------------------------------------


def _check_address(channel: Channel, to: str) -> None:
    if channel == Channel.SMS and not PHONE.match(to):
        raise NotifyError(f"not a mobile phone number: {mask(to, channel)}")
    if channel == Channel.EMAIL and not EMAIL.match(to):
        raise NotifyError("not an e-mail address")
    if not to:
        raise NotifyError("no address")


def not_before(kind: Kind | str, channel: Channel | str, at: datetime) -> datetime:
    """The first moment at or after ``at`` a message of ``kind`` may go out on ``channel``: SMS waits for the
    end of quiet hours (21:00-08:00 Beijing time), except one-time codes."""
    if channel != Channel.SMS or not CATALOGUE[Kind(kind)].quiet_hours:
        return at
    local = at.astimezone(BEIJING)
    t = local.time()
    if t >= QUIET_FROM:
        day = local.date() + timedelta(days=1)
    elif t < QUIET_UNTIL:
        day = local.date()
    else:
        return at
    return datetime.combine(day, QUIET_UNTIL, tzinfo=BEIJING)


def _over_limit(to: str, now: datetime) -> str:
    """Why a one-time code to ``to`` may not go out now (empty: it may). Locks the phone (PostgreSQL: an
    advisory lock for the transaction; SQLite: the write lock) so that two requests cannot both pass."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 7))", [f"otp:{to}"])
    sent = Message.objects.filter(kind=Kind.OTP, to=to).exclude(state=M.SUPPRESSED)
    for most, window in OTP_LIMITS:
        if sent.filter(created_at__gt=now - window).count() >= most:
            return f"limit: at most {most} code(s) per {_words(window)} to one phone"
    return ""


def _words(window: timedelta) -> str:
    return {60: "minute", 3600: "hour", 86400: "day"}.get(int(window.total_seconds()), str(window))


def message_queue(
    *,
    kind: Kind | str,
    channel: Channel | str,
    to: str,
    key: str,
    context: Mapping[str, Any] | None = None,
    unit_id: str | None = None,
    case_id: int | None = None,
    payment_id: int | None = None,
    round_id: int | None = None,
    language: str = "zh-hans",
    actor: str = ACTOR,
    now: datetime | None = None,
) -> Message:
    """Queue one message in the caller's transaction (or its own), once per (``to``, ``key``, ``channel``): a
    second call with the same three returns the first message. ``context`` fills the kind's text (a value may be
    ``{"zh": …, "en": …}``). A one-time code over the phone's limits is written ``suppressed`` (never sent; the
    caller's answer need not change). Raises ``NotifyError`` for an unknown kind or channel or a bad address."""
    try:
        kind, channel = Kind(kind), Channel(channel)
    except ValueError as exc:
        raise NotifyError(str(exc)) from exc
    to = to.strip()
    _check_address(channel, to)
    if language not in ("zh-hans", "en"):
        raise NotifyError(f"language must be zh-hans or en, not {language!r}")
    params = dict(context or {})
    try:
        body_zh, body_en = render(kind, params, "zh-hans"), render(kind, params, "en")
    except KeyError as exc:
        raise NotifyError(f"{kind.value}: the text needs the parameter {exc}") from exc
    now = now or timezone.now()
    with transaction.atomic():
        existing = Message.objects.filter(to=to, event=key, channel=channel).first()
        if existing is not None:
            return existing
        why = _over_limit(to, now) if kind == Kind.OTP and channel == Channel.SMS else ""
        try:
            with transaction.atomic():
                msg = Message.objects.create(
                    kind=kind, channel=channel, to=to, event=key, unit_id=unit_id, case_id=case_id,
                    payment_id=payment_id, round_id=round_id, language=language, params=params, body_zh=body_zh,
                    body_en=body_en, state=M.SUPPRESSED if why else M.QUEUED, last_error=why,
                    next_attempt_at=not_before(kind, channel, now), created_at=now, closed_at=now if why else None,
                )  # fmt: skip
        except IntegrityError:  # queued by a concurrent call between the look and the insert
            return Message.objects.get(to=to, event=key, channel=channel)
        audit_record(
            actor=actor,
            action=Action.NOTIFICATION_QUEUED,
            obj_type="message",
            obj_id=str(msg.pk),
            after={"kind": kind.value, "channel": channel.value, "event": key, "state": msg.state,
                   "unit_id": unit_id},
            reason=why,
        )  # fmt: skip
        if not why:
            job_enqueue(kind="notify.deliver", key=f"notify.deliver:m{msg.pk}", params={}, actor=actor)
    return msg


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to queue in bulk (``messages_queue_many``)."""

    kind: Kind
    channel: Channel
    to: str
    event: str
    params: dict[str, Any]
    unit_id: str | None = None
    case_id: int | None = None
    payment_id: int | None = None
    round_id: int | None = None


_COLUMNS = ("kind", "channel", "to", "event", "unit_id", "case_id", "payment_id", "round_id", "language",
            "params", "body_zh", "body_en", "state", "attempts", "next_attempt_at", "last_error", "provider_id",
            "created_at")  # fmt: skip


def messages_queue_many(
    *, messages: Iterable[NewMessage], actor: str, reason: str, fresh: bool = False
) -> int:
    """Queue many messages in the caller's transaction (a notice of 441,300 units): rendered per kind from one
    template lookup (once for the same parameters on two channels), inserted as plain rows (``COPY`` into a
    temporary table and one ``INSERT … ON CONFLICT DO NOTHING`` on PostgreSQL, ``INSERT OR IGNORE`` on SQLite) — a
    message that exists already (same to, event and channel) is skipped. The rows are streamed: PostgreSQL writes
    while Python renders. One audit event for the batch (counts by kind and channel). Returns how many were new.
    Quiet hours are applied here (``next_attempt_at``); bulk kinds are never one-time codes. ``fresh``: the caller
    knows none of these can exist yet (their event names a row created in this transaction, a new notice): on
    PostgreSQL they are copied straight into the table (the unique key still refuses a duplicate, failing all)."""
    now = timezone.now()
    pg = connection.vendor == "postgresql"
    counts: Counter[str] = Counter()
    events: list[str] = []
    with transaction.atomic():
        new = _insert_ignoring(_rows(messages, now, pg, counts, events), fresh=fresh)
        if not events:
            return 0
        audit_record_many(
            actor=actor,
            events=[
                {
                    "action": Action.NOTIFICATION_QUEUED,
                    "obj_type": "messages",
                    "obj_id": f"{events[0]}..{events[-1]}"[:100],
                    "after": {
                        "queued": new,
                        "given": sum(counts.values()),
                        "by_kind": dict(sorted(counts.items())),
                    },
                    "reason": reason[:500],
                }
            ],
        )
        if new:
            job_enqueue(kind="notify.deliver", key=f"notify.deliver:{events[0]}:{now.isoformat()}", params={},
                        actor=actor)  # fmt: skip
    return new


def _rows(
    messages: Iterable[NewMessage], now: datetime, pg: bool, counts: Counter[str], events: list[str]
) -> Iterator[tuple[Any, ...]]:
    """The rows of ``messages`` (``_COLUMNS``); fills ``counts`` (by kind/channel) and ``events`` (first, last)."""
    texts: dict[Kind, tuple[str, str]] = {}
    due: dict[tuple[Kind, Channel], Any] = {}
    created = _db_datetime(now, pg)
    last: tuple[Any, Kind, str, str, str] | None = (
        None  # (params, kind, zh, en, json) of the previous message
    )
    m = None
    for m in messages:
        if m.kind == Kind.OTP:
            raise NotifyError(
                "one-time codes are queued one at a time (message_queue), under the phone's limits"
            )
        if last is not None and last[0] is m.params and last[1] == m.kind:  # the same text on another channel
            _p, _k, zh, en, params = last
        else:
            zh_en = texts.get(m.kind)
            if zh_en is None:
                zh_en = texts[m.kind] = templates(m.kind)
            plain = all(not isinstance(v, dict) for v in m.params.values())
            zh = zh_en[0].format_map(m.params if plain else resolve(m.params, "zh-hans"))
            en = zh_en[1].format_map(m.params if plain else resolve(m.params, "en"))
            params = json.dumps(m.params, ensure_ascii=False)
            last = (m.params, m.kind, zh, en, params)
        key = (m.kind, m.channel)
        at = due.get(key)
        if at is None:
            at = due[key] = _db_datetime(not_before(m.kind, m.channel, now), pg)
        if not events:
            events.append(m.event)
        counts[f"{m.kind.value}/{m.channel.value}"] += 1
        yield (m.kind.value, m.channel.value, m.to, m.event, m.unit_id, m.case_id, m.payment_id, m.round_id,
               "zh-hans", params, zh, en, "queued", 0, at, "", "", created)  # fmt: skip
    if m is not None:
        events.append(m.event)


def _db_datetime(value: datetime, pg: bool) -> Any:
    if pg:
        return value.isoformat()
    return Message._meta.get_field("created_at").get_db_prep_save(value, connection)


def _insert_ignoring(rows: Iterable[tuple[Any, ...]], *, fresh: bool = False) -> int:
    qn = connection.ops.quote_name
    table = qn(Message._meta.db_table)
    cols = ", ".join(qn(c) for c in _COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and fresh:
            n = 0
            with cursor.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    n += 1
            return n
        if connection.vendor == "postgresql":
            cursor.execute(
                f"CREATE TEMPORARY TABLE _notify_new ON COMMIT DROP AS SELECT {cols} FROM {table} WITH NO DATA"
            )
            with cursor.cursor.copy(f"COPY _notify_new ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(
                f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _notify_new "
                f"ON CONFLICT ({qn('to')}, {qn('event')}, {qn('channel')}) DO NOTHING"
            )
            new = cursor.rowcount
            cursor.execute("DROP TABLE _notify_new")
            return int(new)
        marks = ", ".join(["%s"] * len(_COLUMNS))
        batch = [list(r) for r in rows]
        if not batch:
            return 0
        # sqlite3 sums the rows each statement changed; an ignored duplicate changes none (no COUNT(*) of the
        # whole outbox before and after, a scan that grew with it)
        cursor.executemany(f"INSERT OR IGNORE INTO {table} ({cols}) VALUES ({marks})", batch)
        return int(cursor.rowcount)


# ---- delivery ----------------------------------------------------------------------------------------------


class SendFailed(Exception):
    """The provider did not take the message (a 5xx, a refused connection): try again later."""


class SendTimeout(SendFailed):
    """No answer in time: the provider may or may not have taken it — look it up before sending again."""


class SendRefused(Exception):
    """The provider refused the message for good (a bad number, a blocked address): no retry."""


@dataclass(frozen=True)
class Accepted:
    provider_id: str
    delivered: bool = False  # True when taking it is delivering it (a file, the portal inbox)


@dataclass(frozen=True)
class Receipt:
    provider_id: str
    delivered: bool
    error: str = ""
    message_id: int | None = None  # ours (the out-id), for a receipt that comes before we recorded their id


class Sender:
    """What delivery needs of a channel's sender (``senders.py`` has the real ones)."""

    name = "sender"

    def send(self, msg: Message) -> Accepted:
        raise NotImplementedError

    def lookup(self, msg: Message) -> Accepted | None:
        """Whether the provider already has ``msg`` (by our out-id): asked before sending again. ``None``: it
        has not (or the provider cannot tell: then sending again may duplicate, documented per sender)."""
        return None

    def receipts(self) -> list[Receipt]:
        """Delivery receipts waiting at the provider (they stay there until ``ack``)."""
        return []

    def ack(self, receipts: list[Receipt]) -> None:
        """Tell the provider these receipts were applied (a receipt not acknowledged comes again: harmless)."""


# A test hook: called with the name of each point of a delivery (``claimed``, ``accepted``, ``recorded``).
CRASH_HOOK: Callable[[str], None] | None = None


def _point(name: str) -> None:
    if CRASH_HOOK is not None:
        CRASH_HOOK(name)


@dataclass
class Delivered:
    sent: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    deferred: int = 0
    found: int = 0  # already at the provider (a lost answer): recorded, not sent again
    receipts: int = 0
    closed: int = 0
    by_state: dict[str, int] = field(default_factory=dict)


def backoff(attempts: int) -> timedelta:
    return BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]


def deliver_due(
    *,
    senders: Mapping[str, Sender] | None = None,
    now: datetime | None = None,
    limit: int = 500,
    actor: str = ACTOR,
    progress: Callable[[int, int], None] | None = None,
    kinds: Iterable[str] | None = None,
) -> Delivered:
    """One pass of delivery: up to ``limit`` due messages sent (each claimed under lock, its attempt
    committed before anything is sent), the providers' receipts applied, ``sent`` messages past the receipt
    wait closed. What the worker runs when idle and ``mianshen notify send`` runs once. ``kinds``: only messages
    of these kinds are sent in this pass (the demo tells the failed payments first)."""
    if senders is None:
        from .senders import senders_from_settings

        senders = senders_from_settings()
    now = now or timezone.now()
    result = Delivered()
    due_rows = Message.objects.filter(state=M.QUEUED, next_attempt_at__lte=now)
    if kinds is not None:
        due_rows = due_rows.filter(kind__in=list(kinds))
    due = list(due_rows.order_by("next_attempt_at", "id").values_list("pk", flat=True)[:limit])
    for i, pk in enumerate(due, 1):
        _deliver_one(pk, senders, now, actor, result)
        if progress is not None:
            progress(i, len(due))
    seen: set[int] = set()
    for sender in senders.values():
        if id(sender) in seen:
            continue
        seen.add(id(sender))
        try:
            receipts = sender.receipts()
        except (SendFailed, SendRefused) as exc:  # the provider is unreachable now: the receipts wait there
            log.warning("receipts from %s: %s", sender.name, exc)
            continue
        for receipt in receipts:
            if receipt_apply(provider_id=receipt.provider_id, delivered=receipt.delivered, error=receipt.error,
                             message_id=receipt.message_id, actor=actor) == "applied":  # fmt: skip
                result.receipts += 1
        if receipts:
            try:
                sender.ack(receipts)
            except (SendFailed, SendRefused) as exc:
                log.warning("acknowledging receipts to %s: %s (they will come again)", sender.name, exc)
    result.closed = messages_close_stale(now=now, actor=actor)
    return result


def _claim(pk: int, now: datetime, actor: str) -> Message | None:
    """Lock a due message and record the attempt (attempts + 1; due again after the backoff, so that a sender
    that dies here is retried — and looked up first). ``None`` when it is not due (or another worker has it)."""
    with transaction.atomic():
        rows = Message.objects.filter(pk=pk, state=M.QUEUED, next_attempt_at__lte=now)
        if connection.vendor == "postgresql":
            rows = rows.select_for_update(skip_locked=True)
        msg = rows.first()
        if msg is None:
            return None
        quiet = not_before(msg.kind, msg.channel, now)
        if quiet > now:
            message_transition(message_id=pk, to=M.QUEUED, actor=actor, reason="quiet hours: deferred",
                               changes={"next_attempt_at": quiet})  # fmt: skip
            return None
        attempts = msg.attempts + 1
        return message_transition(
            message_id=pk,
            to=M.QUEUED,
            actor=actor,
            reason=f"attempt {attempts}",
            changes={"attempts": attempts, "next_attempt_at": now + backoff(attempts)},
        )


def _deliver_one(
    pk: int, senders: Mapping[str, Sender], now: datetime, actor: str, result: Delivered
) -> None:
    msg = _claim(pk, now, actor)
    if msg is None:
        result.deferred += 1
        return
    _point("claimed")
    sender = senders[msg.channel]
    accepted: Accepted | None = None
    if msg.attempts > 1:  # an earlier attempt may have reached the provider: never send twice
        try:
            accepted = sender.lookup(msg)
        except (SendFailed, SendRefused) as exc:
            _retry_or_fail(msg, f"lookup: {exc}", actor, result)
            return
        if accepted is not None:
            result.found += 1
    if accepted is None:
        try:
            accepted = sender.send(msg)
        except SendRefused as exc:
            message_transition(message_id=pk, to=M.FAILED, actor=actor, reason=f"refused: {exc}",
                               changes={"last_error": str(exc)[:300]})  # fmt: skip
            result.failed += 1
            return
        except SendFailed as exc:
            _retry_or_fail(msg, f"{type(exc).__name__}: {exc}", actor, result)
            return
    _point("accepted")
    target = M.DELIVERED if accepted.delivered else M.SENT
    with suppress(MessageTransitionRefused):  # a receipt came first (delivered or failed): nothing to add
        message_transition(message_id=pk, to=target, actor=actor, reason=f"{sender.name} accepted",
                           changes={"provider_id": accepted.provider_id[:80], "last_error": ""})  # fmt: skip
    result.delivered += target == M.DELIVERED
    result.sent += target == M.SENT
    _point("recorded")


def _retry_or_fail(msg: Message, error: str, actor: str, result: Delivered) -> None:
    if msg.attempts >= MAX_ATTEMPTS:
        message_transition(message_id=msg.pk, to=M.FAILED, actor=actor,
                           reason=f"dead letter after {msg.attempts} attempts: {error}",
                           changes={"last_error": error[:300]})  # fmt: skip
        result.failed += 1
    else:
        message_transition(message_id=msg.pk, to=M.QUEUED, actor=actor, reason=f"will retry: {error}",
                           changes={"last_error": error[:300]})  # fmt: skip
        result.retried += 1


# ---- delivery in batches ----------------------------------------------------------------------------------------

BATCH = 1_000  # messages claimed (and recorded) together by ``deliver_batch``


def deliver_batch(
    *,
    senders: Mapping[str, Sender],
    now: datetime | None = None,
    limit: int = BATCH,
    actor: str = ACTOR,
    kinds: Iterable[str] | None = None,
) -> Delivered:
    """Send up to ``limit`` due messages as ``deliver_due`` sends them, but claimed in ONE transaction and their
    outcomes recorded in ONE more (plain rows, one audit event per message, the same events the one-at-a-time
    path writes): what a bulk sender (the demo's thousands of "payment failed" messages) needs, where one message
    at a time cost two transactions and two chain appends each. The claim is committed before anything is sent,
    as in ``deliver_due``: a crash leaves the batch queued with its attempt counted, due after the backoff and
    looked up at the provider before any second send. A message a receipt closed in between is left as the
    receipt made it. Receipts and the 72-hour close are ``deliver_due``'s (the worker's) to run."""
    now = now or timezone.now()
    result = Delivered()
    due_rows = Message.objects.filter(state=M.QUEUED, next_attempt_at__lte=now)
    if kinds is not None:
        due_rows = due_rows.filter(kind__in=list(kinds))
    due = list(due_rows.order_by("next_attempt_at", "id").values_list("pk", flat=True)[:limit])
    if not due:
        return result
    claimed = _claim_many(due, now, actor, result)
    _point("claimed")
    outcomes: list[MessageMove] = []
    for msg in claimed:
        sender = senders[msg.channel]
        accepted: Accepted | None = None
        if msg.attempts > 1:  # an earlier attempt may have reached the provider: never send twice
            try:
                accepted = sender.lookup(msg)
            except (SendFailed, SendRefused) as exc:
                outcomes.append(_retry_or_fail_outcome(msg, f"lookup: {exc}", result))
                continue
            if accepted is not None:
                result.found += 1
        if accepted is None:
            try:
                accepted = sender.send(msg)
            except SendRefused as exc:
                outcomes.append(
                    MessageMove(msg.pk, M.FAILED, f"refused: {exc}", {"last_error": str(exc)[:300]})
                )
                result.failed += 1
                continue
            except SendFailed as exc:
                outcomes.append(_retry_or_fail_outcome(msg, f"{type(exc).__name__}: {exc}", result))
                continue
        _point("accepted")
        target = M.DELIVERED if accepted.delivered else M.SENT
        changes = {"provider_id": accepted.provider_id[:80], "last_error": ""}
        outcomes.append(MessageMove(msg.pk, target, f"{sender.name} accepted", changes))
        result.delivered += target == M.DELIVERED
        result.sent += target == M.SENT
    # a move the table refuses now is one a receipt overtook (delivered or failed): nothing to add
    message_transition_many(moves=outcomes, actor=actor, strict=False)
    _point("recorded")
    return result


def _claim_many(pks: list[int], now: datetime, actor: str, result: Delivered) -> list[Message]:
    """``_claim`` for many messages in one transaction: the due ones locked (skipping those another worker holds),
    each either deferred to the end of quiet hours or given its attempt; returns the claimed ones."""
    with transaction.atomic():
        rows = Message.objects.filter(
            pk__in=one_parameter(pks), state=M.QUEUED, next_attempt_at__lte=now
        ).order_by("pk")
        if connection.vendor == "postgresql":
            rows = rows.select_for_update(skip_locked=True)
        moves: list[MessageMove] = []
        attempting: set[int] = set()
        for msg in rows:
            quiet = not_before(msg.kind, msg.channel, now)
            if quiet > now:
                moves.append(
                    MessageMove(msg.pk, M.QUEUED, "quiet hours: deferred", {"next_attempt_at": quiet})
                )
                result.deferred += 1
            else:
                attempts = msg.attempts + 1
                changes = {"attempts": attempts, "next_attempt_at": now + backoff(attempts)}
                moves.append(MessageMove(msg.pk, M.QUEUED, f"attempt {attempts}", changes))
                attempting.add(msg.pk)
        result.deferred += len(pks) - len(moves)  # not due any more, or another worker has it
        written = message_transition_many(moves=moves, actor=actor)
    return [m for m in written if m.pk in attempting]


def _retry_or_fail_outcome(msg: Message, error: str, result: Delivered) -> MessageMove:
    if msg.attempts >= MAX_ATTEMPTS:
        result.failed += 1
        return MessageMove(msg.pk, M.FAILED, f"dead letter after {msg.attempts} attempts: {error}",
                           {"last_error": error[:300]})  # fmt: skip
    result.retried += 1
    return MessageMove(msg.pk, M.QUEUED, f"will retry: {error}", {"last_error": error[:300]})


def receipt_apply(
    *, provider_id: str, delivered: bool, error: str = "", message_id: int | None = None, actor: str = ACTOR
) -> str:
    """Apply a provider's delivery receipt: ``applied``, ``ignored`` (the message is final already: a receipt
    twice, late, after another, or after the 72-hour close — the first final word stands) or ``unknown`` (no
    message has that provider id, nor ``message_id`` — our out-id, for a receipt that overtook our record of the
    send, which then records the provider's id too)."""
    with transaction.atomic():
        msg = (
            Message.objects.select_for_update().filter(provider_id=provider_id).first()
            if provider_id
            else None
        )
        changes: dict[str, Any] = {}
        if msg is None and message_id is not None:
            msg = Message.objects.select_for_update().filter(pk=message_id).first()
            if msg is not None and not msg.provider_id:
                changes["provider_id"] = provider_id[:80]
        if msg is None:
            return "unknown"
        target = M.DELIVERED if delivered else M.FAILED
        if not can_move(MessageState(msg.state), target, closed=msg.closed_at is not None):
            return "ignored"
        if error:
            changes["last_error"] = error[:300]
        message_transition(message_id=msg.pk, to=target, actor=actor,
                           reason="receipt: " + ("delivered" if delivered else f"failed {error}"), changes=changes)  # fmt: skip
    return "applied"


def messages_close_stale(*, now: datetime | None = None, actor: str = ACTOR) -> int:
    """Close every ``sent`` message that has had no receipt for ``RECEIPT_WAIT`` (72 h): final as sent."""
    now = now or timezone.now()
    stale = list(
        Message.objects.filter(state=M.SENT, closed_at=None, sent_at__lt=now - RECEIPT_WAIT).values_list(
            "pk", flat=True
        )
    )
    for pk in stale:
        message_transition(message_id=pk, to=M.SENT, actor=actor, reason="no receipt in 72 hours: final",
                           changes={"closed_at": now})  # fmt: skip
    return len(stale)


# ---- reading ---------------------------------------------------------------------------------------------------


def mask(to: str, channel: Channel | str) -> str:
    """An address as shown: a phone ``138****5678``, an e-mail ``a***@example.com``; a unit id (inbox) as is."""
    if channel == Channel.SMS:
        return f"{to[:3]}****{to[-4:]}" if len(to) >= 7 else "****"
    if channel == Channel.EMAIL and "@" in to:
        local, _, domain = to.partition("@")
        return f"{local[:1]}***@{domain}"
    return to


def hide_secret(msg: Message, text: str) -> str:
    """``text`` with the message's secret parameter (a one-time code) replaced by asterisks."""
    secret_name = CATALOGUE[Kind(msg.kind)].secret
    secret = str(msg.params.get(secret_name, "")) if secret_name else ""
    return text.replace(secret, "*" * len(secret)) if secret else text


def unmasked_view_record(*, actor: str, count: int, filters: Mapping[str, Any]) -> None:
    """Audit that ``actor`` listed outbox messages unmasked (full addresses, one-time codes)."""
    audit_record(actor=actor, action=Action.NOTIFICATION_UNMASKED, obj_type="outbox", obj_id="listing",
                 after={"messages": count, **{k: v for k, v in filters.items() if v}})  # fmt: skip

"""呼我必回: call-back requests (contracts §4, issue 12 item 4) — services and selectors.

- ``callback_request(...)`` → ``CallbackRequest``: a request from the portal or the API: validated, given a
  reference (``C-`` + 10 Crockford base32), counted as an enquiry, acknowledged at once (``callback_received``
  to the requester's phone, through the outbox) and routed (``new → assigned``) to the district of the unit
  (its credit code), else the district chosen, else the city level, with a deadline of
  ``settings.CALLBACK_WORKING_DAYS`` working days (``workingtime``);
- ``callback_transition(...)``: the one transition function (``callback_states``; every move audited);
- ``callback_record_outcome(...)``: the officer's call: ``assigned → called → answered | unreachable`` with a note;
- ``callback_rate(...)``: the requester's 1–5 (好差评): 1–2 reopens it (a new deadline), 3–5 closes it;
- ``callbacks_sweep(now=)``: the worker's periodic sweep: reminders to the officers at 50 % and 80 % of the
  working time (``callback_reminder``), escalation to the city level at 100 % and again at 200 %
  (``callback_escalated``); ``now`` is injectable (a fake clock in the tests);
- ``working_calendar()``, ``workdays_load(...)``: the calendar (``payments.Holiday`` + ``MakeUpWorkday``);
- selectors: ``callback_by_reference``, ``callbacks_open``, ``callback_stats``, ``countdown``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mianshen.audit.catalogue import Action
from mianshen.audit.services import audit_record
from mianshen.payments.services.common import holidays_all
from mianshen.registry.models import Unit
from mianshen.staff.roles import DISTRICTS, Role, Staff

from .callback_states import OPEN, OUTCOMES, CallbackState, callback_can_move
from .enquiries import enquiry_callback_record
from .kinds import Channel, Kind
from .models import CallbackRequest, MakeUpWorkday
from .services import EMAIL, PHONE, NotifyError, message_queue
from .workingtime import BEIJING, WORKING_DAY, Calendar, add_working, working_between

C = CallbackState
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CREDIT_CODE = re.compile(r"^[0-9A-HJ-NP-RTUW-Y]{2}\d{6}[0-9A-HJ-NP-RTUW-Y]{10}$")
STEPS = (50, 80, 100, 200)  # percent of the working time: remind, remind, escalate, escalate again
ACTOR = "system:callback"


class CallbackError(NotifyError):
    """A call-back request or action refused; ``field`` names the form field (or "")."""

    def __init__(self, message: Any, field: str = "") -> None:
        super().__init__(str(message))
        self.field = field


class CallbackTransitionRefused(CallbackError):
    """A move the call-back state table does not allow."""


# ---- the calendar --------------------------------------------------------------------------------------------


def working_calendar() -> Calendar:
    """Holidays (``payments.Holiday`` and ``$MIANSHEN_HOLIDAYS``) and make-up working days (``MakeUpWorkday``)."""
    return Calendar.of(holidays_all(), MakeUpWorkday.objects.values_list("day", flat=True))


def workdays_load(*, days: Iterable[date], name: str = "", actor: str = ACTOR) -> int:
    """Add make-up working days (调休) to the calendar (idempotent); returns how many were new."""
    with transaction.atomic():
        existing = set(MakeUpWorkday.objects.values_list("day", flat=True))
        new = sorted(set(days) - existing)
        MakeUpWorkday.objects.bulk_create(
            [MakeUpWorkday(day=d, name=name) for d in new], ignore_conflicts=True
        )
        if new:
            audit_record(actor=actor, action=Action.CALENDAR_WORKDAYS_LOADED, obj_type="calendar",
                         obj_id="workdays", after={"days": [d.isoformat() for d in new], "name": name})  # fmt: skip
    return len(new)


def working_time() -> timedelta:
    """The time a call-back has: ``settings.CALLBACK_WORKING_DAYS`` working days of 8 hours."""
    return WORKING_DAY * int(settings.CALLBACK_WORKING_DAYS)


def step_times(started_at: datetime, calendar: Calendar, allowed: timedelta | None = None) -> list[datetime]:
    """The moments of the four deadline steps (50 %, 80 %, 100 % = the deadline, 200 %) after ``started_at``."""
    allowed = allowed if allowed is not None else working_time()
    return [add_working(started_at, allowed * pct / 100, calendar) for pct in STEPS]


# ---- the one transition function -----------------------------------------------------------------------------


def _snapshot(cb: CallbackRequest) -> dict[str, Any]:
    return {"state": cb.state, "district": cb.district, "due_at": cb.due_at.isoformat() if cb.due_at else None,
            "step": cb.step, "rating": cb.rating, "reopened": cb.reopened}  # fmt: skip


def callback_transition(
    *, pk: int, to: CallbackState, actor: str, reason: str, changes: dict[str, Any] | None = None
) -> CallbackRequest:
    """Move one call-back (locked) to ``to`` with ``changes``; audited in the same transaction. Raises
    ``CallbackTransitionRefused`` (nothing written) when ``callback_states`` does not allow it."""
    changes = dict(changes or {})
    with transaction.atomic():
        cb = CallbackRequest.objects.select_for_update().get(pk=pk)
        current = CallbackState(cb.state)
        if not callback_can_move(current, to):
            raise CallbackTransitionRefused(
                _("呼我必回 {ref}：当前状态不能进行此操作").format(ref=cb.reference)
            )
        before = _snapshot(cb)
        cb.state = to.value
        for name, value in changes.items():
            setattr(cb, name, value)
        cb.save(update_fields=["state", *changes])
        audit_record(
            actor=actor,
            action=Action.CALLBACK_CLOSED if to == C.CLOSED else Action.CALLBACK_TRANSITION,
            obj_type="callback",
            obj_id=cb.reference,
            before=before,
            after=_snapshot(cb),
            reason=reason[:500],
        )
    return cb


# ---- requests ------------------------------------------------------------------------------------------------


def _reference() -> str:
    return "C-" + "".join(secrets.choice(CROCKFORD) for _ in range(10))


def due_text(at: datetime) -> str:
    return at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class CallbackDraft:
    """A request checked, not yet submitted (the portal's "check your answers")."""

    name: str
    phone: str
    topic: str
    question: str
    credit_code: str = ""
    district: str = ""


def callback_check(
    *, name: str, phone: str, topic: str, question: str, credit_code: str = "", district: str = ""
) -> CallbackDraft:
    """Validate the answers; raises ``CallbackError`` naming the first wrong field."""
    answers = {"name": name, "phone": phone, "topic": topic, "question": question, "credit_code": credit_code,
               "district": district}  # fmt: skip
    for field_name, value in answers.items():
        text = str(value)
        if "\x00" in text or any(0xD800 <= ord(c) <= 0xDFFF for c in text):
            raise CallbackError(_("含有无法保存的字符，请删除后重试"), field_name)
    name, topic, question = " ".join(str(name).split()), " ".join(str(topic).split()), str(question).strip()
    phone = "".join(str(phone).split()).replace("-", "").removeprefix("+86")
    credit_code = "".join(str(credit_code).split()).upper()
    district = str(district).strip()
    if not name or len(name) > 100:
        raise CallbackError(_("请输入您的姓名（不超过 100 个字）"), "name")
    if not PHONE.match(phone):
        raise CallbackError(_("请输入 11 位手机号码，例如 13812345678"), "phone")
    if not topic or len(topic) > 200:
        raise CallbackError(_("请输入咨询主题（不超过 200 个字）"), "topic")
    if not question or len(question) > 2000:
        raise CallbackError(_("请描述您的问题（不超过 2000 个字）"), "question")
    if credit_code and not CREDIT_CODE.match(credit_code):
        raise CallbackError(_("统一社会信用代码为 18 位，可不填"), "credit_code")
    if district and district not in DISTRICTS:
        raise CallbackError(_("请选择列表中的区，或不选"), "district")
    return CallbackDraft(name, phone, topic, question, credit_code, district)


def callback_request(
    draft: CallbackDraft,
    *,
    language: str = "zh-hans",
    actor: str = "公众 portal",
    now: datetime | None = None,
) -> CallbackRequest:
    """Submit a checked request: written, counted, acknowledged and routed in one transaction."""
    now = now or timezone.now()
    unit = (
        Unit.objects.filter(credit_code=draft.credit_code).order_by("-snapshot_id").first()
        if draft.credit_code
        else None
    )
    district = (unit.district if unit is not None and unit.district in DISTRICTS else "") or draft.district
    calendar = working_calendar()
    steps = step_times(now, calendar)
    with transaction.atomic():
        for _attempt in range(5):
            try:
                with transaction.atomic():
                    cb = CallbackRequest.objects.create(
                        reference=_reference(), name=draft.name, phone=draft.phone, topic=draft.topic,
                        question=draft.question, credit_code=draft.credit_code,
                        unit_id=unit.unit_id if unit is not None else None, district="",
                        language="en" if language.startswith("en") else "zh-hans", state=C.NEW.value,
                        created_at=now, started_at=now, due_at=steps[2],
                    )  # fmt: skip
                break
            except IntegrityError:  # a reference drawn twice (50 random bits): draw again
                continue
        else:
            raise CallbackError("could not draw a free reference")
        audit_record(actor=actor, action=Action.CALLBACK_REQUESTED, obj_type="callback", obj_id=cb.reference,
                     after={"topic": cb.topic, "unit_id": cb.unit_id, "district_chosen": draft.district})  # fmt: skip
        enquiry_callback_record(ref=cb.reference, topic=cb.topic, actor=actor, unit_id=cb.unit_id,
                                district=district, now=now)  # fmt: skip
        cb = callback_transition(
            pk=cb.pk, to=C.ASSIGNED, actor=ACTOR,
            reason=f"routed to {district or 'the city level'}",
            changes={"district": district, "step": 0, "step_at": steps[0]},
        )  # fmt: skip
        message_queue(
            kind=Kind.CALLBACK_RECEIVED, channel=Channel.SMS, to=cb.phone, key=f"callback:{cb.reference}:received",
            context={"ref": cb.reference, "due": due_text(cb.due_at)}, unit_id=cb.unit_id, language=cb.language,
            actor=actor, now=now,
        )  # fmt: skip
    return cb


# ---- the officer's call and the requester's rating -----------------------------------------------------------


def callback_record_outcome(
    *, pk: int, outcome: str, note: str, actor: str, now: datetime | None = None
) -> CallbackRequest:
    """The officer called: ``assigned → called → answered | unreachable`` with ``note`` (both moves audited)."""
    now = now or timezone.now()
    try:
        target = CallbackState(outcome)
    except ValueError:
        target = C.NEW
    if target not in OUTCOMES:
        raise CallbackError(_("结果须为“已答复”或“未能联系”"), "outcome")
    note = str(note).strip()
    if not note or len(note) > 2000:
        raise CallbackError(_("请填写回电情况说明（不超过 2000 个字）"), "note")
    with transaction.atomic():
        callback_transition(pk=pk, to=C.CALLED, actor=actor, reason="called back",
                            changes={"called_at": now, "called_by": actor, "step_at": None})  # fmt: skip
        return callback_transition(pk=pk, to=target, actor=actor, reason=note,
                                   changes={"outcome": target.value, "outcome_at": now, "note": note})  # fmt: skip


def callback_rate(
    *, pk: int, rating: int, actor: str = "公众 portal", now: datetime | None = None
) -> CallbackRequest:
    """The requester's rating (1–5) of a call-back that has its outcome: 3–5 closes it; 1–2 reopens it for a
    second call, with a new deadline from ``now``."""
    now = now or timezone.now()
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise CallbackError(_("请选择 1 到 5 分"), "rating")
    with transaction.atomic():
        cb = CallbackRequest.objects.select_for_update().get(pk=pk)
        if CallbackState(cb.state) not in OUTCOMES:
            raise CallbackError(_("回电后才能评价"), "rating")
        audit_record(actor=actor, action=Action.CALLBACK_RATED, obj_type="callback", obj_id=cb.reference,
                     before={"rating": cb.rating}, after={"rating": rating})  # fmt: skip
        if rating >= 3:
            return callback_transition(pk=pk, to=C.CLOSED, actor=actor, reason=f"rated {rating}",
                                       changes={"rating": rating, "rated_at": now, "closed_at": now})  # fmt: skip
        steps = step_times(now, working_calendar())
        return callback_transition(
            pk=pk, to=C.ASSIGNED, actor=actor, reason=f"rated {rating}: reopened for a second call",
            changes={"rating": rating, "rated_at": now, "reopened": cb.reopened + 1, "started_at": now,
                     "due_at": steps[2], "step": 0, "step_at": steps[0], "escalated_at": None, "called_at": None,
                     "outcome": ""},
        )  # fmt: skip


# ---- retention (the periods on the portal's /privacy/) --------------------------------------------------------

CALLBACK_RETENTION = timedelta(days=365)


def callbacks_forget(*, now: datetime | None = None) -> int:
    """Blank the requester's name and phone on call-backs closed more than a year before ``now`` (the period on
    /privacy/). The reference, topic, district, outcome and rating stay, so the figures still count them; the
    status page still answers, but no code can be sent any more. Returns how many requests were blanked."""
    now = now or timezone.now()
    return (
        CallbackRequest.objects.filter(state=CallbackState.CLOSED, closed_at__lt=now - CALLBACK_RETENTION)
        .exclude(phone="", name="")
        .update(phone="", name="")
    )


# ---- the sweep (the worker, with a fake clock in tests) -----------------------------------------------------


def _contacts(district: str) -> list[tuple[Channel, str]]:
    """Where the officers of ``district`` (or, for "", the city administrators) are reached."""
    staff = Staff.objects.filter(user__is_active=True)
    staff = (
        staff.filter(role=Role.DISTRICT_OFFICER, district=district)
        if district
        else staff.filter(role=Role.CITY_ADMIN, district__isnull=True)
    )
    out: list[tuple[Channel, str]] = []
    for s in staff.order_by("id"):
        if PHONE.match(s.phone or ""):
            out.append((Channel.SMS, s.phone))
        if EMAIL.match(s.email or ""):
            out.append((Channel.EMAIL, s.email))
    return out


LEVEL = {"zh": "市级", "en": "the city level"}
LEVEL_AGAIN = {"zh": "市级（再次，已超时一倍）", "en": "the city level (again: twice the time passed)"}


@dataclass
class Swept:
    reminded: int = 0
    escalated: int = 0
    messages: int = 0


def callbacks_sweep(*, now: datetime | None = None) -> Swept:
    """Do every deadline step that is due at ``now``: reminders at 50 % and 80 %, escalation at 100 % and
    200 % of the working time. A request that the clock passed by several steps gets them all, once each."""
    now = now or timezone.now()
    done = Swept()
    due = CallbackRequest.objects.filter(state__in=[s.value for s in OPEN], step_at__lte=now)
    calendar: Calendar | None = None
    for pk in list(due.values_list("pk", flat=True)[:1000]):
        calendar = calendar or working_calendar()
        with transaction.atomic():
            cb = CallbackRequest.objects.select_for_update().get(pk=pk)
            if CallbackState(cb.state) not in OPEN or cb.step_at is None or cb.step_at > now:
                continue
            steps = step_times(cb.started_at, calendar)
            while cb.step < len(STEPS) and steps[cb.step] <= now:
                done.messages += _step(cb, cb.step, now)
                if cb.step < 2:
                    done.reminded += 1
                else:
                    done.escalated += 1
                    cb.escalated_at = cb.escalated_at or now
                cb.step += 1
            cb.step_at = steps[cb.step] if cb.step < len(STEPS) else None
            cb.save(update_fields=["step", "step_at", "escalated_at"])
    return done


def _step(cb: CallbackRequest, step: int, now: datetime) -> int:
    escalate = step >= 2
    kind = Kind.CALLBACK_ESCALATED if escalate else Kind.CALLBACK_REMINDER
    context: dict[str, Any] = {"ref": cb.reference, "due": due_text(cb.due_at)}
    if escalate:
        context["level"] = LEVEL if step == 2 else LEVEL_AGAIN
    # reminders go to the district's officers; escalations to the city administrators (and the district)
    contacts = (
        _contacts(cb.district)
        if not escalate
        else _contacts("") + (_contacts(cb.district) if cb.district else [])
    )
    sent = 0
    for channel, to in dict.fromkeys(contacts):
        message_queue(kind=kind, channel=channel, to=to, key=f"callback:{cb.reference}:r{cb.reopened}:s{step}",
                      context=context, unit_id=cb.unit_id, actor=ACTOR, now=now)  # fmt: skip
        sent += 1
    audit_record(actor=ACTOR, action=Action.CALLBACK_ESCALATED if escalate else Action.CALLBACK_REMINDED,
                 obj_type="callback", obj_id=cb.reference,
                 after={"percent": STEPS[step], "district": cb.district, "messages": sent})  # fmt: skip
    return sent


# ---- selectors -----------------------------------------------------------------------------------------------


def callback_by_reference(reference: str) -> CallbackRequest | None:
    return CallbackRequest.objects.filter(reference=reference).first()


def callbacks_all(*, overdue: bool = False, now: datetime | None = None) -> QuerySet[CallbackRequest]:
    """Call-backs, the open ones first by deadline; ``overdue``: open ones past their deadline only."""
    rows = CallbackRequest.objects.all()
    if overdue:
        rows = rows.filter(state__in=[s.value for s in OPEN], due_at__lt=now or timezone.now())
    return rows.order_by("closed_at", "due_at", "id")


def countdown(
    cb: CallbackRequest, *, now: datetime | None = None, calendar: Calendar | None = None
) -> timedelta | None:
    """Working time left until the deadline (negative: overdue); None once it was called."""
    if CallbackState(cb.state) not in OPEN:
        return None
    return working_between(now or timezone.now(), cb.due_at, calendar or working_calendar())


@dataclass(frozen=True)
class DistrictStats:
    district: str
    requests: int
    called: int
    answered: int
    with_outcome: int
    rated: int
    rating_sum: int
    on_time: int

    @property
    def response_rate(self) -> float | None:
        return self.called / self.requests if self.requests else None

    @property
    def resolution_rate(self) -> float | None:
        return self.answered / self.with_outcome if self.with_outcome else None

    @property
    def satisfaction(self) -> float | None:
        return self.rating_sum / self.rated if self.rated else None

    @property
    def on_time_share(self) -> float | None:
        return self.on_time / self.called if self.called else None


def callback_stats(rows: QuerySet[CallbackRequest] | None = None) -> list[DistrictStats]:
    """Per district ("" = city level): response rate (called ÷ requests), resolution rate (answered ÷ those
    with an outcome), satisfaction (mean rating), on-time share (called by the deadline ÷ called)."""
    acc: dict[str, list[int]] = {}
    source = rows if rows is not None else CallbackRequest.objects.all()
    for district, outcome, called_at, due_at, rating in source.values_list(
        "district", "outcome", "called_at", "due_at", "rating"
    ):
        a = acc.setdefault(district, [0] * 7)
        a[0] += 1
        if called_at is not None:
            a[1] += 1
            a[6] += called_at <= due_at
        if outcome:
            a[3] += 1
            a[2] += outcome == C.ANSWERED
        if rating is not None:
            a[4] += 1
            a[5] += rating
    return [DistrictStats(d, *v) for d, v in sorted(acc.items())]

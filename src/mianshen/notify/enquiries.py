"""Enquiries by channel (issue 12 item 5): what units and the public asked, and how, for the outcome statistics.

- ``enquiry_phone_record``: staff record a phone consultation (topic, the unit if known, answered or forwarded);
- ``enquiry_lookup_record``: the portal records a successful lookup sign-in, once per unit and Beijing day
  (a second sign-in the same day returns the first record and writes nothing);
- ``enquiry_callback_record``: a call-back request counts itself (the call-back workflow calls it);
- ``enquiries_by_channel``: the counts per channel (and per outcome) over a range of days.

Each record is written with an ``enquiry.recorded`` audit event in the same transaction.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mianshen.audit.catalogue import Action
from mianshen.audit.services import audit_record
from mianshen.registry.models import Unit

from .models import Enquiry, EnquiryChannel, EnquiryOutcome
from .services import NotifyError

BEIJING = ZoneInfo("Asia/Shanghai")
CREDIT_CODE = re.compile(r"^[0-9A-Z]{18}$")


def _record(
    *, channel: EnquiryChannel, key: str, outcome: EnquiryOutcome, actor: str, topic: str = "",
    unit_id: str | None = None, district: str = "", now: datetime | None = None,
) -> Enquiry:  # fmt: skip
    now = now or timezone.now()
    with transaction.atomic():
        existing = Enquiry.objects.filter(key=key).first()
        if existing is not None:
            return existing
        try:
            with transaction.atomic():
                enquiry = Enquiry.objects.create(
                    channel=channel, key=key, topic=topic, unit_id=unit_id, district=district, outcome=outcome,
                    recorded_by=actor, day=now.astimezone(BEIJING).date(), at=now,
                )  # fmt: skip
        except IntegrityError:  # recorded by a concurrent call
            return Enquiry.objects.get(key=key)
        audit_record(actor=actor, action=Action.ENQUIRY_RECORDED, obj_type="enquiry", obj_id=str(enquiry.pk),
                     after={"channel": channel.value, "outcome": outcome.value, "unit_id": unit_id,
                            "topic": topic[:200]})  # fmt: skip
    return enquiry


class EnquiryError(NotifyError):
    """A phone consultation refused; ``field`` names the form field."""

    def __init__(self, message: Any, field: str = "") -> None:
        super().__init__(str(message))
        self.field = field


def unit_by_credit_code(credit_code: str) -> tuple[str, str] | None:
    """(unit id, district) of the unit with ``credit_code`` in the newest snapshot that lists it, or None."""
    code = "".join(credit_code.split()).upper()
    row = (
        Unit.objects.filter(credit_code=code)
        .order_by("-snapshot_id")
        .values_list("unit_id", "district")
        .first()
        if code
        else None
    )
    return (row[0], row[1] or "") if row else None


def enquiry_phone_record(
    *, topic: str, outcome: str, actor: str, unit_id: str | None = None, district: str = "",
    credit_code: str = "", now: datetime | None = None,
) -> Enquiry:  # fmt: skip
    """A phone consultation, as the officer who took it records it. ``credit_code`` (when the caller gave it)
    names the unit: its unit id and district are taken from the newest snapshot; an unknown or malformed code
    is refused (``EnquiryError`` with ``field="credit_code"``) rather than recorded against no one."""
    topic = topic.strip()
    if not topic:
        raise EnquiryError(_("请填写咨询主题"), "topic")
    if len(topic) > 200:
        raise EnquiryError(_("咨询主题不超过 200 字"), "topic")
    if outcome not in (EnquiryOutcome.ANSWERED, EnquiryOutcome.FORWARDED):
        raise EnquiryError(_("请选择已答复或已转办"), "outcome")
    code = "".join(credit_code.split()).upper()
    if code:
        if not CREDIT_CODE.match(code):
            raise EnquiryError(_("统一社会信用代码应为 18 位"), "credit_code")
        found = unit_by_credit_code(code)
        if found is None:
            raise EnquiryError(_("数据快照中没有该统一社会信用代码的单位"), "credit_code")
        unit_id, district = found[0], found[1] or district
    return _record(channel=EnquiryChannel.PHONE, key=f"phone:{uuid.uuid4().hex}", outcome=EnquiryOutcome(outcome),
                   actor=actor, topic=topic, unit_id=(unit_id or "").strip() or None, district=district, now=now)  # fmt: skip


def enquiry_lookup_record(*, unit_id: str, actor: str = "portal", now: datetime | None = None) -> Enquiry:
    """A successful lookup sign-in of ``unit_id``: counted once per unit and Beijing day."""
    if not unit_id.strip():
        raise NotifyError("a lookup sign-in is of a unit")
    now = now or timezone.now()
    day = now.astimezone(BEIJING).date()
    return _record(channel=EnquiryChannel.LOOKUP, key=f"lookup:{unit_id.strip()}:{day.isoformat()}",
                   outcome=EnquiryOutcome.SIGNED_IN, actor=actor, unit_id=unit_id.strip(), now=now)  # fmt: skip


def enquiry_callback_record(
    *,
    ref: str,
    topic: str,
    actor: str,
    unit_id: str | None = None,
    district: str = "",
    now: datetime | None = None,
) -> Enquiry:
    """A call-back request (its reference ``ref``): counted once."""
    return _record(channel=EnquiryChannel.CALLBACK, key=f"callback:{ref}", outcome=EnquiryOutcome.FORWARDED,
                   actor=actor, topic=topic.strip()[:200], unit_id=unit_id, district=district, now=now)  # fmt: skip


def enquiries_by_channel(*, first: date | None = None, last: date | None = None) -> dict[str, dict[str, int]]:
    """``{channel: {"total": n, outcome: n, …}}`` for enquiries from ``first`` to ``last`` (Beijing days,
    inclusive); every channel present, with 0 when none."""
    rows = Enquiry.objects.all()
    if first is not None:
        rows = rows.filter(day__gte=first)
    if last is not None:
        rows = rows.filter(day__lte=last)
    out: dict[str, dict[str, int]] = {c.value: {"total": 0} for c in EnquiryChannel}
    for channel, outcome, n in rows.values_list("channel", "outcome").annotate(n=Count("id")).order_by():
        out[channel][outcome] = n
        out[channel]["total"] += n
    return out


def enquiries_recent(rows: QuerySet[Enquiry] | None = None, *, channel: str = "") -> QuerySet[Enquiry]:
    """Enquiries newest first (``rows``: already scoped by the caller), optionally of one channel."""
    rows = Enquiry.objects.all() if rows is None else rows
    if channel in EnquiryChannel.values:
        rows = rows.filter(channel=channel)
    return rows.order_by("-at", "-id")

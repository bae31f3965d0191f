"""Enquiries by channel (issue 12 item 5): what units and the public asked, and how, for the outcome statistics.

- ``enquiry_phone_record``: staff record a phone consultation (topic, the unit if known, answered or forwarded);
- ``enquiry_lookup_record``: the portal records a successful lookup sign-in, once per unit and Beijing day
  (a second sign-in the same day returns the first record and writes nothing);
- ``enquiry_callback_record``: a call-back request counts itself (the call-back workflow calls it);
- ``enquiries_by_channel``: the counts per channel (and per outcome) over a range of days.

Each record is written with an ``enquiry.recorded`` audit event in the same transaction.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from mianshen.audit.catalogue import Action
from mianshen.audit.services import audit_record

from .models import Enquiry, EnquiryChannel, EnquiryOutcome
from .services import NotifyError

BEIJING = ZoneInfo("Asia/Shanghai")


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


def enquiry_phone_record(
    *, topic: str, outcome: str, actor: str, unit_id: str | None = None, district: str = "",
    now: datetime | None = None,
) -> Enquiry:  # fmt: skip
    """A phone consultation, as the officer who took it records it."""
    topic = topic.strip()
    if not topic:
        raise NotifyError("a phone consultation needs its topic")
    if outcome not in (EnquiryOutcome.ANSWERED, EnquiryOutcome.FORWARDED):
        raise NotifyError("the outcome of a phone consultation is answered or forwarded")
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

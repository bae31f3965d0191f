"""Enquiries by channel (issue 12 item 5): phone consultations, lookup sign-ins once per unit and day, call-backs;
counted by channel; each recorded with an audit event; the command line."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.notify.enquiries import (
    EnquiryError,
    enquiries_by_channel,
    enquiry_callback_record,
    enquiry_lookup_record,
    enquiry_phone_record,
)
from mianshen.notify.models import Enquiry
from mianshen.notify.services import NotifyError

pytestmark = pytest.mark.django_db


def test_lookup_sign_ins_count_once_per_unit_and_beijing_day() -> None:
    morning = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 Beijing
    a = enquiry_lookup_record(unit_id="U1", now=morning)
    b = enquiry_lookup_record(unit_id="U1", now=morning + timedelta(hours=14))  # 23:00 Beijing, same day
    c = enquiry_lookup_record(unit_id="U1", now=morning + timedelta(hours=16))  # 01:00 Beijing, next day
    enquiry_lookup_record(unit_id="U2", now=morning)
    assert a.pk == b.pk != c.pk and (a.day, c.day) == (date(2026, 3, 2), date(2026, 3, 3))
    assert Enquiry.objects.count() == 3
    assert AuditEvent.objects.filter(action=Action.ENQUIRY_RECORDED).count() == 3


def test_counts_by_channel_and_outcome() -> None:
    now = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    enquiry_phone_record(topic="何时到账", outcome="answered", actor="officer", unit_id="U1", now=now)
    enquiry_phone_record(topic="账户变更", outcome="forwarded", actor="officer", now=now)
    enquiry_phone_record(topic="政策咨询", outcome="answered", actor="officer", now=now + timedelta(days=3))
    enquiry_lookup_record(unit_id="U1", now=now)
    enquiry_callback_record(ref="C-0123456789", topic="为何未列入", actor="portal", now=now)
    enquiry_callback_record(
        ref="C-0123456789", topic="为何未列入", actor="portal", now=now
    )  # counts itself once
    counts = enquiries_by_channel(first=date(2026, 3, 2), last=date(2026, 3, 2))
    assert counts == {
        "phone": {"total": 2, "answered": 1, "forwarded": 1},
        "lookup": {"total": 1, "signed_in": 1},
        "callback": {"total": 1, "forwarded": 1},
    }
    assert enquiries_by_channel()["phone"]["total"] == 3
    assert enquiries_by_channel(first=date(2026, 4, 1)) == {"phone": {"total": 0}, "lookup": {"total": 0},
                                                            "callback": {"total": 0}}  # fmt: skip


def test_bad_input_is_refused() -> None:
    with pytest.raises(EnquiryError) as topic:
        enquiry_phone_record(topic=" ", outcome="answered", actor="o")
    assert topic.value.field == "topic" and isinstance(topic.value, NotifyError)
    with pytest.raises(EnquiryError) as outcome:
        enquiry_phone_record(topic="x", outcome="signed_in", actor="o")
    assert outcome.value.field == "outcome"
    for code, why in (("91110105MA0000000", "18"), ("91110105MA00000099", "没有")):  # too short; unknown
        with pytest.raises(EnquiryError, match=why) as bad:
            enquiry_phone_record(topic="x", outcome="answered", actor="o", credit_code=code)
        assert bad.value.field == "credit_code"
    with pytest.raises(NotifyError):
        enquiry_lookup_record(unit_id=" ")
    assert not Enquiry.objects.exists()


def _staff(name: str) -> None:
    from django.contrib.auth import get_user_model

    from mianshen.staff.roles import Staff

    Staff.objects.create(
        user=get_user_model().objects.create_user(name), role="district_officer", district="110105"
    )


def test_the_command_line() -> None:
    _staff("li")
    out = io.StringIO()
    call_command("notify", "enquiry", "--topic", "何时到账", "--outcome", "answered", "--unit", "U9", "--actor", "li",
                 stdout=out)  # fmt: skip
    assert "recorded: phone, answered" in out.getvalue()
    out = io.StringIO()
    call_command("notify", "enquiries", "--json", stdout=out)
    assert json.loads(out.getvalue())["phone"] == {"total": 1, "answered": 1}
    for args in (["enquiry", "--topic", " ", "--outcome", "answered", "--actor", "li"],
                 ["enquiry", "--topic", "x", "--outcome", "answered", "--actor", "nobody"],
                 ["enquiries", "--from", "2026-03-05", "--to", "2026-03-01"]):  # fmt: skip
        with pytest.raises(CommandError) as info:
            call_command("notify", *args, stdout=io.StringIO(), stderr=io.StringIO())
        assert info.value.returncode == 2 and "\n" not in str(info.value)

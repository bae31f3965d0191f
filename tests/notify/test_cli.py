"""`mianshen notify outbox|send` (contracts §3, §4): JSON with the agreed keys, masked addresses, one-time codes
hidden unless --unmask (audited), bad input one line and exit 2."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.notify.kinds import benefit
from mianshen.notify.models import Message
from mianshen.notify.services import message_queue

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def refused(*args: str) -> str:
    with pytest.raises(CommandError) as info:
        call_command(*args, stdout=io.StringIO(), stderr=io.StringIO())
    assert info.value.returncode == 2 and "\n" not in str(info.value)
    return str(info.value)


def _two() -> tuple[Message, Message]:
    code = message_queue(kind="otp", channel="sms", to="13812345678", key="otp:1", context={"code": "482913"})
    paid = message_queue(kind="paid", channel="inbox", to="U000001", key="case1:paid:v5", unit_id="U000001",
                         context={**benefit("beijing-2021"), "unit_name": "甲公司", "amount": "12,345.67", "date": "2021-08-02", "last4": "0042"})  # fmt: skip
    return code, paid


def test_outbox_json_masks_and_hides_codes() -> None:
    code, paid = _two()
    out, _ = run("notify", "outbox", "--json")
    items = json.loads(out)
    assert [i["id"] for i in items] == [code.pk, paid.pk]
    for item in items:
        assert {"id", "kind", "channel", "to", "unit_id", "state", "created_at", "body"} <= set(item)
    first, second = items
    assert first["to"] == "138****5678" and "482913" not in json.dumps(first) and "******" in first["body"]
    assert first["unit_id"] is None and first["state"] == "queued"
    assert second["unit_id"] == "U000001" and "12,345.67 元" in second["body"] and "0042" in second["body"]
    assert not AuditEvent.objects.filter(action=Action.NOTIFICATION_UNMASKED).exists()


def test_unmask_shows_everything_and_is_audited() -> None:
    _two()
    out, _ = run("notify", "outbox", "--json", "--unmask", "--kind", "otp")
    [item] = json.loads(out)
    assert item["to"] == "13812345678" and "482913" in item["body"]
    event = AuditEvent.objects.get(action=Action.NOTIFICATION_UNMASKED)
    assert event.after["messages"] == 1 and event.after["kind"] == "otp"


def test_outbox_filters_and_table() -> None:
    _two()
    out, err = run("notify", "outbox", "--to", "U000001")
    assert "paid" in out and "otp" not in out and "1 message(s)" in err
    out, _ = run("notify", "outbox", "--json", "--to", "13812345678")
    assert len(json.loads(out)) == 1


def test_bad_input_is_one_line() -> None:
    assert "unknown kind 'bogus'" in refused("notify", "outbox", "--kind", "bogus")
    assert "--limit" in refused("notify", "send", "--limit", "0")


def test_send_delivers_to_files(settings: Any) -> None:
    code, _paid = _two()
    out, _ = run("notify", "send")
    assert "delivered 2" in out
    assert (Path(settings.NOTIFY_OUTBOX_DIR) / "sms" / f"{code.pk}.txt").exists()
    out, _ = run("notify", "outbox", "--json")
    assert {i["state"] for i in json.loads(out)} == {"delivered"}


def test_masking_by_channel() -> None:
    from mianshen.notify.services import mask

    assert mask("13812345678", "sms") == "138****5678"
    assert mask("11069355579", "inbox") == "11069355579"  # a unit id (digits): the inbox address, not a phone
    assert mask("someone@example.com", "email") == "s***@example.com"

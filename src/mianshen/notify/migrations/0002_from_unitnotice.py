"""Carry the payment side's placeholder notices (payments.UnitNotice, never sent to anyone) into the outbox as
queued inbox messages of the unit, before payments drops that table (payments 0010)."""

from django.db import migrations
from django.utils import timezone


def forwards(apps, schema_editor):
    UnitNotice = apps.get_model("payments", "UnitNotice")
    Message = apps.get_model("notify", "Message")
    now = timezone.now()
    batch = []
    for n in UnitNotice.objects.select_related("case").order_by("id").iterator():
        kind = "no_account" if n.kind == "no_account" else "payment_failed"
        batch.append(
            Message(kind=kind, channel="inbox", to=n.case.unit_id, event=n.key, unit_id=n.case.unit_id,
                    case_id=n.case_id, params={"carried_from": "payments.UnitNotice", "reason_code": n.reason_code},
                    body_zh=n.text_zh, body_en=n.text_en, state="queued", next_attempt_at=now, created_at=n.created_at)
        )
        if len(batch) >= 1000:
            Message.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    Message.objects.bulk_create(batch, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("notify", "0001_initial"),
        ("payments", "0009_upload_lease_and_quarantine_holds"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

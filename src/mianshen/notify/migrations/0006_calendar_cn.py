"""Seed the official 2021–2026 holiday calendar (data/calendar_cn.toml: the State Council's notices): the days off
into ``payments.Holiday`` and the make-up working days (调休) into ``notify.MakeUpWorkday``. Idempotent: days
already there are kept as they are; reversing removes only the rows whose day and name match the file."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def _years() -> Any:
    from mianshen.notify.workingtime import official_years

    return official_years()


def seed(apps: Any, schema_editor: Any) -> None:
    Holiday = apps.get_model("payments", "Holiday")
    MakeUpWorkday = apps.get_model("notify", "MakeUpWorkday")
    for y in _years():
        Holiday.objects.bulk_create(
            [Holiday(day=d, name=name) for d, name in sorted(y.holidays.items())], ignore_conflicts=True
        )
        MakeUpWorkday.objects.bulk_create(
            [MakeUpWorkday(day=d, name=name) for d, name in sorted(y.workdays.items())], ignore_conflicts=True
        )


def unseed(apps: Any, schema_editor: Any) -> None:
    Holiday = apps.get_model("payments", "Holiday")
    MakeUpWorkday = apps.get_model("notify", "MakeUpWorkday")
    for y in _years():
        for d, name in y.holidays.items():
            Holiday.objects.filter(day=d, name=name).delete()
        for d, name in y.workdays.items():
            MakeUpWorkday.objects.filter(day=d, name=name).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("notify", "0005_callbacks"),
        ("payments", "0001_initial"),
    ]

    operations = [migrations.RunPython(seed, unseed)]

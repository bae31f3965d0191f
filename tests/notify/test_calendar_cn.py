"""The official 2021–2026 holiday calendar (data/calendar_cn.toml, the State Council's notices) seeded by the data
migration notify/0006_calendar_cn, and call-back deadlines that cross a make-up Saturday (调休) or a holiday."""

from __future__ import annotations

import importlib
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from django.apps import apps as django_apps

from mianshen.notify.callbacks import callback_check, callback_request, working_calendar
from mianshen.notify.models import MakeUpWorkday
from mianshen.notify.workingtime import (
    BEIJING,
    WORKING_DAY,
    CalendarError,
    add_working,
    official_calendar,
    official_years,
)
from mianshen.payments.models import Holiday

seed_migration = importlib.import_module("mianshen.notify.migrations.0006_calendar_cn")


def bj(*args: int) -> datetime:
    return datetime(*args, tzinfo=BEIJING)


def test_every_year_2021_to_2026_cites_its_notice_and_keeps_to_the_rules() -> None:
    years = official_years()
    assert [y.year for y in years] == [2021, 2022, 2023, 2024, 2025, 2026]
    for y in years:
        assert f"{y.year}年部分节假日安排的通知" in y.notice and y.source.startswith("http")
        assert y.issued.year == y.year - 1  # announced the year before
        assert all(d.weekday() >= 5 for d in y.workdays)  # a make-up day is a Saturday or a Sunday
        assert not set(y.workdays) & set(y.holidays)
    by_year = {y.year: y for y in years}
    # worked examples straight from the notices
    assert by_year[2021].workdays[date(2021, 2, 7)] == "春节调休"  # 2月7日（星期日）上班
    assert date(2023, 6, 25) in by_year[2023].workdays  # 端午节：6月25日（星期日）上班
    assert len(by_year[2026].holidays) == 3 + 9 + 3 + 5 + 3 + 3 + 7
    assert sorted(by_year[2026].workdays) == [date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28),
                                              date(2026, 5, 9), date(2026, 9, 20), date(2026, 10, 10)]  # fmt: skip
    assert date(2025, 10, 8) in by_year[2025].holidays  # 国庆节、中秋节 10月1日至8日


def test_a_file_that_contradicts_itself_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "cal.toml"
    bad.write_text(
        '[[year]]\nyear = 2026\nnotice = "n"\nissued = 2025-11-04\nsource = "s"\n'
        'holidays = [{ name = "国庆节", days = ["2026-10-01", "2026-10-07"], total = 7 }]\n'
        'workdays = [{ name = "x", day = "2026-10-09" }]\n',  # a Friday
        encoding="utf-8",
    )
    with pytest.raises(CalendarError, match="2026-10-09"):
        official_years(bad)
    bad.write_text(bad.read_text(encoding="utf-8").replace("total = 7", "total = 8"), encoding="utf-8")
    with pytest.raises(CalendarError, match="not 8 days"):
        official_years(bad)


def test_the_official_calendar_moves_a_deadline_across_a_make_up_saturday() -> None:
    cal = official_calendar()
    # Fri 9 Oct 2026 16:00, the day after National Day week; Sat 10 Oct is worked (调休): due Sat 16:00
    assert add_working(bj(2026, 10, 9, 16, 0), WORKING_DAY, cal) == bj(2026, 10, 10, 16, 0)
    # Wed 30 Sep 2026 16:00: 1–7 Oct off → one working hour left on Thu 8 Oct
    assert add_working(bj(2026, 9, 30, 16, 0), WORKING_DAY, cal) == bj(2026, 10, 8, 16, 0)
    # Sun 20 Sep 2026 is worked: a request on Fri 18 Sep 16:00 skips Sat 19th and is due Sun 16:00, not Mon
    assert add_working(bj(2026, 9, 18, 16, 0), WORKING_DAY, cal) == bj(2026, 9, 20, 16, 0)


@pytest.mark.django_db
def test_the_migration_seeds_the_tables_and_deadlines_use_them() -> None:
    seed_migration.seed(django_apps, None)
    seed_migration.seed(django_apps, None)  # again: idempotent
    years = official_years()
    assert MakeUpWorkday.objects.count() >= sum(len(y.workdays) for y in years)
    assert MakeUpWorkday.objects.get(day=date(2026, 2, 28)).name == "春节调休"
    assert Holiday.objects.get(day=date(2026, 2, 17)).name == "春节"
    cal = working_calendar()
    assert cal.is_working_day(date(2026, 2, 14)) and not cal.is_working_day(date(2026, 2, 16))
    # the call-back service: a request on Fri 13 Feb 2026 at 16:00 (the Spring Festival break starts Sun 15th;
    # Sat 14th is worked) is due on Saturday 14th at 16:00
    draft = callback_check(name="张三", phone="13800138000", topic="何时到账", question="返还何时到账？",
                           credit_code="", district="110105")  # fmt: skip
    cb = callback_request(draft, now=bj(2026, 2, 13, 16, 0))
    assert cb.due_at == bj(2026, 2, 14, 16, 0)
    # and one on that Saturday's afternoon waits out the whole break: 1 h on Sat, 7 h on Tue 24 Feb
    cb2 = callback_request(draft, now=bj(2026, 2, 14, 16, 0))
    assert cb2.due_at == bj(2026, 2, 24, 16, 0)
    seed_migration.unseed(django_apps, None)
    assert not MakeUpWorkday.objects.filter(day=date(2026, 2, 28)).exists()
    assert not Holiday.objects.filter(day=date(2026, 2, 17)).exists()
    assert working_calendar().is_working_day(date(2026, 2, 14)) is False
    assert timedelta(0) < WORKING_DAY

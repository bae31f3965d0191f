"""Working time for call-back deadlines (contracts §4), pure (no Django, no database).

Working time is 09:00–17:00 Asia/Shanghai on working days. A working day is a weekday that is not a holiday, or
a make-up working day (调休: a Saturday or Sunday worked in exchange for a holiday), whatever its weekday. One
working day is 8 working hours, so "one working day" from 16:00 on a Friday ends at 16:00 on the next working
day. ``add_working`` and ``working_between`` are inverse to each other (tests/notify/test_workingtime.py checks
it with hypothesis).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")
WORK_START = time(9, 0)
WORK_END = time(17, 0)
WORKING_DAY = timedelta(hours=8)  # one working day
_LIMIT_DAYS = 3660  # a calendar with no working day for ten years is a broken calendar
OFFICIAL_CALENDAR = Path(__file__).with_name("data") / "calendar_cn.toml"


class CalendarError(ValueError):
    """The calendar has no working day in reach."""


@dataclass(frozen=True)
class Calendar:
    """Holidays (days off on a weekday) and make-up working days (调休: a weekend day worked)."""

    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def of(cls, holidays: Iterable[date] = (), workdays: Iterable[date] = ()) -> Calendar:
        return cls(frozenset(holidays), frozenset(workdays))

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays


def _local(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("working time needs an aware datetime")
    return at.astimezone(BEIJING).replace(
        tzinfo=None
    )  # Beijing has no daylight saving: naive arithmetic holds


def _aware(local: datetime) -> datetime:
    return local.replace(tzinfo=BEIJING)


def add_working(start: datetime, amount: timedelta, calendar: Calendar) -> datetime:
    """The moment ``amount`` of working time after ``start`` (Beijing time, aware). ``amount`` 0 gives the first
    working moment at or after ``start``; a deadline never ends at 17:00 of one day and 09:00 of the next both:
    it is the earlier (the end of the day that used up the amount)."""
    if amount < timedelta(0):
        raise ValueError("amount must not be negative")
    cursor = _local(start)
    remaining = amount
    for _ in range(_LIMIT_DAYS * 2):
        day = cursor.date()
        begin, end = datetime.combine(day, WORK_START), datetime.combine(day, WORK_END)
        if not calendar.is_working_day(day) or cursor >= end:
            cursor = datetime.combine(day + timedelta(days=1), WORK_START)
            continue
        cursor = max(cursor, begin)
        available = end - cursor
        if remaining <= available and (remaining > timedelta(0) or cursor < end):
            return _aware(cursor + remaining)
        remaining -= available
        cursor = datetime.combine(day + timedelta(days=1), WORK_START)
    raise CalendarError("no working day within ten years: check the holiday calendar")


def working_between(a: datetime, b: datetime, calendar: Calendar) -> timedelta:
    """Working time from ``a`` to ``b`` (negative when ``b`` is before ``a``)."""
    if b < a:
        return -working_between(b, a, calendar)
    la, lb = _local(a), _local(b)
    total = timedelta(0)
    day = la.date()
    while day <= lb.date():
        if calendar.is_working_day(day):
            begin = max(la, datetime.combine(day, WORK_START))
            end = min(lb, datetime.combine(day, WORK_END))
            if end > begin:
                total += end - begin
        day += timedelta(days=1)
    return total


def in_working_time(at: datetime, calendar: Calendar) -> bool:
    local = _local(at)
    return calendar.is_working_day(local.date()) and WORK_START <= local.time() <= WORK_END


@dataclass(frozen=True)
class OfficialYear:
    """One year of the State Council's holiday notice (``data/calendar_cn.toml``)."""

    year: int
    notice: str
    issued: date
    source: str
    holidays: dict[date, str]  # every day off of the breaks, weekend days included
    workdays: dict[date, str]  # the make-up working days (调休上班)


def official_years(path: Path = OFFICIAL_CALENDAR) -> list[OfficialYear]:
    """The official holidays and make-up working days, year by year, as the notices announced them. Raises
    ``CalendarError`` when the file contradicts itself (a make-up day on a weekday, a break whose length is not
    the notice's 共N天, a day both off and worked)."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    out: list[OfficialYear] = []
    for y in data["year"]:
        holidays: dict[date, str] = {}
        for h in y["holidays"]:
            first, last = (date.fromisoformat(d) for d in h["days"])
            if (last - first).days + 1 != h["total"]:
                raise CalendarError(f"{y['year']} {h['name']}: {first}..{last} is not {h['total']} days")
            for n in range(h["total"]):
                holidays[first + timedelta(days=n)] = h["name"]
        workdays: dict[date, str] = {}
        for w in y["workdays"]:
            day = date.fromisoformat(w["day"])
            if day.weekday() < 5 or day in holidays:
                raise CalendarError(f"{y['year']}: make-up working day {day} is a weekday or a holiday")
            workdays[day] = w["name"]
        out.append(OfficialYear(y["year"], y["notice"], y["issued"], y["source"], holidays, workdays))
    return out


def official_calendar(path: Path = OFFICIAL_CALENDAR) -> Calendar:
    """The official calendar of ``data/calendar_cn.toml`` alone (what the data migration seeds)."""
    years = official_years(path)
    return Calendar.of((d for y in years for d in y.holidays), (d for y in years for d in y.workdays))

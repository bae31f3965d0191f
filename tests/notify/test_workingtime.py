"""Working time for call-back deadlines (contracts §4): 09:00–17:00 Beijing on working days of a calendar with
holidays and make-up working days (调休); property tests with hypothesis, and worked examples."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mianshen.notify.workingtime import (
    BEIJING,
    WORKING_DAY,
    Calendar,
    CalendarError,
    add_working,
    in_working_time,
    working_between,
)

# 2026: the National Day week off (Oct 1–7 holidays on weekdays), Sat Oct 10 a make-up working day
CAL = Calendar.of(
    holidays=[date(2026, 10, d) for d in (1, 2, 5, 6, 7)] + [date(2026, 1, 1), date(2026, 1, 2)],
    workdays=[date(2026, 10, 10), date(2026, 1, 4)],
)


def bj(*args: int) -> datetime:
    return datetime(*args, tzinfo=BEIJING)


def test_one_working_day_from_a_friday_afternoon_ends_the_next_working_day() -> None:
    assert add_working(bj(2026, 12, 4, 16, 0), WORKING_DAY, CAL) == bj(2026, 12, 7, 16, 0)  # Fri → Mon


def test_before_nine_and_after_five_start_at_the_next_opening() -> None:
    assert add_working(bj(2026, 12, 7, 7, 30), timedelta(hours=4), CAL) == bj(2026, 12, 7, 13, 0)
    assert add_working(bj(2026, 12, 7, 18, 0), timedelta(hours=4), CAL) == bj(2026, 12, 8, 13, 0)


def test_holidays_are_skipped_and_make_up_days_are_worked() -> None:
    # Wed Sep 30 16:00 + 8h: Oct 1–7 off (Sat/Sun 3, 4 weekend too), Thu Oct 8 16:00
    assert add_working(bj(2026, 9, 30, 16, 0), WORKING_DAY, CAL) == bj(2026, 10, 8, 16, 0)
    # Fri Oct 9 10:00 + 8h: Sat Oct 10 is a make-up working day
    assert add_working(bj(2026, 10, 9, 10, 0), WORKING_DAY, CAL) == bj(2026, 10, 10, 10, 0)
    # Sun Jan 4 2026 is worked (make-up), Jan 1–2 off
    assert add_working(bj(2025, 12, 31, 17, 0), timedelta(hours=1), CAL) == bj(2026, 1, 4, 10, 0)


def test_an_amount_that_ends_at_five_ends_at_five_not_at_nine_next_day() -> None:
    assert add_working(bj(2026, 12, 7, 9, 0), WORKING_DAY, CAL) == bj(2026, 12, 7, 17, 0)


def test_utc_in_utc_out_same_instant() -> None:
    start = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # 09:00 Beijing
    assert add_working(start, timedelta(hours=2), CAL) == datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        add_working(datetime(2026, 1, 5, 9), WORKING_DAY, CAL)
    with pytest.raises(ValueError, match="negative"):
        add_working(bj(2026, 1, 5, 9), -WORKING_DAY, CAL)
    never = Calendar.of(holidays=[date(2026, 1, 1) + timedelta(days=i) for i in range(8000)])
    with pytest.raises(CalendarError):
        add_working(bj(2026, 1, 1, 9), WORKING_DAY, never)


# ---- properties ----------------------------------------------------------------------------------------------

starts = st.datetimes(min_value=datetime(2025, 12, 1), max_value=datetime(2027, 1, 31)).map(
    lambda d: d.replace(tzinfo=BEIJING)
)
amounts = st.integers(min_value=0, max_value=5 * 8 * 3600).map(lambda s: timedelta(seconds=s))
days = st.dates(min_value=date(2025, 12, 1), max_value=date(2027, 3, 31))
calendars = st.builds(Calendar.of, st.lists(days, max_size=30), st.lists(days, max_size=10))


@settings(max_examples=300, deadline=None)
@given(starts, amounts, calendars)
def test_working_between_inverts_add_working(start: datetime, amount: timedelta, cal: Calendar) -> None:
    end = add_working(start, amount, cal)
    assert end >= start
    assert working_between(start, end, cal) == amount


@settings(max_examples=300, deadline=None)
@given(starts, amounts, calendars)
def test_a_positive_amount_ends_in_working_time(start: datetime, amount: timedelta, cal: Calendar) -> None:
    end = add_working(start, amount, cal)
    assert in_working_time(end, cal)
    if amount > timedelta(0):
        assert end > start


@settings(max_examples=300, deadline=None)
@given(starts, amounts, amounts, calendars)
def test_adding_is_additive_and_monotone(start: datetime, a: timedelta, b: timedelta, cal: Calendar) -> None:
    assert add_working(add_working(start, a, cal), b, cal) == add_working(start, a + b, cal)
    lo, hi = sorted((a, b))
    assert add_working(start, lo, cal) <= add_working(start, hi, cal)


@settings(max_examples=200, deadline=None)
@given(starts, starts, calendars)
def test_working_between_is_antisymmetric_and_bounded(a: datetime, b: datetime, cal: Calendar) -> None:
    assert working_between(a, b, cal) == -working_between(b, a, cal)
    span = working_between(min(a, b), max(a, b), cal)
    assert timedelta(0) <= span <= max(a, b) - min(a, b)

"""Business time on one country's calendar: weekends and public holidays (UK and DE differ)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from slo_helpers import utc

from foundation.business_time import BusinessCalendar, resolve_deadline
from store.canonical import NaiveTimestampError

UK = BusinessCalendar("GB")
DE = BusinessCalendar("DE")
WEEKENDS = BusinessCalendar()


@pytest.mark.parametrize(
    ("calendar", "day", "business"),
    [
        (WEEKENDS, "2024-05-01", True),
        (DE, "2024-05-01", False),  # Tag der Arbeit
        (UK, "2024-05-01", True),
        (DE, "2024-05-06", True),
        (UK, "2024-05-06", False),  # Early May bank holiday
        (UK, "2024-05-04", False),  # Saturday
        (DE, "2024-10-03", False),  # Tag der Deutschen Einheit
        (UK, "2024-10-03", True),
    ],
)
def test_business_days_follow_weekends_and_the_countrys_holidays(
    calendar: BusinessCalendar, day: str, business: bool
) -> None:
    assert calendar.is_business_day(datetime.fromisoformat(day).date()) is business


@pytest.mark.parametrize(
    ("calendar", "start", "end", "days"),
    [
        (WEEKENDS, utc(2024, 5, 3, 12), utc(2024, 5, 6, 12), 1.0),  # Fri noon → Mon noon
        (WEEKENDS, utc(2024, 5, 4), utc(2024, 5, 6), 0.0),  # a weekend
        (UK, utc(2024, 4, 29), utc(2024, 5, 8), 6.0),  # 9 days: weekend + May 6 off
        (DE, utc(2024, 4, 29), utc(2024, 5, 8), 6.0),  # 9 days: weekend + May 1 off
        (DE, utc(2024, 4, 30), utc(2024, 5, 3), 2.0),  # Tue, (Wed off), Thu
        (UK, utc(2024, 4, 30), utc(2024, 5, 3), 3.0),
        (WEEKENDS, utc(2024, 5, 6), utc(2024, 5, 6), 0.0),
        (WEEKENDS, utc(2024, 5, 7), utc(2024, 5, 6), 0.0),  # reversed: nothing
    ],
)
def test_business_days_between_two_instants(
    calendar: BusinessCalendar, start: datetime, end: datetime, days: float
) -> None:
    assert calendar.business_days(start, end) == pytest.approx(days)


@pytest.mark.parametrize(
    ("calendar", "end", "span", "start"),
    [
        (WEEKENDS, utc(2024, 5, 6, 1), timedelta(hours=2), utc(2024, 5, 3, 23)),
        (WEEKENDS, utc(2024, 5, 8, 12), timedelta(days=5), utc(2024, 5, 1, 12)),
        (DE, utc(2024, 5, 2, 10), timedelta(days=1), utc(2024, 4, 30, 10)),  # skips May 1
        (UK, utc(2024, 5, 2, 10), timedelta(days=1), utc(2024, 5, 1, 10)),
        (
            UK,
            utc(2024, 5, 7, 10),
            timedelta(days=1),
            utc(2024, 5, 3, 10),
        ),  # skips the weekend and May 6
        (DE, utc(2024, 5, 7, 10), timedelta(days=1), utc(2024, 5, 6, 10)),
        (WEEKENDS, utc(2024, 5, 6), timedelta(0), utc(2024, 5, 6)),
    ],
)
def test_a_business_window_reaches_back_over_weekends_and_holidays(
    calendar: BusinessCalendar, end: datetime, span: timedelta, start: datetime
) -> None:
    assert calendar.subtract(end, span) == start
    assert calendar.business_time(start, end) == span


@pytest.mark.parametrize(
    ("calendar", "since", "deadline"),
    [
        (WEEKENDS, utc(2024, 5, 3, 15), utc(2024, 5, 7, 15)),  # Fri 15:00 + 2 bd → Tue 15:00
        (WEEKENDS, utc(2024, 5, 4, 9), utc(2024, 5, 8)),  # won on Saturday: counts from Monday
        (DE, utc(2024, 4, 30, 9), utc(2024, 5, 3, 9)),  # May 1 does not count in Germany
        (UK, utc(2024, 4, 30, 9), utc(2024, 5, 2, 9)),
    ],
)
def test_deadlines_in_business_days(
    calendar: BusinessCalendar, since: datetime, deadline: datetime
) -> None:
    assert resolve_deadline(since, 2, "business_days", calendar) == deadline


def test_calendar_and_hour_limits_ignore_the_calendar() -> None:
    assert resolve_deadline(utc(2024, 5, 3), 60, "days", DE) == utc(2024, 7, 2)
    assert resolve_deadline(utc(2024, 5, 3), 6, "hours", DE) == utc(2024, 5, 3, 6)


def test_days_follow_the_calendars_zone_across_dst_and_easter() -> None:
    berlin = BusinessCalendar("DE", tz=ZoneInfo("Europe/Berlin"))
    # Monday 2024-04-08 in Berlin (CEST) runs from Sunday 22:00 UTC to Monday 22:00 UTC.
    assert berlin.business_time(utc(2024, 4, 7), utc(2024, 4, 8)) == timedelta(hours=2)
    assert berlin.business_time(utc(2024, 4, 7, 22), utc(2024, 4, 8, 22)) == timedelta(days=1)
    # One business day before Tuesday 2024-04-02 14:00 CEST: Easter Monday, the weekend (with
    # the switch to summer time) and Good Friday are skipped, back to Thursday 14:00 CET.
    assert berlin.subtract(utc(2024, 4, 2, 12), timedelta(days=1)) == utc(2024, 3, 28, 13)


def test_naive_times_are_refused_with_the_field_named() -> None:
    with pytest.raises(NaiveTimestampError, match="end"):
        WEEKENDS.subtract(datetime(2024, 5, 6), timedelta(hours=1))


def test_an_unknown_country_means_weekends_only() -> None:
    calendar = BusinessCalendar("XX")
    assert calendar.is_business_day(datetime.fromisoformat("2024-05-01").date())
    assert not calendar.is_business_day(datetime.fromisoformat("2024-05-04").date())

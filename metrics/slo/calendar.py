"""Business time: which days count, and how much business time lies between two instants.

A *business day* is a day (midnight to midnight in the calendar's time zone) that is neither a
weekend day nor a public holiday of the calendar's country (via `holidays`). *Business time* counts
every instant of a business day and nothing of the others, so one business day is 24 business hours
and "2 business hours before Monday 01:00" is Friday 23:00. With the default zone (UTC) and no
subdivision this is the same definition the KPIs use (`foundation.business_time`), so an SLO's "≤ 2
business days" agrees with the KPI's durations; this module adds what windows need (the start of a
window of N business hours, a deadline N business days on).

The SLO engine never picks a country itself: callers pass a `CalendarResolver`, a function from
a group (e.g. ``{"legal_entity": "DE"}``) to its `BusinessCalendar`, so the KPI side can give
each legal entity its own country and zone. `weekends_only` is the resolver used when none is
given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal

import holidays

from store.canonical import require_aware

DAY = timedelta(days=1)
#: How far the window arithmetic walks before it gives up (a calendar with no business days).
MAX_WALK_DAYS = 3660

DurationUnit = Literal["hours", "days", "business_days"]


class BusinessCalendar:
    """Weekends and one country's public holidays, in one time zone.

    ``country`` is an ISO 3166 alpha-2 code (``GB``, ``DE``, ``US`` …) or None for weekends only
    (a country `holidays` does not know also means weekends only, as in `foundation.business_time`);
    ``subdiv`` a subdivision `holidays` knows (e.g. ``BY`` for Bavaria); ``tz`` the zone whose
    midnights bound the days (default UTC); ``extra_holidays`` company closing days.
    """

    def __init__(
        self,
        country: str | None = None,
        *,
        subdiv: str | None = None,
        tz: tzinfo = UTC,
        weekend: Iterable[int] = (5, 6),
        extra_holidays: Iterable[date] = (),
    ) -> None:
        self.country = country.upper() if country else None
        self.tz = tz
        self.weekend = frozenset(weekend)
        self._holidays: holidays.HolidayBase | None = None
        if self.country:
            try:
                self._holidays = holidays.country_holidays(self.country, subdiv=subdiv)
            except (
                NotImplementedError
            ):  # unknown country: weekends only, like foundation.business_time
                self._holidays = None
        self._extra = frozenset(extra_holidays)
        self._cache: dict[date, bool] = {}

    def __repr__(self) -> str:
        return f"BusinessCalendar(country={self.country!r}, tz={self.tz!s})"

    def is_business_day(self, day: date) -> bool:
        """True unless ``day`` is a weekend day, a public holiday or an extra closing day."""
        known = self._cache.get(day)
        if known is None:
            known = not (
                day.weekday() in self.weekend
                or day in self._extra
                or (self._holidays is not None and day in self._holidays)
            )
            self._cache[day] = known
        return known

    def holiday_name(self, day: date) -> str | None:
        """The public holiday's name on ``day``, if any."""
        return None if self._holidays is None else self._holidays.get(day)

    def _day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """Local midnight to next local midnight, as UTC instants (DST-safe)."""
        start = datetime.combine(day, time(0), tzinfo=self.tz).astimezone(UTC)
        end = datetime.combine(day + DAY, time(0), tzinfo=self.tz).astimezone(UTC)
        return start, end

    def _local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.tz).date()

    def business_time(self, start: datetime, end: datetime) -> timedelta:
        """Business time in ``[start, end)``; zero when ``end`` is not after ``start``."""
        start, end = _utc(start, "start"), _utc(end, "end")
        if end <= start:
            return timedelta(0)
        total = timedelta(0)
        day, last = self._local_date(start), self._local_date(end)
        while day <= last:
            if self.is_business_day(day):
                day_start, day_end = self._day_bounds(day)
                low, high = max(start, day_start), min(end, day_end)
                if high > low:
                    total += high - low
            day += DAY
        return total

    def business_days(self, start: datetime, end: datetime) -> float:
        """Business time in ``[start, end)`` in (fractional) business days."""
        return self.business_time(start, end) / DAY

    def subtract(self, end: datetime, span: timedelta) -> datetime:
        """The instant ``span`` of business time before ``end`` (start of a business window)."""
        end = _utc(end, "end")
        if span < timedelta(0):
            raise ValueError("span must not be negative")
        remaining, cursor, day = span, end, self._local_date(end)
        for _ in range(MAX_WALK_DAYS):
            if remaining <= timedelta(0):
                return cursor
            day_start, _ = self._day_bounds(day)
            if self.is_business_day(day):
                available = cursor - day_start
                if available >= remaining:
                    return cursor - remaining
                remaining -= available
            cursor, day = day_start, day - DAY
        raise ValueError(f"{self!r} has no business days within {MAX_WALK_DAYS} days")

    def add(self, start: datetime, span: timedelta) -> datetime:
        """The instant ``span`` of business time after ``start`` (e.g. a deadline)."""
        start = _utc(start, "start")
        if span < timedelta(0):
            raise ValueError("span must not be negative")
        remaining, cursor, day = span, start, self._local_date(start)
        for _ in range(MAX_WALK_DAYS):
            if remaining <= timedelta(0):
                return cursor
            _, day_end = self._day_bounds(day)
            if self.is_business_day(day):
                available = day_end - cursor
                if available >= remaining:
                    return cursor + remaining
                remaining -= available
            cursor, day = day_end, day + DAY
        raise ValueError(f"{self!r} has no business days within {MAX_WALK_DAYS} days")


CalendarResolver = Callable[[Mapping[str, str]], BusinessCalendar]
_WEEKENDS = BusinessCalendar()


def weekends_only(group: Mapping[str, str]) -> BusinessCalendar:
    """The default resolver: Saturday and Sunday off, no holidays, UTC days, for every group."""
    return _WEEKENDS


def resolve_deadline(
    since: datetime, value: float, unit: DurationUnit, calendar: BusinessCalendar
) -> datetime:
    """When an item that started at ``since`` passes a limit of ``value`` ``unit``.

    ``business_days`` counts business time on ``calendar`` (won on Friday 15:00 with a limit of
    2 business days → Tuesday 15:00); ``days`` and ``hours`` are calendar time.
    """
    since = _utc(since, "since")
    if unit == "hours":
        return since + timedelta(hours=value)
    if unit == "days":
        return since + timedelta(days=value)
    return calendar.add(since, timedelta(days=value))


def _utc(value: datetime, name: str) -> datetime:
    aware = require_aware(value, name)
    assert aware is not None
    return aware

"""Business time: which days count, and how much business time lies between two instants.

One definition serves the KPIs and the SLOs. A *business day* is a day (midnight to midnight
in the calendar's zone, UTC unless given) that is neither a weekend day nor a public holiday of
the calendar's country (national holidays from `holidays`; a subdivision only when asked for)
nor a company closing day. *Business time* counts every instant of a business day and nothing
of the others, so one business day is 24 business hours: Friday 16:00 → Monday 10:00 is
8 h + 10 h = 0.75 business days, and "2 business hours before Monday 01:00" is Friday 23:00.
A calendar with no country, or one `holidays` does not know, has weekends only.

- `BusinessCalendar` answers for one calendar: is a day a business day, business time between
  two instants, the instant N business hours before (a window's start) or after (a deadline).
- The KPIs measure thousands of cases at once: `business_days_array` and
  `business_days_by_entity` count the same business time with numpy, each row on its legal
  entity's calendar; they are signed (an end before its start gives a negative duration).
- The SLO engine never picks a country itself: callers pass a `CalendarResolver`, a function
  from a group (e.g. ``{"legal_entity": "DE"}``) to its calendar; `weekends_only` is the default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Literal

import holidays
import numpy as np
import numpy.typing as npt

from foundation.timestamps import aware

DAY = timedelta(days=1)
DAY_US = 86_400_000_000
#: How far the window arithmetic walks before it gives up (a calendar with no business days).
MAX_WALK_DAYS = 3660
WEEKEND = (5, 6)

#: Legal entity code → ISO country code; the default matches `foundation.settings`.
DEFAULT_COUNTRIES: Mapping[str, str] = {"US": "US", "UK": "GB", "DE": "DE"}

DurationUnit = Literal["hours", "days", "business_days"]


@lru_cache(maxsize=512)
def _year_holidays(country: str, subdiv: str | None, year: int) -> Mapping[date, str]:
    """Public holidays of one year, date → name; none for a country `holidays` does not know."""
    try:
        return dict(holidays.country_holidays(country, subdiv=subdiv, years=year))
    except NotImplementedError:
        return {}


def public_holidays(
    country: str | None, first: date, last: date, subdiv: str | None = None
) -> list[date]:
    """The country's public holidays between `first` and `last` inclusive (none if unknown)."""
    if not country:
        return []
    days = (
        d
        for y in range(first.year, last.year + 1)
        for d in _year_holidays(country.upper(), subdiv, y)
    )
    return sorted(d for d in days if first <= d <= last)


class BusinessCalendar:
    """Weekends and one country's public holidays, in one time zone.

    ``country`` is an ISO 3166 alpha-2 code (``GB``, ``DE``, ``US`` …) or None for weekends only;
    ``subdiv`` a subdivision `holidays` knows (e.g. ``BY`` for Bavaria); ``tz`` the zone whose
    midnights bound the days (default UTC); ``extra_holidays`` company closing days.
    """

    def __init__(
        self,
        country: str | None = None,
        *,
        subdiv: str | None = None,
        tz: tzinfo = UTC,
        weekend: Iterable[int] = WEEKEND,
        extra_holidays: Iterable[date] = (),
    ) -> None:
        self.country = country.upper() if country else None
        self.subdiv = subdiv
        self.tz = tz
        self.weekend = frozenset(weekend)
        self._extra = frozenset(extra_holidays)
        self._cache: dict[date, bool] = {}

    def __repr__(self) -> str:
        return f"BusinessCalendar(country={self.country!r}, tz={self.tz!s})"

    def holiday_name(self, day: date) -> str | None:
        """The public holiday's name on ``day``, if any."""
        if self.country is None:
            return None
        return _year_holidays(self.country, self.subdiv, day.year).get(day)

    def is_business_day(self, day: date) -> bool:
        """True unless ``day`` is a weekend day, a public holiday or an extra closing day."""
        known = self._cache.get(day)
        if known is None:
            known = not (
                day.weekday() in self.weekend
                or day in self._extra
                or self.holiday_name(day) is not None
            )
            self._cache[day] = known
        return known

    def closed_days(self, first: date, last: date) -> list[date]:
        """Public holidays and extra closing days between `first` and `last` inclusive."""
        public = public_holidays(self.country, first, last, self.subdiv)
        return sorted({*public, *(d for d in self._extra if first <= d <= last)})

    def _day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """Local midnight to next local midnight, as UTC instants (DST-safe)."""
        start = datetime.combine(day, time(0), tzinfo=self.tz).astimezone(UTC)
        end = datetime.combine(day + DAY, time(0), tzinfo=self.tz).astimezone(UTC)
        return start, end

    def _local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.tz).date()

    def business_time(self, start: datetime, end: datetime) -> timedelta:
        """Business time in ``[start, end)``; zero when ``end`` is not after ``start``."""
        start, end = aware(start, "start"), aware(end, "end")
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
        end = aware(end, "end")
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
        start = aware(start, "start")
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


@lru_cache(maxsize=64)
def calendar_for(country: str | None) -> BusinessCalendar:
    """The UTC calendar of a country (weekends only for None), one per country."""
    return BusinessCalendar(country)


CalendarResolver = Callable[[Mapping[str, str]], BusinessCalendar]


def weekends_only(group: Mapping[str, str]) -> BusinessCalendar:
    """The default resolver: Saturday and Sunday off, no holidays, UTC days, for every group."""
    return calendar_for(None)


def resolve_deadline(
    since: datetime, value: float, unit: DurationUnit, calendar: BusinessCalendar
) -> datetime:
    """When an item that started at ``since`` passes a limit of ``value`` ``unit``.

    ``business_days`` counts business time on ``calendar`` (won on Friday 15:00 with a limit of
    2 business days → Tuesday 15:00); ``days`` and ``hours`` are calendar time.
    """
    since = aware(since, "since")
    if unit == "hours":
        return since + timedelta(hours=value)
    if unit == "days":
        return since + timedelta(days=value)
    return calendar.add(since, timedelta(days=value))


# --- the KPIs' vectorised measure -----------------------------------------------------------


def is_business_day(day: date, country: str | None) -> bool:
    """Monday–Friday and not a public holiday of `country`."""
    return calendar_for(country).is_business_day(day)


def calendar_hours(start: datetime, end: datetime) -> float:
    """Elapsed hours from `start` to `end`."""
    return (end - start) / timedelta(hours=1)


def _numpy_calendar(calendar: BusinessCalendar, first: date, last: date) -> np.busdaycalendar:
    """The calendar's business days between `first` and `last` as numpy sees them."""
    if calendar.tz.utcoffset(None) != timedelta(0):
        raise ValueError(f"{calendar!r}: the vectorised measure needs UTC days")
    weekmask = "".join("0" if d in calendar.weekend else "1" for d in range(7))
    closed = np.array(calendar.closed_days(first, last), dtype="datetime64[D]")
    return np.busdaycalendar(weekmask=weekmask, holidays=closed)


def business_days_array(
    starts: npt.NDArray[np.datetime64],
    ends: npt.NDArray[np.datetime64],
    country: str | BusinessCalendar | None,
) -> npt.NDArray[np.float64]:
    """Business days in ``[start, end)`` for arrays of naive UTC `datetime64`; NaN where missing,
    negative where the end lies before the start."""
    calendar = country if isinstance(country, BusinessCalendar) else calendar_for(country)
    s = np.asarray(starts, dtype="datetime64[us]")
    e = np.asarray(ends, dtype="datetime64[us]")
    out = np.full(s.shape, np.nan)
    valid = ~(np.isnat(s) | np.isnat(e))
    if not valid.any():
        return out
    sign = np.where(e[valid] < s[valid], -1.0, 1.0)
    lo = np.minimum(s[valid], e[valid])
    hi = np.maximum(s[valid], e[valid])
    first, last = lo.min().astype("datetime64[D]"), hi.max().astype("datetime64[D]")
    cal = _numpy_calendar(calendar, first.astype(date), last.astype(date))
    d_lo, d_hi = lo.astype("datetime64[D]"), hi.astype("datetime64[D]")
    lo_biz, hi_biz = np.is_busday(d_lo, busdaycal=cal), np.is_busday(d_hi, busdaycal=cal)
    same = d_lo == d_hi
    span = (hi - lo).astype(np.int64) / DAY_US
    head = ((d_lo + 1).astype("datetime64[us]") - lo).astype(np.int64) / DAY_US
    tail = (hi - d_hi.astype("datetime64[us]")).astype(np.int64) / DAY_US
    middle = np.busday_count(d_lo + 1, np.maximum(d_hi, d_lo + 1), busdaycal=cal)
    total = np.where(
        same,
        np.where(lo_biz, span, 0.0),
        np.where(lo_biz, head, 0.0) + middle + np.where(hi_biz, tail, 0.0),
    )
    out[valid] = sign * total
    return out


def business_days(start: datetime, end: datetime, country: str | None) -> float:
    """Business days in ``[start, end)`` on `country`'s calendar (negative when end < start)."""
    result = business_days_array(_utc_naive_us([start]), _utc_naive_us([end]), country)
    return float(result[0])


def business_days_by_entity(
    starts: Sequence[datetime | None] | npt.NDArray[np.datetime64],
    ends: Sequence[datetime | None] | npt.NDArray[np.datetime64],
    entities: Sequence[str | None],
    countries: Mapping[str, str] = DEFAULT_COUNTRIES,
) -> npt.NDArray[np.float64]:
    """Business days per row, each on the calendar of its legal entity's country."""
    s = _as_array(starts)
    e = _as_array(ends)
    ent = np.array([x or "" for x in entities], dtype=object)
    out = np.full(s.shape, np.nan)
    for code in set(ent.tolist()):
        rows = ent == code
        out[rows] = business_days_array(s[rows], e[rows], countries.get(code))
    return out


def _utc_naive_us(values: Iterable[datetime | None]) -> npt.NDArray[np.datetime64]:
    out = [
        np.datetime64(v.astimezone(UTC).replace(tzinfo=None), "us") if v is not None else "NaT"
        for v in values
    ]
    return np.array(out, dtype="datetime64[us]")


def _as_array(
    values: Sequence[datetime | None] | npt.NDArray[np.datetime64],
) -> npt.NDArray[np.datetime64]:
    if isinstance(values, np.ndarray) and np.issubdtype(values.dtype, np.datetime64):
        return values.astype("datetime64[us]")
    return _utc_naive_us(list(values))

"""Business calendars: durations in business days on a legal entity's calendar, and in hours.

A business day is a whole day (00:00–24:00 UTC) from Monday to Friday that is not a public
holiday of the entity's country (national holidays from `holidays`, no subdivisions). A
duration in business days is the business time inside ``[start, end)`` divided by 24 hours, so
Friday 16:00 → Monday 10:00 is 8 h + 10 h = 0.75 business days. An end before its start gives
a negative duration. Entities with no known country use weekends only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import holidays
import numpy as np
import numpy.typing as npt

DAY_US = 86_400_000_000
WEEKMASK = "1111100"

#: Legal entity code → ISO country code; the default matches `foundation.settings`.
DEFAULT_COUNTRIES: Mapping[str, str] = {"US": "US", "UK": "GB", "DE": "DE"}


@lru_cache(maxsize=256)
def _year_holidays(country: str, year: int) -> tuple[date, ...]:
    return tuple(sorted(holidays.country_holidays(country, years=year)))


def public_holidays(country: str | None, first: date, last: date) -> list[date]:
    """The country's public holidays between `first` and `last` inclusive (none if unknown)."""
    if not country:
        return []
    try:
        days = [d for y in range(first.year, last.year + 1) for d in _year_holidays(country, y)]
    except NotImplementedError:
        return []
    return [d for d in days if first <= d <= last]


def is_business_day(day: date, country: str | None) -> bool:
    """Monday–Friday and not a public holiday of `country`."""
    return day.weekday() < 5 and day not in public_holidays(country, day, day)


def _utc_naive_us(values: Iterable[datetime | None]) -> npt.NDArray[np.datetime64]:
    out = [
        np.datetime64(v.astimezone(UTC).replace(tzinfo=None), "us") if v is not None else "NaT"
        for v in values
    ]
    return np.array(out, dtype="datetime64[us]")


def business_days_array(
    starts: npt.NDArray[np.datetime64],
    ends: npt.NDArray[np.datetime64],
    country: str | None,
) -> npt.NDArray[np.float64]:
    """Business days in ``[start, end)`` for arrays of naive UTC `datetime64`; NaN where missing."""
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
    hol = np.array(
        public_holidays(country, first.astype(date), last.astype(date)), dtype="datetime64[D]"
    )
    cal = np.busdaycalendar(weekmask=WEEKMASK, holidays=hol)
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


def calendar_hours(start: datetime, end: datetime) -> float:
    """Elapsed hours from `start` to `end`."""
    return (end - start) / timedelta(hours=1)


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


def _as_array(
    values: Sequence[datetime | None] | npt.NDArray[np.datetime64],
) -> npt.NDArray[np.datetime64]:
    if isinstance(values, np.ndarray) and np.issubdtype(values.dtype, np.datetime64):
        return values.astype("datetime64[us]")
    return _utc_naive_us(list(values))

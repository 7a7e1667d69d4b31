"""What every KPI shares: the filters, percentile summaries, trends and time conversions.

Percentiles use linear interpolation between order statistics (numpy's default), computed from
the case rows at query time (they are not additive). Weeks start on Monday; weeks and months
are UTC.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    Select,
    func,
    type_coerce,
)
from sqlalchemy.types import NullType

from foundation.business_time import DEFAULT_COUNTRIES, business_days_by_entity
from store.tables import UTCDateTime

Countries = Mapping[str, str]
NS = "datetime64[us]"


def instant(value: date | None) -> datetime | None:
    """A date (its 00:00 UTC) or a datetime, as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{value.isoformat()} has no timezone; pass an aware datetime")
        return value.astimezone(UTC)
    return datetime.combine(value, time(), tzinfo=UTC)


@dataclass(frozen=True)
class Filters:
    """Period ``[start, end)`` (dates are 00:00 UTC) and dimension filters (empty: all).

    `practices_limited` marks filters narrowed to a visitor's practices (`metrics.views.access`):
    then `practices` is applied even when empty, and matches nothing."""

    start: date | None = None
    end: date | None = None
    legal_entities: tuple[str, ...] = ()
    practices: tuple[str, ...] = ()
    customers: tuple[str, ...] = ()
    practices_limited: bool = False

    @property
    def start_at(self) -> datetime | None:
        return instant(self.start)

    @property
    def end_at(self) -> datetime | None:
        return instant(self.end)

    def dims(self, table: Any) -> list[ColumnElement[bool]]:
        """WHERE clauses for the dimension filters on a fact table's columns."""
        out: list[ColumnElement[bool]] = []
        for column, values, always in (
            (table.legal_entity, self.legal_entities, False),
            (table.practice, self.practices, self.practices_limited),
            (table.customer, self.customers, False),
        ):
            if values or always:
                out.append(column.in_(list(values)))
        return out

    def with_period(self, start: date | None, end: date | None) -> Filters:
        """The same dimension filters over another period."""
        return dataclasses.replace(self, start=start, end=end)

    def in_period(self, at: pd.Series) -> pd.Series:
        """Which timestamps fall in ``[start, end)`` (missing ones never do)."""
        mask = at.notna()
        if self.start_at is not None:
            mask &= at >= pd.Timestamp(self.start_at)
        if self.end_at is not None:
            mask &= at < pd.Timestamp(self.end_at)
        return mask


ALL = Filters()


def read_frame(conn: Connection | Engine, query: Any, times: Sequence[str] = ()) -> pd.DataFrame:
    """Run `query` into a DataFrame; `times` columns become UTC timestamps."""
    if isinstance(conn, Engine):
        with conn.connect() as c:
            return read_frame(c, query, times)
    result = conn.execute(_raw_times(query, times, conn.dialect.name))
    columns = list(result.keys())
    rows = result.all()
    # Column by column: pandas infers each column once instead of inspecting every row.
    values = zip(*rows, strict=True) if rows else ([] for _ in columns)
    frame = pd.DataFrame(dict(zip(columns, map(list, values), strict=True)), columns=columns)
    for name in times:
        frame[name] = utc(frame[name])
    return frame


def _raw_times(query: Any, times: Sequence[str], dialect: str) -> Any:
    """`query` with its `times` timestamp columns read as plain UTC values the driver makes
    cheaply (SQLite's ISO text; PostgreSQL's naive datetimes — an aware one carries a zoneinfo
    that pandas converts ten times slower): `utc` converts them a column at a time, far faster
    than the column type's conversion of every value into an aware datetime."""
    if not times or not isinstance(query, Select):
        return query
    wanted = set(times)

    def raw(column: Any) -> Any:
        plain = func.timezone("UTC", column) if dialect == "postgresql" else column
        return type_coerce(plain, NullType()).label(column.key)

    columns = [
        raw(c) if c.key in wanted and isinstance(c.type, (DateTime, UTCDateTime)) else c
        for c in query.selected_columns
    ]
    return query.with_only_columns(*columns, maintain_column_froms=True)


def utc(values: Any) -> pd.Series:
    """Timestamps (datetimes, or ISO 8601 text, naive meaning UTC) as a UTC `datetime64`
    series (NaT for missing)."""
    series = pd.Series(values)
    if series.empty:
        return pd.Series(series, dtype="datetime64[us, UTC]")
    present = series.dropna()
    if not present.empty and isinstance(present.iloc[0], str):
        return pd.to_datetime(series, utc=True, format="ISO8601").astype("datetime64[us, UTC]")
    return pd.to_datetime(series, utc=True).astype("datetime64[us, UTC]")


def naive(series: pd.Series) -> npt.NDArray[np.datetime64]:
    """A UTC timestamp series as naive `datetime64[us]` (NaT kept)."""
    out: npt.NDArray[np.datetime64] = utc(series).dt.tz_convert(None).to_numpy(dtype=NS)
    return out


def business_days(
    starts: pd.Series, ends: pd.Series, entities: pd.Series, countries: Countries | None
) -> npt.NDArray[np.float64]:
    """Business days per row on each row's legal-entity calendar."""
    return business_days_by_entity(
        naive(starts),
        naive(ends),
        list(entities.astype(object).where(entities.notna(), None)),
        countries if countries is not None else DEFAULT_COUNTRIES,
    )


def hours(starts: pd.Series, ends: pd.Series) -> npt.NDArray[np.float64]:
    """Calendar hours per row."""
    delta = naive(ends) - naive(starts)
    return delta.astype("timedelta64[us]").astype(np.float64) / 3.6e9


def money(values: pd.Series) -> npt.NDArray[np.float64]:
    """Amounts (Decimal, number or None) as floats, NaN where missing."""
    out: npt.NDArray[np.float64] = (
        pd.to_numeric(values.astype(object), errors="coerce").astype(float).to_numpy()
    )
    return out


@dataclass(frozen=True)
class DurationStats:
    """Percentiles of a duration over closed cases, and the share within the target."""

    cases: int
    p50_days: float | None
    p90_days: float | None
    within_target: float | None
    p50_hours: float | None
    p90_hours: float | None


def percentile(values: Any, q: float) -> float | None:
    """The `q`-th percentile (linear interpolation) of the finite values, None when none."""
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    return float(np.percentile(arr, q)) if arr.size else None


def duration_stats(days: Any, hrs: Any, target_days: float) -> DurationStats:
    """p50/p90 in business days and hours, and the share with days ≤ `target_days`."""
    d = np.asarray(days, dtype=float)
    d = d[np.isfinite(d)]
    return DurationStats(
        cases=int(d.size),
        p50_days=percentile(d, 50),
        p90_days=percentile(d, 90),
        within_target=float(np.mean(d <= target_days)) if d.size else None,
        p50_hours=percentile(hrs, 50),
        p90_hours=percentile(hrs, 90),
    )


def period_start(at: pd.Series, freq: str) -> pd.Series:
    """The Monday (``freq="W"``) or first of the month (``"M"``) of each UTC timestamp."""
    days = utc(at).dt.tz_convert(None).dt.normalize()
    if freq == "W":
        return (days - pd.to_timedelta(days.dt.day_of_week, unit="D")).dt.date
    if freq == "M":
        return days.dt.to_period("M").dt.start_time.dt.date
    raise ValueError(f"freq must be 'W' or 'M', not {freq!r}")


TREND_COLUMNS = ["period", "cases", "p50_days", "p90_days", "within_target"]


def trend(frame: pd.DataFrame, at: str, days: str, target_days: float, freq: str) -> pd.DataFrame:
    """Cases, p50, p90 and share within target per week or month of the `at` column."""
    if frame.empty:
        return pd.DataFrame(columns=TREND_COLUMNS)
    rows = []
    for period, group in frame.groupby(period_start(frame[at], freq), sort=True):
        s = duration_stats(group[days], [], target_days)
        rows.append((period, s.cases, s.p50_days, s.p90_days, s.within_target))
    return pd.DataFrame(rows, columns=TREND_COLUMNS)


def dims_columns(by: Sequence[str]) -> list[str]:
    """Validated grouping columns."""
    allowed = {"legal_entity", "practice", "customer", "currency", "project_key"}
    bad = [b for b in by if b not in allowed]
    if bad:
        raise ValueError(f"cannot group by {bad}; choose from {sorted(allowed)}")
    return list(by)


def column(table: Any, name: str) -> Column[Any]:
    """A column of a mapped table by name."""
    col: Column[Any] = table.__table__.c[name]
    return col

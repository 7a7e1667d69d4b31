"""What every page shares: the view configuration, the reporting clock, freshness, dimensions.

The dashboard reports *as of the sources' clock*: the newest source timestamp the collectors
have stored (their cursors), never later than now. For a live source that is a few minutes
ago; for the demo estate, whose history is simulated, it is the simulated present, so open
cases are aged the way the firm in the data would see them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import pandas as pd
from sqlalchemy import Connection, Engine, func, select

from foundation.business_time import DEFAULT_COUNTRIES
from foundation.settings import Settings
from metrics.facts.filter_values import DIMENSIONS
from metrics.freshness import health, last_successes
from metrics.kpis.common import Filters as Filters  # re-exported: pages build filters here
from metrics.kpis.common import utc
from metrics.views.access import Access
from metrics.views.guard import view
from store.clock import reporting_time
from store.tables import (
    CaseDimension,
    CaseHandoff,
    CaseInvoice,
    CaseWorkItem,
    CollectorRun,
)

#: Period presets of the sidebar: label → length (``None``: year to date).
PRESETS: dict[str, str] = {
    "4w": "Last 4 weeks",
    "13w": "Last 13 weeks",
    "26w": "Last 26 weeks",
    "12m": "Last 12 months",
    "ytd": "Year to date",
    "custom": "Custom range",
}
DEFAULT_PRESET = "13w"


@dataclass(frozen=True)
class ViewConfig:
    """The settings views need: the effective settings, the collectors and the source URLs."""

    settings: Settings = field(default_factory=Settings)
    #: collector name → (source system, polling interval in seconds), as the SLO service wants.
    collectors: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    #: source system → base URL of its records (deep links), e.g. ``{"crm": "http://…/crm"}``.
    source_urls: Mapping[str, str] = field(default_factory=dict)

    @property
    def reporting_currency(self) -> str:
        return self.settings.reporting_currency

    @property
    def countries(self) -> dict[str, str]:
        """Legal entity code → country code (the business calendars)."""
        return {e.code: e.country for e in self.settings.legal_entities} or dict(DEFAULT_COUNTRIES)


def frame(engine: Engine, query: Any, times: Sequence[str] = ()) -> pd.DataFrame:
    """Run `query` into a DataFrame (rows as plain tuples: much faster than `Row` objects);
    `times` columns become UTC timestamps."""
    with engine.connect() as conn:
        result = conn.execute(query)
        columns = list(result.keys())
        rows = [tuple(row) for row in result]
    out = pd.DataFrame.from_records(rows, columns=columns)
    for name in times:
        out[name] = utc(out[name])
    return out


@dataclass(frozen=True)
class Freshness:
    """How fresh the data is: the reporting clock, the collectors' last runs, and the configured
    collectors that are stale by the collectors page's rule (`metrics.freshness`)."""

    as_of: datetime
    last_success: datetime | None
    last_run: datetime | None
    failing: tuple[str, ...]
    collected: bool
    stale: tuple[str, ...] = ()


def freshness(
    engine: Engine,
    now: datetime | None = None,
    collectors: Mapping[str, tuple[str, int]] | None = None,
) -> Freshness:
    """The reporting clock and the newest runs; `failing` lists collectors whose last run failed,
    `stale` those of `collectors` (name → (source system, interval seconds)) whose health on the
    collectors page is ``stale``."""
    latest = (
        select(CollectorRun.collector, func.max(CollectorRun.id).label("id"))
        .group_by(CollectorRun.collector)
        .subquery()
    )
    query = select(
        CollectorRun.collector, CollectorRun.status, CollectorRun.kind, CollectorRun.finished_at
    ).join(latest, CollectorRun.id == latest.c.id)
    success = select(func.max(CollectorRun.finished_at)).where(CollectorRun.status == "success")
    with engine.connect() as conn:
        runs = conn.execute(query).all()
        last_success = conn.execute(success).scalar_one_or_none()
    finished = [r.finished_at for r in runs if r.finished_at is not None]
    at = (now or datetime.now(UTC)).astimezone(UTC)
    latest_run = {r.collector: r for r in runs}
    succeeded = last_successes(engine, collectors or {})
    stale: list[str] = []
    for name, (_system, every) in sorted((collectors or {}).items()):
        run = latest_run.get(name)
        status, kind = (run.status, run.kind) if run is not None else (None, None)
        if health(status, kind, succeeded.get(name), every, at) == "stale":
            stale.append(name)
    return Freshness(
        as_of=reporting_time(engine, now),
        last_success=last_success,
        last_run=max(finished) if finished else None,
        failing=tuple(sorted(r.collector for r in runs if r.status in ("failed", "partial"))),
        collected=bool(runs),
        stale=tuple(stale),
    )


@dataclass(frozen=True)
class Dimensions:
    """The values each sidebar filter offers."""

    legal_entities: tuple[str, ...]
    practices: tuple[str, ...]
    customers: tuple[str, ...]


@view()
def dimensions(access: Access, engine: Engine) -> Dimensions:
    """Legal entities, practices and customers that appear in the case facts
    (`metrics.facts.filter_values`); for a visitor limited to some practices, only those
    practices and the customers with a case in them."""
    with engine.connect() as conn:
        rows = conn.execute(select(CaseDimension.dimension, CaseDimension.value)).all()
        customers = None if not access.limited else customers_in_scope(conn, access)
    by_name: dict[str, list[str]] = {name: [] for name in DIMENSIONS}
    for name, value in rows:
        if name == "practice" and not access.allows(value):
            continue
        if name == "customer" and customers is not None and value not in customers:
            continue
        by_name.setdefault(name, []).append(value)
    return Dimensions(*(tuple(sorted(by_name[name])) for name in DIMENSIONS))


def customers_in_scope(conn: Connection, access: Access) -> set[str]:
    """The customers with a deal, invoice or work item in the visitor's practices."""
    found: set[str] = set()
    for table in (CaseHandoff, CaseInvoice, CaseWorkItem):
        clause = access.practice_clause(table.practice)
        query = select(table.customer).distinct().where(table.customer.is_not(None))
        rows = conn.execute(query if clause is None else query.where(clause)).scalars()
        found.update(str(c) for c in rows)
    return found


Preset = Literal["4w", "13w", "26w", "12m", "ytd", "custom"]


def period_bounds(
    preset: str, as_of: datetime, start: date | None = None, end: date | None = None
) -> tuple[date, date]:
    """First and last day (inclusive) of a preset period ending on `as_of`'s day."""
    last = as_of.astimezone(UTC).date()
    if preset == "custom" and start is not None and end is not None:
        return (min(start, end), max(start, end))
    weeks = {"4w": 4, "13w": 13, "26w": 26}
    if preset in weeks:
        return last - timedelta(weeks=weeks[preset]) + timedelta(days=1), last
    if preset == "12m":
        return last.replace(year=last.year - 1) + timedelta(days=1), last
    if preset == "ytd":
        return last.replace(month=1, day=1), last
    return period_bounds(DEFAULT_PRESET, as_of)


def period_filters(
    first: date,
    last: date,
    legal_entities: tuple[str, ...] = (),
    practices: tuple[str, ...] = (),
    customers: tuple[str, ...] = (),
) -> Filters:
    """KPI filters for the days ``first`` … ``last`` inclusive."""
    return Filters(first, last + timedelta(days=1), legal_entities, practices, customers)


def describe(filters: Filters) -> str:
    """The filters in words, for captions and empty states."""
    parts = []
    if filters.start is not None and filters.end is not None:
        last = filters.end - timedelta(days=1)
        parts.append(f"{filters.start:%d %b %Y} – {last:%d %b %Y}")
    for label, values in (
        ("entity", filters.legal_entities),
        ("practice", filters.practices),
        ("customer", filters.customers),
    ):
        if values:
            parts.append(f"{label} {', '.join(values)}")
    return "; ".join(parts) or "all data"

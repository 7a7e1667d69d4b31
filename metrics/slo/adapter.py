"""From the KPIs' cases to the SLO engine's inputs: occurrences, open items, freshness.

Each SLO names a figure of the KPI registry; the figure's declaration offers its cases
(`metrics.kpis.declaration.SloCases`) and this module turns them into `Occurrence`s judged
against the SLO's own threshold and `OpenItem`s with deadlines on the legal entity's business
calendar. KPIs read only the SLO windows (plus a margin).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from foundation.business_time import BusinessCalendar, resolve_deadline
from metrics.freshness import last_successes, stale_after
from metrics.kpis.declaration import SloCases, SloQuery, latency_cases
from metrics.registry import KPIS
from metrics.slo.inputs import Occurrence, OpenItem, SloInputs, SourceFreshness
from metrics.slo.spec import Slo, Threshold

#: Which source systems each figure an SLO can use reads (its KPI's declared sources): a stale
#: collector of one pauses the figure's SLOs.
KPI_SOURCES: dict[str, frozenset[str]] = {k.name: k.kpi.sources for k in KPIS if k.slo}
MARGIN = timedelta(days=35)
_OPS: dict[str, Callable[[float, float], bool]] = {
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}


@dataclass(frozen=True)
class Context:
    """What the adapter needs besides the store: entity countries and the reporting currency."""

    countries: Mapping[str, str]
    reporting_currency: str

    def calendar(self, group: Mapping[str, str]) -> BusinessCalendar:
        """The business calendar of a group's legal entity (weekends only when unknown)."""
        return _calendar_of(self.countries.get(group.get("legal_entity", "")))


@functools.lru_cache(maxsize=64)
def _calendar_of(country: str | None) -> BusinessCalendar:
    """One calendar per country: building one loads its holiday rules, asking one is cheap."""
    return BusinessCalendar(country)


def is_good(threshold: Threshold | None, business_days: float, hours: float) -> bool:
    """Whether one case meets the SLO's threshold (no threshold: every decided case is good)."""
    if threshold is None:
        return True
    value = {"business_days": business_days, "hours": hours, "days": hours / 24}[threshold.unit]
    return _OPS[threshold.op](value, threshold.value)


def _aware(value: Any) -> datetime:
    return pd.Timestamp(value).tz_convert(UTC).to_pydatetime()  # type: ignore[no-any-return]


def inputs(slo: Slo, cases: SloCases, ctx: Context) -> SloInputs:
    """The SLO's occurrences and aging items from a KPI's cases (see `SloCases`)."""

    def group(row: Mapping[str, Any]) -> dict[str, str]:
        return {d: str(row[d]) for d in cases.groups if d in row and pd.notna(row[d])}

    threshold = slo.spec.indicator.threshold
    occurrences = tuple(
        Occurrence(
            _aware(r["at"]),
            bool(r["good"])
            if "good" in r
            else is_good(threshold, r["business_days"], r["calendar_hours"]),
            float(r["weight"]) if "weight" in r else 1.0,
            group(r),
        )
        for r in cases.decided.to_dict("records")
    )
    items: list[OpenItem] = []
    limit = slo.aging_limit
    if slo.aging is not None:
        # Open items, and items closed after their deadline: their late days stay counted.
        candidates: list[tuple[Mapping[str, Any], datetime | None]] = []
        for frame, closing in ((cases.waiting, False), (cases.closed, True)):
            if frame is not None:
                candidates += [
                    (r, _aware(r["closed_at"]) if closing else None)
                    for r in frame.to_dict("records")
                ]
        for r, closed in candidates:
            g, since = group(r), _aware(r["since"])
            if "deadline" in r:
                deadline = _aware(r["deadline"])
            elif limit is not None:
                deadline = resolve_deadline(since, limit.value, limit.unit, ctx.calendar(g))
            else:
                continue
            if closed is None or closed > deadline:
                weight = float(r["weight"]) if "weight" in r else 1.0
                items.append(OpenItem(str(r["key"]), since, deadline, g, weight, closed))
    return SloInputs(occurrences, tuple(items))


def _latency_inputs(
    slo: Slo,
    cases: pd.DataFrame,
    open_cases: pd.DataFrame,
    end_col: str,
    start_col: str,
    age_col: str,
    ctx: Context,
) -> SloInputs:
    """A latency KPI's inputs from its decided and open cases (`latency_cases`)."""
    return inputs(slo, latency_cases(cases, open_cases, end_col, start_col, age_col), ctx)


def slo_inputs(
    engine: Engine, slos: Sequence[Slo], as_of: datetime, ctx: Context
) -> dict[str, SloInputs]:
    """Inputs for every SLO, by SLO name (an SLO on a figure offering no cases gets none)."""
    offers = {k.name: k.slo for k in KPIS if k.slo is not None}
    query = SloQuery(as_of, as_of - MARGIN, ctx.countries, ctx.reporting_currency)
    return {s.name: inputs(s, offers[s.kpi](engine, query), ctx) for s in slos if s.kpi in offers}


def freshness(engine: Engine, collectors: Mapping[str, tuple[str, int]]) -> list[SourceFreshness]:
    """Freshness of the configured collectors (name → (source system, interval seconds)), by
    the rule of `metrics.freshness`: a collector not in `collectors` (not configured) and a file
    import never pause an SLO."""
    last = last_successes(engine, collectors)
    return [
        SourceFreshness(name, last.get(name), stale_after(interval))
        for name, (_system, interval) in sorted(collectors.items())
    ]


def feeds(slos: Sequence[Slo], collectors: Mapping[str, tuple[str, int]]) -> dict[str, set[str]]:
    """Collector → the SLOs whose KPI reads its source system."""
    return {
        name: {s.name for s in slos if system in KPI_SOURCES.get(s.kpi, frozenset())}
        for name, (system, _interval) in collectors.items()
    }

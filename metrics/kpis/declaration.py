"""One declaration per KPI: how it is read, computed, reported, shown and offered to the SLOs.

Each KPI module ends with ``KPI = Kpi(...)`` and `metrics.registry` lists the declarations.
Everything that reports a KPI derives from them: the README's KPI table, `throughline kpis`
(`metrics.report`), the Overview tiles (`metrics.views.overview`), the pages' KPI reads
(`metrics.views.kpiset`) and the SLO inputs (`metrics.slo.adapter`). A declaration holds:

- `Kpi.load` (the store → the rows) and `Kpi.compute` (the rows → the result, pure), or, for a
  KPI derived from others (`Kpi.needs`), `compute` of their results;
- `Kpi.sources`, the source systems it reads (a stale collector of one pauses its SLOs);
- `Kpi.figures`, what is reported of the result: each `Figure` is a row of the README table,
  a tile of the Overview, an entry of `throughline kpis` and a name an SLO may use, with its
  unit, target, the page that explains it, its headline figures and the `SloCases` it offers.

The exact definitions are in docs/kpis.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from metrics.fx import FxTable
from metrics.kpis.common import ALL, Countries, DurationStats, Filters, period_start

R = TypeVar("R")
#: How a tile formats a value.
Unit = Literal["business_days", "hours", "days", "share", "money", "count", "money_days"]
#: A figure's headline numbers for `throughline kpis`: plain JSON (numbers, None, nested dicts).
Figures = dict[str, Any]
#: The dimensions an SLO may group decided cases and aging items by.
DIMENSIONS = ("legal_entity", "practice", "customer")


@dataclass(frozen=True)
class Scope:
    """What a KPI is computed for: the instant, the filters, entity countries and FX rates."""

    at: datetime
    filters: Filters = ALL
    countries: Countries | None = None
    fx: FxTable | None = None

    @classmethod
    def of(
        cls,
        as_of: datetime,
        filters: Filters = ALL,
        countries: Countries | None = None,
        fx: FxTable | None = None,
    ) -> Scope:
        """The scope of a report or a page: at `as_of`, or at the period's end when that is
        earlier (a past period shows its stuck deals and unbilled work as they stood then)."""
        end = filters.end_at
        return cls(min(as_of, end) if end is not None else as_of, filters, countries, fx)

    def rates(self) -> FxTable:
        """The FX table (ValueError for a KPI that converts money in a scope without one)."""
        if self.fx is None:
            raise ValueError("this KPI converts money: give the scope an FX table")
        return self.fx


@dataclass(frozen=True)
class Fact:
    """A secondary figure on a tile, e.g. ``("p90", 9.4, "business_days")``."""

    label: str
    value: float | None
    unit: Unit


@dataclass(frozen=True)
class Headline:
    """What a tile shows of a figure: its value, secondary facts and weekly trend."""

    value: float | None
    unit: Unit
    facts: tuple[Fact, ...] = ()
    trend: tuple[float, ...] = ()


@dataclass(frozen=True)
class SloQuery:
    """What an SLO asks of a KPI: its cases from `since` (the windows and a margin) to `as_of`."""

    as_of: datetime
    since: datetime
    countries: Countries
    reporting_currency: str

    def scope(self) -> Scope:
        """The KPI's scope for the SLO: the period from `since`'s day, no FX conversion."""
        return Scope(self.as_of, Filters(start=self.since.date()), self.countries)


@dataclass(frozen=True)
class SloCases:
    """A KPI's cases as an SLO reads them; `metrics.slo.adapter` turns them into occurrences
    and aging items. Every frame may carry the dimension columns `groups`.

    - `decided`: one row per decided case: ``at`` (when it was decided), and ``good`` or the
      durations ``business_days`` and ``calendar_hours`` the SLO's threshold judges; ``weight``
      when cases weigh more than one.
    - `waiting`: items still open: ``key``, ``since``, and ``deadline`` and ``weight`` when
      the KPI fixes them (else the SLO's aging limit from ``since``, on the item's calendar).
    - `closed`: items already closed: ``key``, ``since``, ``closed_at``; those closed past
      their deadline keep the late days they burned.
    """

    decided: pd.DataFrame
    waiting: pd.DataFrame | None = None
    closed: pd.DataFrame | None = None
    groups: tuple[str, ...] = DIMENSIONS


def latency_cases(
    cases: pd.DataFrame, waiting: pd.DataFrame, decided_at: str, since: str, key: str
) -> SloCases:
    """A latency KPI's cases: each decided case (decided at `decided_at`) judged on its
    durations; waiting ones aging from `since`; decided ones closed past their deadline."""
    return SloCases(
        decided=cases.assign(at=cases[decided_at]),
        waiting=waiting.assign(key=waiting[key], since=waiting[since]),
        closed=cases.assign(key=cases[key], since=cases[since], closed_at=cases[decided_at]),
    )


SloOffer = Callable[[Engine, SloQuery], SloCases]


@dataclass(frozen=True)
class Figure(Generic[R]):
    """One reported figure of a KPI's result: a README row, an Overview tile, an entry of
    `throughline kpis` and a name an SLO's indicator may use (`slo`: the cases it offers)."""

    name: str
    title: str
    unit: str
    audience: str
    definition: str
    report: Callable[[R], Figures]
    tile: Callable[[R], Headline]
    target: str | None = None
    page: str = "overview"
    slo: SloOffer | None = None
    kpi: Kpi[R] = field(init=False, repr=False, compare=False)

    def resolve(self) -> Callable[[Any, Scope], R]:
        """The KPI's pure function (its loader's rows and a scope → the result)."""
        return self.kpi.compute


@dataclass(frozen=True)
class Kpi(Generic[R]):
    """One KPI: how it is read (`load`) and computed (`compute`, pure), what it reads
    (`sources`) and what is reported of it (`figures`). A KPI derived from other KPIs has no
    loader: `compute` takes their results, by name (`needs`), instead of rows."""

    name: str
    load: Callable[[Engine, Scope], Any] | None
    compute: Callable[[Any, Scope], R]
    figures: tuple[Figure[R], ...]
    sources: frozenset[str]
    needs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.load is None) == (not self.needs):
            raise ValueError(f"KPI {self.name!r}: give either a loader or the KPIs it needs")
        for figure in self.figures:  # each figure knows the KPI it reports
            object.__setattr__(figure, "kpi", self)

    def read(self, engine: Engine, scope: Scope) -> Any:
        """The rows `compute` takes, read from the store (a KPI with a loader)."""
        if self.load is None:
            raise ValueError(f"KPI {self.name!r} is derived from {', '.join(self.needs)}")
        return self.load(engine, scope)

    def measure(self, engine: Engine, scope: Scope) -> R:
        """The result in `scope`, read from the store (a KPI with a loader)."""
        return self.compute(self.read(engine, scope), scope)


def measure_all(
    engine: Engine,
    scope: Scope,
    kpis: Sequence[Kpi[Any]],
    rows: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Every KPI's result in `scope`, by KPI name, in order (a derived KPI after the ones it
    needs); `rows` gives some KPIs' rows already read (by KPI name) instead of their loader."""
    given = rows or {}
    results: dict[str, Any] = {}
    for kpi in kpis:
        if kpi.needs:
            missing = [name for name in kpi.needs if name not in results]
            if missing:
                raise KeyError(f"KPI {kpi.name!r} needs {', '.join(missing)} listed before it")
            results[kpi.name] = kpi.compute({n: results[n] for n in kpi.needs}, scope)
        elif kpi.name in given:
            results[kpi.name] = kpi.compute(given[kpi.name], scope)
        else:
            results[kpi.name] = kpi.measure(engine, scope)
    return results


# The helpers figures and tiles share.


def number(value: Any) -> float | int | None:
    """A JSON-safe number: ints stay ints, NaN and None become None."""
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, int | np.integer):
        return int(value)
    out = float(value)
    return None if math.isnan(out) else out


def largest(values: pd.Series) -> float | None:
    """The largest finite number of a column (None when there is none)."""
    finite = pd.to_numeric(values, errors="coerce").dropna()
    return number(finite.max()) if len(finite) else None


def durations(stats: DurationStats) -> Figures:
    """The figures of a duration KPI: cases, p50 / p90 in business days and hours."""
    return {
        "cases": stats.cases,
        "p50_business_days": number(stats.p50_days),
        "p90_business_days": number(stats.p90_days),
        "within_target": number(stats.within_target),
        "p50_hours": number(stats.p50_hours),
        "p90_hours": number(stats.p90_hours),
    }


def series(values: pd.Series) -> tuple[float, ...]:
    """A tile's trend: the finite values of a column."""
    return tuple(float(v) for v in values if v is not None and np.isfinite(float(v)))


def weekly_rate(daily: pd.DataFrame, num: str, den: str) -> tuple[float, ...]:
    """A tile's trend: ``num / den`` per week, from daily rows (``day`` column)."""
    if daily.empty:
        return ()
    week = period_start(pd.to_datetime(daily["day"]).dt.tz_localize("UTC"), "W")
    sums = daily.groupby(week)[[num, den]].sum()
    return series(sums[num] / sums[den].where(sums[den] > 0))


def latency_tile(stats: DurationStats, by_week: pd.DataFrame, cases: str) -> Headline:
    """A duration KPI's tile: p50 in business days, p90, share within target, cases, trend."""
    return Headline(
        stats.p50_days,
        "business_days",
        (
            Fact("p90", stats.p90_days, "business_days"),
            Fact("within target", stats.within_target, "share"),
            Fact(cases, stats.cases, "count"),
        ),
        series(by_week["p50_days"]),
    )

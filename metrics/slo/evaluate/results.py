"""What an evaluation returns: per scope, per SLO, per collector and per run."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import quote

from metrics.slo.evaluate.budgets import CaseBudget, DayBudget
from metrics.slo.evaluate.sli import GroupKey, Ratio, group_key, group_label
from metrics.slo.spec import Slo
from metrics.slo.windows import BurnWindow, Severity

BudgetKind = Literal["cases", "days"]
Status = Literal["ok", "no_data", "burning", "breached", "paused"]
_STATUS_RANK: dict[Status, int] = {"ok": 0, "no_data": 1, "burning": 2, "breached": 3, "paused": 4}


@dataclass(frozen=True, slots=True)
class WindowBurn:
    """One row of the burn-rate table evaluated for one budget of one scope."""

    window: BurnWindow
    budget: BudgetKind
    severity: Severity | None
    long_rate: float | None
    short_rate: float | None
    long_count: int
    firing: bool


@dataclass(frozen=True, slots=True)
class ScopeResult:
    """An SLO evaluated for one scope: overall (``group == ()``) or one group."""

    group: GroupKey
    window_start: datetime
    data_until: datetime
    attainment: Ratio
    cases: CaseBudget
    days: DayBudget | None
    burns: tuple[WindowBurn, ...]
    status: Status

    @property
    def label(self) -> str:
        return group_label(self.group)

    @property
    def budget_remaining(self) -> float:
        """The lower of the remaining fractions of the case and day budgets."""
        fractions = [self.cases.remaining_fraction]
        if self.days is not None:
            fractions.append(self.days.remaining_fraction)
        return min(fractions)


@dataclass(frozen=True, slots=True)
class AlertCheck:
    """Whether one alert should be firing at ``as_of``, with the numbers to tell people.

    ``kind`` ``burn_rate``: one SLO × scope × budget × table row; ``freshness``: one collector.
    ``key`` is stable across runs and identifies the alert (see `burn_alert_key`).
    """

    key: str
    kind: Literal["burn_rate", "freshness"]
    severity: Severity
    firing: bool
    as_of: datetime
    slo: str | None = None
    slo_display: str | None = None
    group: GroupKey = ()
    budget: BudgetKind | None = None
    window: BurnWindow | None = None
    long_rate: float | None = None
    short_rate: float | None = None
    budget_remaining: float | None = None
    budget_left: float | None = None
    budget_unit: str | None = None
    collector: str | None = None
    last_success: datetime | None = None
    stale_after: timedelta | None = None
    paused_slos: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SloReport:
    """One SLO at ``as_of``: overall, per group, and its alert checks."""

    slo: Slo
    as_of: datetime
    status: Status
    overall: ScopeResult
    groups: tuple[ScopeResult, ...]
    checks: tuple[AlertCheck, ...]
    paused_by: tuple[str, ...] = ()

    @property
    def breached(self) -> bool:
        return self.status == "breached"

    @property
    def scopes(self) -> tuple[ScopeResult, ...]:
        return (self.overall, *self.groups)

    def scope(self, **group: str) -> ScopeResult:
        """The result for one group, e.g. ``report.scope(legal_entity="DE")``."""
        key = group_key(group, self.slo.grouping)
        for result in self.scopes:
            if result.group == key:
                return result
        raise KeyError(group_label(key))


@dataclass(frozen=True, slots=True)
class FreshnessStatus:
    """One collector's freshness at ``as_of`` and the SLOs it pauses while stale."""

    collector: str
    last_success: datetime | None
    stale_after: timedelta
    stale: bool
    paused_slos: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EvaluationRun:
    """Every SLO and collector at ``as_of``: what `metrics.slo.alerts.reconcile` consumes."""

    as_of: datetime
    reports: tuple[SloReport, ...]
    freshness: tuple[FreshnessStatus, ...]
    checks: tuple[AlertCheck, ...]

    @property
    def paused_slos(self) -> frozenset[str]:
        return frozenset(r.slo.name for r in self.reports if r.status == "paused")

    @property
    def breached(self) -> tuple[SloReport, ...]:
        return tuple(r for r in self.reports if r.breached)


def worst_status(statuses: Iterable[Status]) -> Status:
    """The most serious status (paused > breached > burning > no_data > ok)."""
    return max(statuses, key=_STATUS_RANK.__getitem__, default="no_data")


def burn_alert_key(slo: str, budget: BudgetKind, window: str, group: GroupKey) -> str:
    """``slo:<name>:<cases|days>:<row>:<group>``, the group as ``k=v&k=v`` (``*`` overall)."""
    scope = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in group) or "*"
    return f"slo:{slo}:{budget}:{window}:{scope}"


def freshness_alert_key(collector: str) -> str:
    return f"freshness:{quote(collector, safe='')}"

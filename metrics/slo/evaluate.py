"""SLO evaluation as pure functions: attainment, error budgets, burn rates, alert checks, history.

Nothing here reads the clock, the database or the network: every function takes ``as_of`` and
plain inputs (`metrics.slo.inputs`) and returns frozen dataclasses.

Definitions (after google/slo-generator and the SRE workbook):

- **attainment** (SLI) over a window ``[start, end)`` = good weight / total weight of the
  occurrences decided in it (weights are 1 for counted cases, money for value-weighted ones).
- **error budget** = ``1 − target``. In **cases**: allowed bad = ``(1 − target) × total``,
  remaining = allowed − bad (negative once overspent), remaining fraction = ``1 − bad/allowed``.
- **aging budget** in **days**: every open item past its deadline burns one day (or one business
  day, on its group's calendar; × its weight when the budget is weighted) per day past; allowed
  = ``x-throughline.aging.budget`` per SLO window; remaining = allowed − burned.
- **burn rate** over a window = ``(1 − SLI) / (1 − target)`` (cases), or burned days / the
  budget's share for that window's length (days). 1 spends the budget exactly over the SLO
  window; above 1 spends it early.
- **alerts**: each row of the burn-rate table (`metrics.slo.windows`) fires when the burn rate
  exceeds its factor over both its long and its short window (see that module for the table,
  the low-volume guard and the empty-short-window rule).
- **stale sources**: an SLO fed by a stale collector is ``paused``: attainment and budgets are
  computed only up to the oldest stale collector's last success (``data_until``), no burn rate is
  computed and no burn alert is checked (open ones are left as they are), and the collector gets
  a freshness alert of its own. Once the collector catches up, its backfilled data counts
  normally.

Windows are half-open, ``[start, end)``: an occurrence decided exactly at ``as_of`` belongs to
the next evaluation.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from itertools import accumulate
from typing import Literal
from urllib.parse import quote

from foundation.business_time import DAY, BusinessCalendar, CalendarResolver, weekends_only
from metrics.slo.inputs import Feeds, Occurrence, OpenItem, SloInputs, SourceFreshness
from metrics.slo.spec import Slo
from metrics.slo.windows import DEFAULT_BURN_WINDOWS, BurnWindow, Severity
from store.canonical import require_aware

BudgetKind = Literal["cases", "days"]
Status = Literal["ok", "no_data", "burning", "breached", "paused"]
GroupKey = tuple[tuple[str, str], ...]
OVERALL: GroupKey = ()
#: Group value used when an occurrence lacks a dimension the SLO groups by.
MISSING = "(none)"
#: Tolerance for comparing sums of floats (burn rate vs factor, bad vs allowed).
EPSILON = 1e-9
_STATUS_RANK: dict[Status, int] = {"ok": 0, "no_data": 1, "burning": 2, "breached": 3, "paused": 4}


# --- the math ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ratio:
    """Good and total weight (and how many occurrences) in one window."""

    good: float
    total: float
    count: int

    @property
    def bad(self) -> float:
        return max(0.0, self.total - self.good)

    @property
    def sli(self) -> float | None:
        """good / total in [0, 1]; None when the window holds nothing."""
        if self.total <= 0:
            return None
        return min(1.0, max(0.0, self.good / self.total))


EMPTY = Ratio(0.0, 0.0, 0)


def error_budget(target: float) -> float:
    """The share of occurrences that may be bad: ``1 − target``."""
    if not 0.0 < target < 1.0:
        raise ValueError("target must be between 0 and 1 (exclusive)")
    return 1.0 - target


def burn_rate(sli: float, target: float) -> float:
    """``(1 − SLI) / (1 − target)``: 1 spends the budget exactly over the SLO window."""
    return max(0.0, 1.0 - sli) / error_budget(target)


def ratio_burn_rate(ratio: Ratio, target: float) -> float | None:
    """The burn rate of a window's ratio, None for an empty window."""
    if ratio.total <= 0:
        return None
    return (ratio.bad / ratio.total) / error_budget(target)


def exceeds(rate: float | None, factor: float) -> bool:
    """``rate > factor``, tolerant of float noise; None never exceeds."""
    return rate is not None and rate > factor * (1 + EPSILON) + EPSILON


@dataclass(frozen=True, slots=True)
class CaseBudget:
    """The error budget in cases (or in weight, for value-weighted SLOs)."""

    target: float
    allowed: float
    bad: float

    @property
    def remaining(self) -> float:
        """Allowed minus actual bad; negative once the budget is overspent."""
        return self.allowed - self.bad

    @property
    def remaining_fraction(self) -> float:
        """``1 − bad/allowed``: 1 untouched, 0 spent, below 0 overspent (1 with no data)."""
        if self.allowed <= 0:
            return 1.0 if self.bad <= 0 else -math.inf
        return 1.0 - self.bad / self.allowed

    @property
    def exhausted(self) -> bool:
        return self.bad > self.allowed * (1 + EPSILON) + EPSILON


def case_budget(ratio: Ratio, target: float) -> CaseBudget:
    """The case budget of a window: ``allowed = (1 − target) × total``."""
    return CaseBudget(target=target, allowed=error_budget(target) * ratio.total, bad=ratio.bad)


@dataclass(frozen=True, slots=True)
class DayBudget:
    """The aging budget in days (or business days; weight-days when weighted)."""

    allowed: float
    burned: float
    unit: Literal["days", "business_days"]
    weighted: bool
    items_late: int

    @property
    def remaining(self) -> float:
        return self.allowed - self.burned

    @property
    def remaining_fraction(self) -> float:
        return 1.0 - self.burned / self.allowed if self.allowed > 0 else 1.0

    @property
    def exhausted(self) -> bool:
        return self.burned > self.allowed * (1 + EPSILON) + EPSILON


def days_past_deadline(
    item: OpenItem,
    start: datetime,
    end: datetime,
    *,
    unit: Literal["days", "business_days"],
    calendar: BusinessCalendar,
) -> float:
    """How many (business) days of ``[start, end)`` the item spent open past its deadline."""
    low = max(item.deadline, start)
    high = min(item.closed_at, end) if item.closed_at is not None else end
    if high <= low:
        return 0.0
    if unit == "business_days":
        return calendar.business_days(low, high)
    return (high - low) / DAY


def aging_burn(
    items: Iterable[OpenItem],
    start: datetime,
    end: datetime,
    *,
    unit: Literal["days", "business_days"],
    weighted: bool = False,
    calendars: CalendarResolver = weekends_only,
) -> tuple[float, int]:
    """Days burned in ``[start, end)`` by items past their deadline, and how many were late.

    Each item's business days are counted on its own group's calendar.
    """
    burned, late = 0.0, 0
    for item in items:
        days = days_past_deadline(item, start, end, unit=unit, calendar=calendars(item.group))
        if days > 0:
            late += 1
            burned += days * (item.weight if weighted else 1.0)
    return burned, late


def window_start(
    end: datetime, span: timedelta, *, business_time: bool, calendar: BusinessCalendar
) -> datetime:
    """Start of the window of length ``span`` ending at ``end`` (business time on ``calendar``
    when ``business_time``)."""
    return calendar.subtract(end, span) if business_time else end - span


def measure(
    start: datetime,
    end: datetime,
    unit: Literal["days", "business_days"],
    calendar: BusinessCalendar,
) -> float:
    """Length of ``[start, end)`` in days or business days."""
    if end <= start:
        return 0.0
    return calendar.business_days(start, end) if unit == "business_days" else (end - start) / DAY


class OccurrenceSeries:
    """Occurrences sorted by time with prefix sums: any window's `Ratio` in O(log n)."""

    def __init__(self, occurrences: Iterable[Occurrence]) -> None:
        ordered = sorted(occurrences, key=lambda o: o.at)
        self._times = [o.at for o in ordered]
        self._total = [0.0, *accumulate(o.weight for o in ordered)]
        self._bad = [0.0, *accumulate(0.0 if o.good else o.weight for o in ordered)]

    def __len__(self) -> int:
        return len(self._times)

    def ratio(self, start: datetime, end: datetime) -> Ratio:
        """Occurrences decided in ``[start, end)``."""
        if end <= start:
            return EMPTY
        i, j = bisect_left(self._times, start), bisect_left(self._times, end)
        if j <= i:
            return EMPTY
        total = self._total[j] - self._total[i]
        bad = min(total, max(0.0, self._bad[j] - self._bad[i]))
        return Ratio(good=total - bad, total=total, count=j - i)


def attainment(occurrences: Iterable[Occurrence], start: datetime, end: datetime) -> Ratio:
    """Good/total weight of the occurrences decided in ``[start, end)``."""
    return OccurrenceSeries(occurrences).ratio(start, end)


# --- groups -----------------------------------------------------------------------------------


def group_key(group: Mapping[str, str], dimensions: Sequence[str]) -> GroupKey:
    """The group an input belongs to under an SLO's grouping (missing values → ``(none)``)."""
    return tuple((d, group.get(d, MISSING)) for d in dimensions)


def group_label(key: GroupKey) -> str:
    """``legal_entity=DE, practice=Cloud``, or ``all`` for the overall scope."""
    return ", ".join(f"{k}={v}" for k, v in key) if key else "all"


def _matches(group: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    return all(group.get(k, MISSING) == v for k, v in wanted.items())


# --- results ----------------------------------------------------------------------------------


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


# --- evaluation -------------------------------------------------------------------------------


class _Calendars:
    """Memoises a resolver per group (building a holiday calendar is not free)."""

    def __init__(self, resolver: CalendarResolver) -> None:
        self._resolver = resolver
        self._cache: dict[GroupKey, BusinessCalendar] = {}

    def __call__(self, group: Mapping[str, str]) -> BusinessCalendar:
        key = tuple(sorted(group.items()))
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._resolver(group)
        return found


def evaluate_slo(
    slo: Slo,
    occurrences: Iterable[Occurrence] = (),
    open_items: Iterable[OpenItem] = (),
    *,
    as_of: datetime,
    calendars: CalendarResolver = weekends_only,
    freshness: Sequence[SourceFreshness] = (),
    feeds: Feeds | None = None,
    windows: Sequence[BurnWindow] = DEFAULT_BURN_WINDOWS,
) -> SloReport:
    """Evaluate one SLO at ``as_of``, overall and per group.

    ``calendars`` gives each group its business calendar (``{}`` for the overall scope);
    ``freshness`` and ``feeds`` (collector → SLO names) decide whether it is paused.
    """
    as_of = _aware(as_of, "as_of")
    resolve = calendars if isinstance(calendars, _Calendars) else _Calendars(calendars)
    window_from, window_to = slo.window.bounds(as_of)
    stale = [
        f for f in freshness if slo.name in (feeds or {}).get(f.collector, ()) and f.is_stale(as_of)
    ]
    data_until = as_of
    if stale:
        horizons = [f.last_success or window_from for f in stale]
        data_until = max(window_from, min(as_of, *horizons))

    occurrences = tuple(occurrences)
    items = tuple(open_items)
    dims = slo.grouping
    by_group_occ: dict[GroupKey, list[Occurrence]] = {}
    by_group_items: dict[GroupKey, list[OpenItem]] = {}
    if dims:
        for occ in occurrences:
            by_group_occ.setdefault(group_key(occ.group, dims), []).append(occ)
        for item in items:
            by_group_items.setdefault(group_key(item.group, dims), []).append(item)

    context = _Context(
        slo=slo,
        as_of=as_of,
        window_from=window_from,
        window_to=window_to,
        data_until=data_until,
        paused=bool(stale),
        calendars=resolve,
        windows=tuple(windows),
    )
    overall = context.scope(OVERALL, occurrences, items)
    groups = tuple(
        context.scope(key, by_group_occ.get(key, ()), by_group_items.get(key, ()))
        for key in sorted(set(by_group_occ) | set(by_group_items))
    )
    if stale:
        status: Status = "paused"
        checks: tuple[AlertCheck, ...] = ()
    else:
        status = worst_status(s.status for s in (overall, *groups))
        alerting = slo.alert_scope
        scopes = [overall] if alerting in ("overall", "both") else []
        if alerting in ("groups", "both"):
            scopes.extend(groups)
        checks = tuple(
            _burn_check(slo, scope, burn, as_of)
            for scope in scopes
            for burn in scope.burns
            if burn.severity is not None
        )
    return SloReport(
        slo=slo,
        as_of=as_of,
        status=status,
        overall=overall,
        groups=groups,
        checks=checks,
        paused_by=tuple(sorted(f.collector for f in stale)),
    )


@dataclass(frozen=True, slots=True)
class _Context:
    slo: Slo
    as_of: datetime
    window_from: datetime
    window_to: datetime
    data_until: datetime
    paused: bool
    calendars: Callable[[Mapping[str, str]], BusinessCalendar]
    windows: tuple[BurnWindow, ...]

    def scope(
        self, key: GroupKey, occurrences: Sequence[Occurrence], items: Sequence[OpenItem]
    ) -> ScopeResult:
        slo, target = self.slo, self.slo.target
        calendar = self.calendars(dict(key))
        series = OccurrenceSeries(occurrences)
        ratio = series.ratio(self.window_from, self.data_until)
        cases = case_budget(ratio, target)
        aging = slo.aging
        days: DayBudget | None = None
        if aging is not None:
            unit = aging.budget.unit
            burned, late = aging_burn(
                items,
                self.window_from,
                self.data_until,
                unit=unit,
                weighted=aging.weighted,
                calendars=self.calendars,
            )
            days = DayBudget(
                allowed=aging.budget.value,
                burned=burned,
                unit=unit,
                weighted=aging.weighted,
                items_late=late,
            )
        burns = () if self.paused else self._burns(series, items, calendar)
        if self.paused:
            status: Status = "paused"
        elif ratio.count == 0 and not _any_open(items, self.window_from, self.as_of):
            status = "no_data"
        elif cases.exhausted or (days is not None and days.exhausted):
            status = "breached"
        elif any(b.firing for b in burns):
            status = "burning"
        else:
            status = "ok"
        return ScopeResult(
            group=key,
            window_start=self.window_from,
            data_until=self.data_until,
            attainment=ratio,
            cases=cases,
            days=days,
            burns=burns,
            status=status,
        )

    def _burns(
        self, series: OccurrenceSeries, items: Sequence[OpenItem], calendar: BusinessCalendar
    ) -> tuple[WindowBurn, ...]:
        slo, as_of, target = self.slo, self.as_of, self.slo.target
        minimum = max(1, slo.alerting.min_occurrences)
        aging = slo.aging
        full = 0.0
        if aging is not None:
            full = measure(self.window_from, self.window_to, aging.budget.unit, calendar)
        burns: list[WindowBurn] = []
        for row in self.windows:
            severity = slo.severity(row)
            long_from = window_start(
                as_of, row.long, business_time=row.business_time, calendar=calendar
            )
            short_from = window_start(
                as_of, row.short, business_time=row.business_time, calendar=calendar
            )
            long_ratio = series.ratio(long_from, as_of)
            short_ratio = series.ratio(short_from, as_of)
            long_rate = ratio_burn_rate(long_ratio, target)
            short_rate = ratio_burn_rate(short_ratio, target)
            long_hot = long_ratio.count >= minimum and exceeds(long_rate, row.factor)
            # An empty short window (night, holiday) cannot tell that the burn stopped.
            short_hot = long_hot if short_ratio.count == 0 else exceeds(short_rate, row.factor)
            burns.append(
                WindowBurn(
                    window=row,
                    budget="cases",
                    severity=severity,
                    long_rate=long_rate,
                    short_rate=short_rate,
                    long_count=long_ratio.count,
                    firing=severity is not None and long_hot and short_hot,
                )
            )
            if aging is None:
                continue
            rates: list[float | None] = []
            for start in (long_from, short_from):
                burned, _ = aging_burn(
                    items,
                    start,
                    as_of,
                    unit=aging.budget.unit,
                    weighted=aging.weighted,
                    calendars=self.calendars,
                )
                share = aging.budget.value * measure(start, as_of, aging.budget.unit, calendar)
                rates.append(burned * full / share if share > 0 and full > 0 else None)
            burns.append(
                WindowBurn(
                    window=row,
                    budget="days",
                    severity=severity,
                    long_rate=rates[0],
                    short_rate=rates[1],
                    long_count=sum(1 for i in items if _open_during(i, long_from, as_of)),
                    firing=severity is not None
                    and exceeds(rates[0], row.factor)
                    and exceeds(rates[1], row.factor),
                )
            )
        return tuple(burns)


def _open_during(item: OpenItem, start: datetime, end: datetime) -> bool:
    return item.since < end and (item.closed_at is None or item.closed_at > start)


def _any_open(items: Iterable[OpenItem], start: datetime, end: datetime) -> bool:
    return any(_open_during(i, start, end) for i in items)


def _burn_check(slo: Slo, scope: ScopeResult, burn: WindowBurn, as_of: datetime) -> AlertCheck:
    assert burn.severity is not None
    if burn.budget == "cases":
        remaining: float = scope.cases.remaining_fraction
        left: float = scope.cases.remaining
        unit = "value" if slo.spec.indicator.weight == "value" else "cases"
    else:
        assert scope.days is not None
        remaining, left = scope.days.remaining_fraction, scope.days.remaining
        unit = "business days" if scope.days.unit == "business_days" else "days"
        if scope.days.weighted:
            unit = f"weighted {unit}"
    return AlertCheck(
        key=burn_alert_key(slo.name, burn.budget, burn.window.name, scope.group),
        kind="burn_rate",
        severity=burn.severity,
        firing=burn.firing,
        as_of=as_of,
        slo=slo.name,
        slo_display=slo.display_name,
        group=scope.group,
        budget=burn.budget,
        window=burn.window,
        long_rate=burn.long_rate,
        short_rate=burn.short_rate,
        budget_remaining=remaining,
        budget_left=left,
        budget_unit=unit,
    )


def evaluate_all(
    slos: Sequence[Slo],
    inputs: Mapping[str, SloInputs],
    *,
    as_of: datetime,
    freshness: Sequence[SourceFreshness] = (),
    feeds: Feeds | None = None,
    calendars: CalendarResolver = weekends_only,
    windows: Sequence[BurnWindow] = DEFAULT_BURN_WINDOWS,
    freshness_severity: Severity = "ticket",
) -> EvaluationRun:
    """Evaluate every SLO (inputs by SLO name; missing → empty) and every collector's freshness."""
    as_of = _aware(as_of, "as_of")
    resolve = _Calendars(calendars)
    reports = tuple(
        evaluate_slo(
            slo,
            inputs.get(slo.name, SloInputs()).occurrences,
            inputs.get(slo.name, SloInputs()).open_items,
            as_of=as_of,
            calendars=resolve,
            freshness=freshness,
            feeds=feeds,
            windows=windows,
        )
        for slo in slos
    )
    names = {slo.name for slo in slos}
    fresh: list[FreshnessStatus] = []
    checks: list[AlertCheck] = [c for r in reports for c in r.checks]
    for source in sorted(freshness, key=lambda f: f.collector):
        stale = source.is_stale(as_of)
        fed = tuple(sorted(names & set((feeds or {}).get(source.collector, ()))))
        status = FreshnessStatus(
            collector=source.collector,
            last_success=source.last_success,
            stale_after=source.stale_after,
            stale=stale,
            paused_slos=fed if stale else (),
        )
        fresh.append(status)
        checks.append(
            AlertCheck(
                key=freshness_alert_key(source.collector),
                kind="freshness",
                severity=freshness_severity,
                firing=stale,
                as_of=as_of,
                collector=source.collector,
                last_success=source.last_success,
                stale_after=source.stale_after,
                paused_slos=fed,
            )
        )
    return EvaluationRun(as_of=as_of, reports=reports, freshness=tuple(fresh), checks=tuple(checks))


# --- history ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PeriodStats:
    """One week or month: attainment, the case budget it used, and the aging days it burned.

    ``cases.remaining_fraction`` below 0 means the period alone overspent a budget of its size;
    ``days.allowed`` is the aging budget pro rata for the period's length.
    """

    start: datetime
    end: datetime
    attainment: Ratio
    cases: CaseBudget
    days: DayBudget | None

    @property
    def met(self) -> bool | None:
        """Whether the period met the target (None when it holds no occurrence)."""
        if self.attainment.count == 0:
            return None
        return not self.cases.exhausted

    @property
    def budget_consumed(self) -> float | None:
        """bad / allowed of the case budget (None when there is nothing to judge)."""
        if self.cases.allowed <= 0:
            return None
        return self.cases.bad / self.cases.allowed


def period_starts(
    start: datetime, end: datetime, period: Literal["week", "month"], tz: tzinfo
) -> list[datetime]:
    """Starts (as UTC instants) of the weeks (Monday) or months in ``tz`` overlapping
    ``[start, end)``."""
    local = start.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        local -= timedelta(days=local.weekday())
    else:
        local = local.replace(day=1)
    starts: list[datetime] = []
    while local.astimezone(UTC) < end:
        starts.append(local.astimezone(UTC))
        if period == "week":
            local = (local + timedelta(days=7)).replace(tzinfo=tz)
        else:
            year, month = (
                (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
            )
            local = local.replace(year=year, month=month)
    return starts


def history(
    slo: Slo,
    occurrences: Iterable[Occurrence],
    open_items: Iterable[OpenItem] = (),
    *,
    start: datetime,
    end: datetime,
    period: Literal["week", "month"] = "month",
    tz: tzinfo | None = None,
    group: Mapping[str, str] | None = None,
    calendars: CalendarResolver = weekends_only,
) -> tuple[PeriodStats, ...]:
    """The SLO per calendar week or month in ``[start, end)`` (clipped), overall or for ``group``.

    ``tz`` defaults to the SLO's calendar zone (UTC for rolling windows).
    """
    start, end = _aware(start, "start"), _aware(end, "end")
    zone = tz or slo.window.tz
    wanted = group or {}
    series = OccurrenceSeries(o for o in occurrences if _matches(o.group, wanted))
    items = [i for i in open_items if _matches(i.group, wanted)]
    resolve = _Calendars(calendars)
    calendar = resolve(dict(wanted))
    aging = slo.aging
    stats: list[PeriodStats] = []
    starts = period_starts(start, end, period, zone)
    for i, boundary in enumerate(starts):
        period_end = starts[i + 1] if i + 1 < len(starts) else _next_period(boundary, period, zone)
        low, high = max(boundary, start), min(period_end, end)
        ratio = series.ratio(low, high)
        days: DayBudget | None = None
        if aging is not None:
            unit = aging.budget.unit
            burned, late = aging_burn(
                items, low, high, unit=unit, weighted=aging.weighted, calendars=resolve
            )
            w_from, w_to = slo.window.bounds(low)
            if slo.window.kind == "rolling":
                w_from, w_to = high - (w_to - w_from), high
            full = measure(w_from, w_to, unit, calendar)
            share = measure(low, high, unit, calendar) / full if full > 0 else 0.0
            days = DayBudget(
                allowed=aging.budget.value * share,
                burned=burned,
                unit=unit,
                weighted=aging.weighted,
                items_late=late,
            )
        stats.append(
            PeriodStats(
                start=low,
                end=high,
                attainment=ratio,
                cases=case_budget(ratio, slo.target),
                days=days,
            )
        )
    return tuple(stats)


def _next_period(boundary: datetime, period: Literal["week", "month"], tz: tzinfo) -> datetime:
    local = boundary.astimezone(tz)
    if period == "week":
        return (local + timedelta(days=7)).astimezone(UTC)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return local.replace(year=year, month=month).astimezone(UTC)


def _aware(value: datetime, name: str) -> datetime:
    aware = require_aware(value, name)
    assert aware is not None
    return aware

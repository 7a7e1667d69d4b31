"""Evaluating SLOs at ``as_of``: every scope of every SLO, its alert checks, and each
collector's freshness check (what the SLO board and `metrics.slo.alerts.reconcile` consume).

**Stale sources**: an SLO fed by a stale collector is ``paused``: attainment and budgets are
computed only up to the oldest stale collector's last success (``data_until``), no burn rate is
computed and no burn alert is checked (open ones are left as they are), and the collector gets
a freshness alert of its own. Once the collector catches up, its backfilled data counts
normally.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from foundation.business_time import BusinessCalendar, CalendarResolver, weekends_only
from foundation.timestamps import aware
from metrics.slo.evaluate.budgets import DayBudget, aging_burn, case_budget
from metrics.slo.evaluate.burns import any_open, burn_check, window_burns
from metrics.slo.evaluate.results import (
    AlertCheck,
    EvaluationRun,
    FreshnessStatus,
    ScopeResult,
    SloReport,
    Status,
    WindowBurn,
    freshness_alert_key,
    worst_status,
)
from metrics.slo.evaluate.sli import OVERALL, GroupKey, OccurrenceSeries, group_key
from metrics.slo.inputs import Feeds, Occurrence, OpenItem, SloInputs, SourceFreshness
from metrics.slo.spec import Slo
from metrics.slo.windows import DEFAULT_BURN_WINDOWS, BurnWindow, Severity


class Calendars:
    """Memoises a resolver per group (asking a resolver may build a holiday calendar)."""

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
    as_of = aware(as_of, "as_of")
    resolve = calendars if isinstance(calendars, Calendars) else Calendars(calendars)
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
            burn_check(slo, scope, burn, as_of)
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
    """One SLO's evaluation at ``as_of``: what every scope of it shares."""

    slo: Slo
    as_of: datetime
    window_from: datetime
    window_to: datetime
    data_until: datetime
    paused: bool
    calendars: CalendarResolver
    windows: tuple[BurnWindow, ...]

    def scope(
        self, key: GroupKey, occurrences: Sequence[Occurrence], items: Sequence[OpenItem]
    ) -> ScopeResult:
        """The SLO evaluated for one scope's occurrences and open items."""
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
        burns: tuple[WindowBurn, ...] = ()
        if not self.paused:
            burns = window_burns(
                slo,
                series,
                items,
                as_of=self.as_of,
                window_from=self.window_from,
                window_to=self.window_to,
                calendar=calendar,
                calendars=self.calendars,
                windows=self.windows,
            )
        if self.paused:
            status: Status = "paused"
        elif ratio.count == 0 and not any_open(items, self.window_from, self.as_of):
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
    as_of = aware(as_of, "as_of")
    resolve = Calendars(calendars)
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

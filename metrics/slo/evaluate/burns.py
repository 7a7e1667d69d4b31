"""Burn-rate alert checks: each row of the burn-rate table (`metrics.slo.windows`) fires when the
burn rate exceeds its factor over both its long and its short window (see that module for the
table, the low-volume guard and the empty-short-window rule)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from foundation.business_time import BusinessCalendar, CalendarResolver
from metrics.slo.evaluate.budgets import aging_burn, exceeds, measure, ratio_burn_rate, window_start
from metrics.slo.evaluate.results import AlertCheck, ScopeResult, WindowBurn, burn_alert_key
from metrics.slo.evaluate.sli import OccurrenceSeries
from metrics.slo.inputs import OpenItem
from metrics.slo.spec import Slo
from metrics.slo.windows import BurnWindow


def window_burns(
    slo: Slo,
    series: OccurrenceSeries,
    items: Sequence[OpenItem],
    *,
    as_of: datetime,
    window_from: datetime,
    window_to: datetime,
    calendar: BusinessCalendar,
    calendars: CalendarResolver,
    windows: Sequence[BurnWindow],
) -> tuple[WindowBurn, ...]:
    """Every row of the table for one scope: its case budget's burn and, with an aging budget,
    its day budget's burn, over the row's long and short windows ending at ``as_of``."""
    target = slo.target
    minimum = max(1, slo.alerting.min_occurrences)
    aging = slo.aging
    full = 0.0
    if aging is not None:
        full = measure(window_from, window_to, aging.budget.unit, calendar)
    burns: list[WindowBurn] = []
    for row in windows:
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
                calendars=calendars,
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
                long_count=sum(1 for i in items if open_during(i, long_from, as_of)),
                firing=severity is not None
                and exceeds(rates[0], row.factor)
                and exceeds(rates[1], row.factor),
            )
        )
    return tuple(burns)


def open_during(item: OpenItem, start: datetime, end: datetime) -> bool:
    """Whether the item was open at some instant of ``[start, end)``."""
    return item.since < end and (item.closed_at is None or item.closed_at > start)


def any_open(items: Iterable[OpenItem], start: datetime, end: datetime) -> bool:
    """Whether any item was open during ``[start, end)``."""
    return any(open_during(i, start, end) for i in items)


def burn_check(slo: Slo, scope: ScopeResult, burn: WindowBurn, as_of: datetime) -> AlertCheck:
    """The alert check of one row's burn for one scope, with the budget left to tell people."""
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

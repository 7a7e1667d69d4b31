"""An SLO per calendar week or month: attainment, the case budget used, aging days burned."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal

from foundation.business_time import CalendarResolver, weekends_only
from foundation.timestamps import aware
from metrics.slo.evaluate.board import Calendars
from metrics.slo.evaluate.budgets import CaseBudget, DayBudget, aging_burn, case_budget, measure
from metrics.slo.evaluate.sli import OccurrenceSeries, Ratio, matches
from metrics.slo.inputs import Occurrence, OpenItem
from metrics.slo.spec import Slo


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
    start, end = aware(start, "start"), aware(end, "end")
    zone = tz or slo.window.tz
    wanted = group or {}
    series = OccurrenceSeries(o for o in occurrences if matches(o.group, wanted))
    items = [i for i in open_items if matches(i.group, wanted)]
    resolve = Calendars(calendars)
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

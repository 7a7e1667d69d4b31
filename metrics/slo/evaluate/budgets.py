"""Error budgets in cases and in days, and burn rates.

- **error budget** = ``1 − target``. In **cases**: allowed bad = ``(1 − target) × total``,
  remaining = allowed − bad (negative once overspent), remaining fraction = ``1 − bad/allowed``.
- **aging budget** in **days**: every open item past its deadline burns one day (or one business
  day, on its group's calendar; × its weight when the budget is weighted) per day past; allowed
  = ``x-throughline.aging.budget`` per SLO window; remaining = allowed − burned.
- **burn rate** over a window = ``(1 − SLI) / (1 − target)`` (cases), or burned days / the
  budget's share for that window's length (days). 1 spends the budget exactly over the SLO
  window; above 1 spends it early.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from foundation.business_time import DAY, BusinessCalendar, CalendarResolver, weekends_only
from metrics.slo.evaluate.sli import Ratio
from metrics.slo.inputs import OpenItem

#: Tolerance for comparing sums of floats (burn rate vs factor, bad vs allowed).
EPSILON = 1e-9


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

"""The multi-window, multi-burn-rate alert table, as data.

Google's SRE workbook (ch. 5, "Alerting on SLOs") alerts when the error budget burns faster than
``factor`` times the sustainable rate over a *long* window **and** a *short* one: the long window
proves the burn is significant, the short one that it is still going on (so the alert resets
soon after the problem stops). Its table for a 30-day SLO of a web service is:

=========  ======  =====  ======  =======================
severity   long    short  factor  budget spent when firing
=========  ======  =====  ======  =======================
page       1 h     5 min  14.4    2 %
page       6 h     30 min 6       5 %
ticket     3 d     6 h    1       10 %
=========  ======  =====  ======  =======================

Quote-to-cash handoffs are not web requests: a firm wins a handful of deals and posts a few
dozen invoices a day, during business days, so an hour holds too few cases to mean anything and
weekends hold none. Throughline keeps the workbook's factors and its long/short ratios but
stretches the windows about 24× and measures them in **business time** (only time on business
days counts, on the group's calendar; see `foundation.business_time`), so a Monday-morning window
reaches back into Friday instead of into an empty weekend:

=======  ========  ===================  ====================  ======  =========================
row      severity  long                 short                 factor  spent of a 28-day budget
=======  ========  ===================  ====================  ======  =========================
fast     page      1 business day       2 business hours      14.4    ≈ 72 % (1/20 of 20 bd)
medium   page      3 business days      6 business hours      6       ≈ 90 %
slow     ticket    5 business days      1 business day        1       ≈ 25 %
=======  ========  ===================  ====================  ======  =========================

- *fast* is "the process is broken": an ERP outage or a bad release. With a 99 % sync SLO it
  needs > 14.4 % failed first attempts over the last business day and the last two business
  hours; an outage that fails everything pages about 3½ business hours in.
- *medium* is "badly degraded for days" (> 6 % failures on a 99 % SLO for three business days).
- *slow* is "spending faster than the budget allows, for a week": a ticket, not a page.

A factor can never be reached when it is at least ``1 / (1 - target)`` (the burn rate when every
case is bad): the 14.4× row is unreachable for a 90 % target. Such rows are switched off for
that SLO unless its YAML turns them on explicitly, which is refused at load.

Low volume: an SLO may require a minimum number of occurrences in the long window before a row
may fire (``alerting.min_occurrences``), and a short window that holds no occurrence at all
(night, a holiday) defers to the long window instead of resetting the alert — otherwise every
quiet night would resolve an alert and every morning would open a new episode.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

Severity = Literal["page", "ticket"]


@dataclass(frozen=True, slots=True)
class BurnWindow:
    """One row of the alert table: fire at ``severity`` when both windows burn above ``factor``.

    ``long`` and ``short`` are business time when ``business_time`` (the default), else
    calendar time.
    """

    name: str
    severity: Severity
    long: timedelta
    short: timedelta
    factor: float
    business_time: bool = True

    def __post_init__(self) -> None:
        if not (timedelta(0) < self.short < self.long):
            raise ValueError(f"burn window {self.name!r}: need 0 < short < long")
        if self.factor <= 0:
            raise ValueError(f"burn window {self.name!r}: factor must be positive")

    def describe(self) -> str:
        """E.g. ``1 business day / 2 business hours above 14.4×``."""
        kind = "business " if self.business_time else ""
        return (
            f"{describe_span(self.long, kind)} / {describe_span(self.short, kind)}"
            f" above {self.factor:g}×"
        )


def describe_span(span: timedelta, kind: str = "") -> str:
    """``1 day``, ``3 business days``, ``6 hours``, ``90 minutes``."""
    seconds = int(span.total_seconds())
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {kind}{unit}{'' if count == 1 else 's'}"
    return f"{seconds} {kind}seconds"


DEFAULT_BURN_WINDOWS: tuple[BurnWindow, ...] = (
    BurnWindow("fast", "page", timedelta(days=1), timedelta(hours=2), 14.4),
    BurnWindow("medium", "page", timedelta(days=3), timedelta(hours=6), 6.0),
    BurnWindow("slow", "ticket", timedelta(days=5), timedelta(days=1), 1.0),
)


def max_burn_rate(target: float) -> float:
    """The burn rate when every case is bad: ``1 / (1 - target)``."""
    return 1.0 / (1.0 - target)


def reachable(window: BurnWindow, target: float) -> bool:
    """Whether ``window.factor`` can be exceeded at all with this target."""
    return window.factor < max_burn_rate(target)

"""Project setup latency: first `deal.won` → `project.created` of the deal's first project.

Closed cases count in the period their project was created (by `as_of`); deals still waiting at
`as_of` are the stuck handoffs, aged at `as_of`. Touchless share: closed cases whose project
the integration user created; unknown (None, with `touchless` None) when no closed case's
project says who created it, e.g. an imported log without a creator column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, Engine, and_, or_, select

from metrics.fx import FxIssue, FxTable
from metrics.kpis.common import (
    ALL,
    Countries,
    DurationStats,
    Filters,
    business_days,
    duration_stats,
    hours,
    money,
    read_frame,
    trend,
    utc,
)
from store.tables import CaseHandoff

DEFAULT_TARGET_DAYS = 2.0
TIMES = ("won_at", "project_created_at")


def load_handoffs(conn: Connection | Engine, filters: Filters = ALL) -> pd.DataFrame:
    """Handoff facts that can be closed in, or open during, the period, and the excluded deals
    won in it (dimension-filtered)."""
    t = CaseHandoff
    query = select(
        t.deal_key,
        t.legal_entity,
        t.practice,
        t.customer,
        t.owner,
        t.currency,
        t.amount,
        t.won_at,
        t.wins,
        t.excluded,
        t.project_key,
        t.project_created_at,
        t.projects,
        t.touchless,
    ).where(*filters.dims(t))
    if filters.end_at is not None:
        query = query.where(t.won_at < filters.end_at)
    if filters.start_at is not None:
        start = filters.start_at
        query = query.where(
            or_(
                and_(
                    t.excluded.is_(None),
                    or_(t.project_created_at.is_(None), t.project_created_at >= start),
                ),
                and_(t.excluded.is_not(None), t.won_at >= start),
            )
        )
    return read_frame(conn, query.order_by(t.won_at, t.deal_key), TIMES)


@dataclass(frozen=True)
class SetupLatency:
    """Project setup latency as of `as_of` (durations in business days and hours)."""

    as_of: datetime
    target_days: float
    stats: DurationStats
    touchless: int | None  # None: no closed case's project says whether it was touchless
    touchless_share: float | None
    by_week: pd.DataFrame
    by_month: pd.DataFrame
    cases: pd.DataFrame
    stuck: pd.DataFrame
    excluded: dict[str, int]
    fx_issues: list[FxIssue] = field(default_factory=list)


def setup_latency(
    handoffs: pd.DataFrame,
    as_of: datetime,
    *,
    filters: Filters = ALL,
    target_days: float = DEFAULT_TARGET_DAYS,
    countries: Countries | None = None,
    fx: FxTable | None = None,
) -> SetupLatency:
    """The KPI from `load_handoffs` rows; `fx` converts stuck deals' amounts at `as_of`."""
    f = handoffs.copy()
    for name in TIMES:
        f[name] = utc(f[name])
    now = pd.Timestamp(as_of)
    counted = f["excluded"].isna() & (f["won_at"] <= now)
    closed = f[
        counted & (f["project_created_at"] <= now) & filters.in_period(f["project_created_at"])
    ].copy()
    closed["business_days"] = business_days(
        closed["won_at"], closed["project_created_at"], closed["legal_entity"], countries
    )
    closed["calendar_hours"] = hours(closed["won_at"], closed["project_created_at"])
    closed["within_target"] = closed["business_days"] <= target_days
    waiting = counted & (f["project_created_at"].isna() | (f["project_created_at"] > now))
    if filters.end_at is not None:
        waiting &= f["won_at"] < pd.Timestamp(filters.end_at)
    stuck = f[waiting].copy()
    until = pd.Series(now, index=stuck.index)
    stuck["age_business_days"] = business_days(
        stuck["won_at"], until, stuck["legal_entity"], countries
    )
    stuck["age_hours"] = hours(stuck["won_at"], until)
    issues: list[FxIssue] = []
    if fx is not None:
        stuck["amount_rc"], issues = fx.convert(
            money(stuck["amount"]),
            list(stuck["currency"]),
            [as_of.date()] * len(stuck),
        )
    known = closed.empty or bool(closed["touchless"].notna().any())
    touchless = int((closed["touchless"] == True).sum()) if known else None  # noqa: E712
    excluded = f[f["excluded"].notna() & (f["won_at"] <= now) & filters.in_period(f["won_at"])]
    excluded = excluded["excluded"].value_counts()
    return SetupLatency(
        as_of=as_of,
        target_days=target_days,
        stats=duration_stats(closed["business_days"], closed["calendar_hours"], target_days),
        touchless=touchless,
        touchless_share=touchless / len(closed) if touchless is not None and len(closed) else None,
        by_week=trend(closed, "project_created_at", "business_days", target_days, "W"),
        by_month=trend(closed, "project_created_at", "business_days", target_days, "M"),
        cases=closed.reset_index(drop=True),
        stuck=stuck.sort_values("age_hours", ascending=False, kind="stable").reset_index(drop=True),
        excluded={str(k): int(v) for k, v in excluded.items()},
        fx_issues=issues,
    )

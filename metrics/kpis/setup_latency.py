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
    percentile,
    read_frame,
    trend,
    utc,
)
from metrics.kpis.declaration import (
    Fact,
    Figure,
    Figures,
    Headline,
    Kpi,
    Scope,
    SloCases,
    SloQuery,
    durations,
    largest,
    latency_cases,
    latency_tile,
    number,
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


# The declaration (metrics.kpis.declaration): how Throughline reads, reports and shows it.


def _load(engine: Engine, scope: Scope) -> pd.DataFrame:
    return load_handoffs(engine, scope.filters)


def _compute(handoffs: pd.DataFrame, scope: Scope) -> SetupLatency:
    return setup_latency(
        handoffs, scope.at, filters=scope.filters, countries=scope.countries, fx=scope.fx
    )


def _slo_cases(engine: Engine, query: SloQuery) -> SloCases:
    """Handoffs decided in the SLO windows; won deals still waiting, for the aging budget."""
    kpi = KPI.measure(engine, query.scope())
    return latency_cases(kpi.cases, kpi.stuck, "project_created_at", "won_at", "deal_key")


def _stuck(r: SetupLatency) -> Figures:
    stuck = r.stuck
    return {
        "deals": len(stuck),
        "p50_age_business_days": number(percentile(stuck["age_business_days"], 50)),
        "max_age_business_days": largest(stuck["age_business_days"]),
        "excluded_no_project": r.excluded.get("no_project_required", 0),
        "excluded_reopened_lost": r.excluded.get("reopened_lost", 0),
    }


def _stuck_tile(r: SetupLatency) -> Headline:
    stuck = r.stuck
    oldest = stuck["age_business_days"].max() if len(stuck) else None
    value = float(stuck["amount_rc"].sum()) if len(stuck) else 0.0
    return Headline(
        len(stuck),
        "count",
        (Fact("oldest", oldest, "business_days"), Fact("deal value", value, "money")),
    )


KPI: Kpi[SetupLatency] = Kpi(
    name="setup_latency",
    load=_load,
    compute=_compute,
    sources=frozenset({"crm", "psa", "tryton"}),
    figures=(
        Figure(
            "setup_latency",
            "Project setup latency",
            unit="business days (p50, p90)",
            audience="CFO, PMO",
            definition="First `deal.won` of a deal → `project.created` of its first linked "
            "project; no-project and reopened-then-lost deals excluded.",
            target="≤ 2 business days",
            page="handoffs",
            report=lambda r: {**durations(r.stats), "target_days": r.target_days},
            tile=lambda r: latency_tile(r.stats, r.by_week, "handoffs"),
            slo=_slo_cases,
        ),
        Figure(
            "stuck_handoffs",
            "Stuck handoffs",
            unit="deals; business days waiting",
            audience="PMO",
            definition="Won deals with no project yet, aged from the first win to now.",
            page="handoffs",
            report=_stuck,
            tile=_stuck_tile,
        ),
        Figure(
            "touchless_share",
            "Touchless handoff rate",
            unit="share of handoffs",
            audience="PMO, CFO",
            definition="Share of handoffs whose project the integration user created.",
            page="handoffs",
            report=lambda r: {
                "touchless": r.touchless,
                "handoffs": r.stats.cases,
                "share": number(r.touchless_share),
            },
            tile=lambda r: Headline(
                r.touchless_share, "share", (Fact("touchless", r.touchless, "count"),)
            ),
        ),
    ),
)

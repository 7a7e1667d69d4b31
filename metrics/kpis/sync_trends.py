"""Sync error trends per integration, flow and day, from the sync rollups.

First-attempt error rate = failed first attempts / first attempts; retries are counted apart.
A failing record is a trace key with at least one failed attempt. A day is a *spike* for a flow
when its failed first attempts reach `min_failures` and exceed the median of the flow's previous
`baseline_days` days by more than `spike_k` × max(1.4826 × their median absolute deviation, 1)
(days without attempts count as zero; the floor of 1 keeps quiet flows from alarming on
noise). Open exceptions: traces whose latest attempt failed, aged at `as_of`. Time to
resolve: first failure → first later success of the same trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import Engine

from metrics.kpis.common import (
    ALL,
    Countries,
    Filters,
    business_days,
    hours,
    percentile,
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
    largest,
    number,
    weekly_rate,
)
from metrics.kpis.sync_rows import (
    COUNTERS,
    DEFAULT_BASELINE_DAYS,
    TRACE_TIMES,
    day_of,
    first_attempts,
)
from metrics.kpis.sync_rows import SyncFacts as SyncFacts
from metrics.kpis.sync_rows import load_sync as load_sync

MAD_SCALE = 1.4826


@dataclass(frozen=True)
class SyncTotals:
    """Counters over the period."""

    attempts: int
    first_attempts: int
    failed_first_attempts: int
    first_attempt_error_rate: float | None
    retries: int
    failed_retries: int
    failing_records: int


@dataclass(frozen=True)
class ResolveStats:
    """Time to resolve (calendar hours) of the traces resolved in the period."""

    resolved: int
    p50_hours: float | None
    p90_hours: float | None


@dataclass(frozen=True)
class SyncErrorTrends:
    """Sync error trends as of `as_of`."""

    as_of: datetime
    totals: SyncTotals
    daily: pd.DataFrame
    spikes: pd.DataFrame
    error_classes: pd.DataFrame
    top_signatures: pd.DataFrame
    open_exceptions: pd.DataFrame
    time_to_resolve: ResolveStats


def _totals(daily: pd.DataFrame, failures: pd.DataFrame) -> SyncTotals:
    s = {c: int(daily[c].sum()) for c in COUNTERS}
    return SyncTotals(
        attempts=s["attempts"],
        first_attempts=s["first_attempts"],
        failed_first_attempts=s["failed_first_attempts"],
        first_attempt_error_rate=(
            s["failed_first_attempts"] / s["first_attempts"] if s["first_attempts"] else None
        ),
        retries=s["retries"],
        failed_retries=s["failed_retries"],
        failing_records=int(failures["trace_key"].nunique()),
    )


def sync_error_trends(
    facts: SyncFacts,
    as_of: datetime,
    *,
    filters: Filters = ALL,
    baseline_days: int = DEFAULT_BASELINE_DAYS,
    spike_k: float = 3.0,
    min_failures: int = 5,
    top: int = 10,
    countries: Countries | None = None,
) -> SyncErrorTrends:
    """The KPI from `load_sync` rows."""
    last = as_of.date()
    first = day_of(filters.start) if filters.start is not None else None
    end = day_of(filters.end) if filters.end is not None else None

    def in_period(days: pd.Series) -> pd.Series:
        mask = days <= last
        if first is not None:
            mask &= days >= first
        if end is not None:
            mask &= days < end
        return mask

    all_daily = facts.daily
    daily = all_daily[in_period(all_daily["day"])] if len(all_daily) else all_daily
    failures = (
        facts.failures[in_period(facts.failures["day"])]
        if len(facts.failures)
        else (facts.failures)
    )
    per_day = _per_day(all_daily, failures, baseline_days, spike_k, min_failures)
    per_day = per_day[in_period(per_day["day"])].reset_index(drop=True) if len(per_day) else per_day
    traces = facts.traces.copy()
    for name in TRACE_TIMES:
        traces[name] = utc(traces[name])
    now = pd.Timestamp(as_of)
    open_ = traces[(traces["latest_status"] == "failed") & (traces["latest_attempt_at"] <= now)]
    open_ = open_.copy()
    until = pd.Series(now, index=open_.index)
    open_["age_hours"] = hours(open_["first_failed_at"], until)
    open_["age_business_days"] = business_days(
        open_["first_failed_at"], until, open_["legal_entity"], countries
    )
    resolved = traces[(traces["resolved_at"] <= now) & filters.in_period(traces["resolved_at"])]
    ttr = hours(resolved["first_failed_at"], resolved["resolved_at"])
    return SyncErrorTrends(
        as_of=as_of,
        totals=_totals(daily, failures),
        daily=per_day,
        spikes=per_day[per_day["spike"]].reset_index(drop=True) if len(per_day) else per_day,
        error_classes=_classes(daily, failures),
        top_signatures=_signatures(failures, top),
        open_exceptions=open_.sort_values("age_hours", ascending=False, kind="stable").reset_index(
            drop=True
        ),
        time_to_resolve=ResolveStats(len(resolved), percentile(ttr, 50), percentile(ttr, 90)),
    )


DAY_COLUMNS = [
    "day",
    "integration",
    "flow",
    *COUNTERS,
    "first_attempt_error_rate",
    "failing_records",
    "baseline",
    "threshold",
    "spike",
]


def _per_day(
    daily: pd.DataFrame, failures: pd.DataFrame, window: int, k: float, min_failures: int
) -> pd.DataFrame:
    if daily.empty:
        return pd.DataFrame(columns=DAY_COLUMNS)
    keys = ["day", "integration", "flow"]
    sums = daily.groupby(keys)[list(COUNTERS)].sum().reset_index()
    records = failures.groupby(keys)["trace_key"].nunique().rename("failing_records")
    sums = sums.merge(records.reset_index(), on=keys, how="left")
    sums["failing_records"] = sums["failing_records"].fillna(0).astype(int)
    sums["first_attempt_error_rate"] = sums["failed_first_attempts"] / sums["first_attempts"].where(
        sums["first_attempts"] > 0
    )
    out = []
    for (_, _), flow in sums.groupby(["integration", "flow"], sort=True):
        base, limit = _baseline(flow, window, k)
        flow = flow.assign(baseline=base, threshold=limit)
        flow["spike"] = (flow["failed_first_attempts"] >= min_failures) & (
            flow["failed_first_attempts"] > flow["threshold"]
        )
        out.append(flow)
    return pd.concat(out).sort_values(keys, kind="stable")[DAY_COLUMNS].reset_index(drop=True)


def _baseline(
    flow: pd.DataFrame, window: int, k: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Median and spike threshold of each day's `window` prior days (days without any attempt
    count as 0 failures), for one integration and flow."""
    series = flow.set_index("day")["failed_first_attempts"]
    first, last = min(series.index), max(series.index)
    days = [first + timedelta(days=n) for n in range(-window, (last - first).days + 1)]
    counts = series.reindex(days, fill_value=0).to_numpy(dtype=float)
    prior = np.lib.stride_tricks.sliding_window_view(counts, window)[:-1]  # days before each
    median = np.median(prior, axis=1)
    mad = np.median(np.abs(prior - median[:, None]), axis=1)
    threshold = median + k * np.maximum(MAD_SCALE * mad, 1.0)
    at = [(day - first).days for day in flow["day"]]
    return median[at], threshold[at]


def _classes(daily: pd.DataFrame, failures: pd.DataFrame) -> pd.DataFrame:
    columns = ["error_class", "failed_attempts", "failing_records", "share"]
    failed = daily[daily["error_class"] != ""] if len(daily) else daily
    if failed.empty:
        return pd.DataFrame(columns=columns)
    counts = (
        (failed["failed_first_attempts"] + failed["failed_retries"])
        .groupby(failed["error_class"])
        .sum()
    )
    records = failures.groupby("error_class")["trace_key"].nunique()
    out = pd.DataFrame({"failed_attempts": counts}).join(records.rename("failing_records"))
    out["failing_records"] = out["failing_records"].fillna(0).astype(int)
    out["share"] = out["failed_attempts"] / out["failed_attempts"].sum()
    out = out.reset_index().rename(columns={"index": "error_class"})
    return out.sort_values(["failed_attempts", "error_class"], ascending=[False, True])[
        columns
    ].reset_index(drop=True)


def _signatures(failures: pd.DataFrame, top: int) -> pd.DataFrame:
    columns = [
        "error_class",
        "error_signature",
        "failures",
        "failing_records",
        "first_day",
        "last_day",
        "flows",
    ]
    if failures.empty:
        return pd.DataFrame(columns=columns)
    keys = ["error_class", "error_signature"]
    g = failures.groupby(keys)
    out = pd.DataFrame(
        {
            "failures": g["failures"].sum(),
            "failing_records": g["trace_key"].nunique(),
            "first_day": g["day"].min(),
            "last_day": g["day"].max(),
            "flows": g["flow"].agg(lambda s: ", ".join(sorted(set(s)))),
        }
    ).reset_index()
    out = out.sort_values(
        ["failures", "failing_records", *keys], ascending=[False, False, True, True]
    )
    return out.head(top)[columns].reset_index(drop=True)


# The declaration (metrics.kpis.declaration): how Throughline reads, reports and shows it.


def _load(engine: Engine, scope: Scope) -> SyncFacts:
    return load_sync(engine, scope.filters)


def _compute(facts: SyncFacts, scope: Scope) -> SyncErrorTrends:
    return sync_error_trends(facts, scope.at, filters=scope.filters, countries=scope.countries)


def _slo_cases(engine: Engine, query: SloQuery) -> SloCases:
    """One decided case per first sync attempt in the SLO windows, by integration: good when
    it succeeded (retries are not cases)."""
    return SloCases(first_attempts(engine, query.since, query.as_of), groups=("integration",))


def _rate(r: SyncErrorTrends) -> Figures:
    t = r.totals
    return {
        "attempts": t.attempts,
        "first_attempts": t.first_attempts,
        "failed_first_attempts": t.failed_first_attempts,
        "rate": number(t.first_attempt_error_rate),
        "retries": t.retries,
        "failed_retries": t.failed_retries,
    }


def _rate_tile(r: SyncErrorTrends) -> Headline:
    t = r.totals
    return Headline(
        t.first_attempt_error_rate,
        "share",
        (
            Fact("failed first attempts", t.failed_first_attempts, "count"),
            Fact("retries", t.retries, "count"),
        ),
        weekly_rate(r.daily, "failed_first_attempts", "first_attempts"),
    )


def _open_tile(r: SyncErrorTrends) -> Headline:
    open_ = r.open_exceptions
    oldest = open_["age_hours"].max() if len(open_) else None
    return Headline(len(open_), "count", (Fact("oldest", oldest, "hours"),))


KPI: Kpi[SyncErrorTrends] = Kpi(
    name="sync_trends",
    load=_load,
    compute=_compute,
    sources=frozenset({"ipaas", "n8n", "logs"}),
    figures=(
        Figure(
            "sync_error_rate",
            "First-attempt sync error rate",
            unit="share of first attempts",
            audience="support",
            definition="Failed first attempts ÷ first attempts per integration, flow and day; "
            "retries apart.",
            page="sync",
            report=_rate,
            tile=_rate_tile,
            slo=_slo_cases,
        ),
        Figure(
            "sync_failing_records",
            "Failing records",
            unit="records",
            audience="support",
            definition="Distinct trace keys with a failed attempt, by error class and signature.",
            page="sync",
            report=lambda r: {"records": r.totals.failing_records},
            tile=lambda r: Headline(r.totals.failing_records, "count"),
        ),
        Figure(
            "sync_spikes",
            "Sync error spikes",
            unit="flow-days",
            audience="support",
            definition="Days whose failed first attempts exceed the trailing 28-day median by "
            "3 × MAD (at least 5 failures).",
            page="sync",
            report=lambda r: {"flow_days": len(r.spikes)},
            tile=lambda r: Headline(len(r.spikes), "count"),
        ),
        Figure(
            "sync_open_exceptions",
            "Open sync exceptions",
            unit="records; hours open",
            audience="support",
            definition="Trace keys whose latest attempt failed, aged from their first failure.",
            page="sync",
            report=lambda r: {
                "records": len(r.open_exceptions),
                "max_hours_open": largest(r.open_exceptions["age_hours"]),
            },
            tile=_open_tile,
        ),
        Figure(
            "sync_time_to_resolve",
            "Time to resolve",
            unit="calendar hours (p50, p90)",
            audience="support",
            definition="First failure → first later success of the same trace key.",
            page="sync",
            report=lambda r: {
                "resolved": r.time_to_resolve.resolved,
                "p50_hours": number(r.time_to_resolve.p50_hours),
                "p90_hours": number(r.time_to_resolve.p90_hours),
            },
            tile=lambda r: Headline(
                r.time_to_resolve.p50_hours,
                "hours",
                (
                    Fact("p90", r.time_to_resolve.p90_hours, "hours"),
                    Fact("resolved", r.time_to_resolve.resolved, "count"),
                ),
            ),
        ),
    ),
)

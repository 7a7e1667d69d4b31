"""What the sync error trends read: the sync rollups (daily counters, failing records, failed
traces) and, for their SLO, the first attempts themselves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd
from sqlalchemy import Connection, Engine, func, or_, select

from metrics.kpis.common import ALL, Filters, read_frame
from store.tables import SyncAttempt, SyncDaily, SyncFailure, SyncTrace

DEFAULT_BASELINE_DAYS = 28
COUNTERS = ("attempts", "first_attempts", "failed_first_attempts", "retries", "failed_retries")
TRACE_TIMES = ("first_attempt_at", "first_failed_at", "resolved_at", "latest_attempt_at")


@dataclass(frozen=True)
class SyncFacts:
    """Daily counters (from the baseline window on), failing records, and failed traces."""

    daily: pd.DataFrame
    failures: pd.DataFrame
    traces: pd.DataFrame


def load_sync(
    conn: Connection | Engine, filters: Filters = ALL, baseline_days: int = DEFAULT_BASELINE_DAYS
) -> SyncFacts:
    """The rollups for the period (daily counters also for the baseline window before it)."""
    d, fl, tr = SyncDaily, SyncFailure, SyncTrace
    daily = select(
        d.day,
        d.integration,
        d.flow,
        d.error_class,
        d.error_signature,
        *(func.sum(d.__table__.c[c]).label(c) for c in COUNTERS),
    ).where(*filters.dims(d))
    failures = select(
        fl.day,
        fl.integration,
        fl.flow,
        fl.trace_key,
        fl.error_class,
        fl.error_signature,
        fl.failures,
    ).where(*filters.dims(fl))
    traces = select(
        tr.integration,
        tr.flow,
        tr.trace_key,
        tr.legal_entity,
        tr.practice,
        tr.customer,
        tr.attempts,
        tr.failures,
        *(tr.__table__.c[c] for c in TRACE_TIMES),
        tr.latest_status,
        tr.first_error_class,
        tr.latest_error_class,
        tr.latest_error_signature,
    ).where(tr.first_failed_at.is_not(None), *filters.dims(tr))
    if filters.start is not None:
        first = day_of(filters.start)
        daily = daily.where(d.day >= first - timedelta(days=baseline_days))
        failures = failures.where(fl.day >= first)
        traces = traces.where(or_(tr.latest_status == "failed", tr.resolved_at >= filters.start_at))
    if filters.end is not None:
        daily = daily.where(d.day < day_of(filters.end))
        failures = failures.where(fl.day < day_of(filters.end))
        traces = traces.where(tr.first_failed_at < filters.end_at)
    daily = daily.group_by(d.day, d.integration, d.flow, d.error_class, d.error_signature)
    return SyncFacts(
        read_frame(conn, daily.order_by(d.day, d.integration, d.flow)),
        read_frame(conn, failures),
        read_frame(conn, traces, TRACE_TIMES),
    )


def day_of(value: date) -> date:
    """The day of a date or a datetime."""
    return value.date() if isinstance(value, datetime) else value


def first_attempts(engine: Engine, since: datetime, until: datetime) -> pd.DataFrame:
    """First sync attempts started in ``[since, until]`` and finished: ``at`` (started),
    ``good`` (succeeded) and ``integration``."""
    a = SyncAttempt
    query = select(a.started_at, a.status, a.integration).where(
        a.attempt_number == 1,
        a.status != "running",
        a.started_at >= since,
        a.started_at <= until,
    )
    with engine.connect() as conn:
        rows = [(at, status == "success", name) for at, status, name in conn.execute(query)]
    return pd.DataFrame(rows, columns=["at", "good", "integration"])

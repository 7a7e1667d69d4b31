"""The sync errors page: error rate per integration and flow with spikes, classes, signatures,
open exceptions, time to resolve, and the failed attempts behind any point (payloads are masked
in the store) with their retry lineage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine, String, and_, cast, select

from metrics.kpis.common import Filters, instant
from metrics.kpis.sync_trends import SyncErrorTrends
from metrics.views.access import Access
from metrics.views.common import ViewConfig, frame
from metrics.views.guard import view
from metrics.views.kpiset import sync
from store.tables import SyncAttempt, SyncTrace

ATTEMPT_COLUMNS = [
    "started_at",
    "integration",
    "flow",
    "attempt_number",
    "status",
    "error_class",
    "error_message",
    "trace_key",
    "customer",
    "legal_entity",
    "id",
    "retry_of_id",
    "object_id",
]
LIMIT = 500


def _text(column: Any) -> Any:
    """A 63-bit id as text (a float column would round it), keeping its name."""
    return cast(column, String).label(column.key)


@dataclass(frozen=True)
class SyncView:
    """Sync error trends for the page."""

    kpi: SyncErrorTrends
    flows: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return self.kpi.totals.attempts == 0 and self.kpi.open_exceptions.empty


@view("sync")
def sync_view(
    access: Access, engine: Engine, config: ViewConfig, filters: Filters, as_of: datetime
) -> SyncView:
    """Sync error trends over the period."""
    kpi = sync(engine, config, filters, as_of)
    daily = kpi.daily
    flows = tuple(sorted(set(daily["flow"]))) if len(daily) else ()
    return SyncView(kpi, flows)


@dataclass(frozen=True)
class AttemptQuery:
    """Which failed attempts to list: any combination of the fields (None: any)."""

    day: date | None = None
    integration: str | None = None
    flow: str | None = None
    error_class: str | None = None
    error_signature: str | None = None
    trace_key: str | None = None


@view("sync")
def failed_attempts(
    access: Access, engine: Engine, filters: Filters, query: AttemptQuery, limit: int = LIMIT
) -> pd.DataFrame:
    """Failed attempts matching `query` in the period (newest first), with the record's dims."""
    a, t = SyncAttempt, SyncTrace
    q = (
        select(
            a.started_at,
            a.integration,
            a.flow,
            a.attempt_number,
            a.status,
            a.error_class,
            a.error_message,
            a.trace_key,
            t.customer,
            t.legal_entity,
            _text(a.id),
            _text(a.retry_of_id),
            _text(a.object_id),
        )
        .join(
            t,
            and_(t.trace_key == a.trace_key, t.integration == a.integration, t.flow == a.flow),
            isouter=True,
        )
        .where(a.status == "failed", *filters.dims(t))
    )
    if query.day is not None:
        start = instant(query.day)
        assert start is not None
        q = q.where(a.started_at >= start, a.started_at < start + timedelta(days=1))
    else:
        if filters.start_at is not None:
            q = q.where(a.started_at >= filters.start_at)
        if filters.end_at is not None:
            q = q.where(a.started_at < filters.end_at)
    for column, value in (
        (a.integration, query.integration),
        (a.flow, query.flow),
        (a.error_class, query.error_class),
        (a.error_signature, query.error_signature),
        (a.trace_key, query.trace_key),
    ):
        if value is not None:
            q = q.where(column == value)
    out = frame(engine, q.order_by(a.started_at.desc()).limit(limit), ("started_at",))
    return out[ATTEMPT_COLUMNS]


@dataclass(frozen=True)
class Lineage:
    """One attempt's payload (masked) and every attempt of its trace in order."""

    attempt: dict[str, Any]
    payload: dict[str, Any] | None
    attempts: pd.DataFrame


@view("sync")
def attempt_lineage(access: Access, engine: Engine, attempt_id: int) -> Lineage | None:
    """The attempt, its payload and its trace's attempts (retries linked by `retry_of_id`);
    None when there is no such attempt or its record lies outside the visitor's practices."""
    a, t = SyncAttempt, SyncTrace
    with engine.connect() as conn:
        row = conn.execute(select(a).where(a.id == attempt_id)).mappings().first()
        practice = (
            None
            if row is None or not access.limited
            else conn.execute(
                select(t.practice).where(
                    t.trace_key == row["trace_key"],
                    t.integration == row["integration"],
                    t.flow == row["flow"],
                )
            ).scalar()
        )
    if row is None or not access.allows(practice):
        return None
    attempt = {k: v for k, v in dict(row).items() if k != "payload"}
    trail = frame(
        engine,
        select(
            a.started_at,
            a.attempt_number,
            a.status,
            a.error_class,
            a.error_message,
            a.duration_ms,
            a.source_key,
            _text(a.id),
            _text(a.retry_of_id),
        )
        .where(
            a.trace_key == row["trace_key"],
            a.integration == row["integration"],
            a.flow == row["flow"],
        )
        .order_by(a.started_at, a.attempt_number),
        ("started_at",),
    )
    payload = row["payload"] if isinstance(row["payload"], dict) else None
    return Lineage(attempt, payload, trail)

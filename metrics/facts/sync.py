"""Sync attempt rollups: per day and flow (`sync_daily`), failing records per day
(`sync_failures`), and one row per trace key (`sync_traces`).

A day is the UTC date of `started_at`. A record is its trace key (or the attempt's own key when
it has none). Dimensions come from the business object an attempt concerns. An attempt's
`started_at`, integration and flow are taken as immutable (the refresh recomputes the days the
new rows fall on).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, delete, select

from metrics.facts.common import bulk_insert
from metrics.facts.dims import NO_DIMS, Dims, object_dims
from store.canonical import SyncStatus
from store.reads import SyncGroup, among
from store.tables import SyncAttempt, SyncDaily, SyncFailure, SyncTrace

Group = SyncGroup
FAILED, RUNNING, SUCCESS = SyncStatus.FAILED.value, SyncStatus.RUNNING.value, "success"


@dataclass(frozen=True, slots=True)
class Attempt:
    """The columns of a sync attempt the rollups read."""

    source_key: str
    integration: str
    flow: str
    status: str
    attempt_number: int
    error_class: str | None
    error_signature: str | None
    trace_key: str | None
    started_at: datetime
    object_id: int | None

    @property
    def day(self) -> date:
        return self.started_at.astimezone(UTC).date()

    @property
    def record(self) -> str:
        return self.trace_key or self.source_key

    @property
    def failed(self) -> bool:
        return self.status == FAILED


_COLUMNS = (
    SyncAttempt.source_key,
    SyncAttempt.integration,
    SyncAttempt.flow,
    SyncAttempt.status,
    SyncAttempt.attempt_number,
    SyncAttempt.error_class,
    SyncAttempt.error_signature,
    SyncAttempt.trace_key,
    SyncAttempt.started_at,
    SyncAttempt.object_id,
)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def attempts_on(conn: Connection, groups: Collection[Group] | None) -> list[Attempt]:
    """Attempts of the given (integration, flow, day) groups (all when None)."""
    query = select(*_COLUMNS)
    if groups is None:
        return [Attempt(**row._mapping) for row in conn.execute(query)]
    wanted = set(groups)
    spans: dict[tuple[str, str], list[date]] = defaultdict(list)
    for integration, flow, day in wanted:
        spans[(integration, flow)].append(day)
    out: list[Attempt] = []
    for (integration, flow), days in sorted(spans.items()):
        wanted_days = set(days)
        q = query.where(
            SyncAttempt.integration == integration,
            SyncAttempt.flow == flow,
            SyncAttempt.started_at >= _day_start(min(days)),
            SyncAttempt.started_at < _day_start(max(days) + timedelta(days=1)),
        )
        found = (Attempt(**row._mapping) for row in conn.execute(q))
        out.extend(a for a in found if a.day in wanted_days)
    return out


def attempts_of(conn: Connection, trace_keys: Collection[str] | None) -> list[Attempt]:
    """Every attempt carrying one of `trace_keys` (all attempts with a trace key when None)."""
    query = select(*_COLUMNS).where(SyncAttempt.trace_key.is_not(None))
    if trace_keys is None:
        return [Attempt(**row._mapping) for row in conn.execute(query)]
    out: list[Attempt] = []
    for condition in among(conn, SyncAttempt.trace_key, trace_keys):
        out.extend(Attempt(**row._mapping) for row in conn.execute(query.where(condition)))
    return out


def daily_rows(attempts: Iterable[Attempt], dims: dict[int, Dims]) -> list[dict[str, Any]]:
    """`sync_daily` rows: counters per day, flow, dimensions, error class and signature."""
    counters: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0] * 6)
    for a in attempts:
        d = dims.get(a.object_id or -1, NO_DIMS)
        error = (a.error_class or "unknown", a.error_signature or "") if a.failed else ("", "")
        key = (
            a.day,
            a.integration,
            a.flow,
            d.legal_entity or "",
            d.practice or "",
            d.customer or "",
            *error,
        )
        c = counters[key]
        first = a.attempt_number <= 1
        c[0] += 1
        c[1] += first
        c[2] += first and a.failed
        c[3] += not first
        c[4] += (not first) and a.failed
        c[5] += a.status == RUNNING
    names = (
        "day",
        "integration",
        "flow",
        "legal_entity",
        "practice",
        "customer",
        "error_class",
        "error_signature",
    )
    values = (
        "attempts",
        "first_attempts",
        "failed_first_attempts",
        "retries",
        "failed_retries",
        "running",
    )
    return [
        {**dict(zip(names, key, strict=True)), **dict(zip(values, c, strict=True))}
        for key, c in sorted(counters.items())
    ]


def failure_rows(attempts: Iterable[Attempt], dims: dict[int, Dims]) -> list[dict[str, Any]]:
    """`sync_failures` rows: each failing record per day, error class and signature."""
    counts: dict[tuple[Any, ...], int] = defaultdict(int)
    dims_of: dict[tuple[Any, ...], Dims] = {}
    for a in attempts:
        if not a.failed:
            continue
        key = (
            a.day,
            a.integration,
            a.flow,
            a.record,
            a.error_class or "unknown",
            a.error_signature or "",
        )
        counts[key] += 1
        dims_of.setdefault(key, dims.get(a.object_id or -1, NO_DIMS))
    names = ("day", "integration", "flow", "trace_key", "error_class", "error_signature")
    return [
        {
            **dict(zip(names, key, strict=True)),
            "failures": n,
            "legal_entity": dims_of[key].legal_entity,
            "practice": dims_of[key].practice,
            "customer": dims_of[key].customer,
        }
        for key, n in sorted(counts.items())
    ]


def trace_row(attempts: list[Attempt], dims: Dims) -> dict[str, Any]:
    """The `sync_traces` row of one trace's attempts: first failure, resolution, latest state."""
    ordered = sorted(attempts, key=lambda a: (a.started_at, a.attempt_number, a.source_key))
    # the latest in time: a fresh first attempt for the record after a failed retry is newer
    latest = max(attempts, key=lambda a: (a.started_at, a.attempt_number, a.source_key))
    failure = next((a for a in ordered if a.failed), None)
    resolved = (
        next(
            (a for a in ordered if a.status == SUCCESS and a.started_at > failure.started_at),
            None,
        )
        if failure
        else None
    )
    a0 = ordered[0]
    return {
        "integration": a0.integration,
        "flow": a0.flow,
        "trace_key": a0.record,
        "object_id": next((a.object_id for a in ordered if a.object_id is not None), None),
        "legal_entity": dims.legal_entity,
        "practice": dims.practice,
        "customer": dims.customer,
        "attempts": len(ordered),
        "failures": sum(a.failed for a in ordered),
        "first_attempt_at": a0.started_at,
        "first_failed_at": failure.started_at if failure else None,
        "first_error_class": failure.error_class if failure else None,
        "first_error_signature": failure.error_signature if failure else None,
        "resolved_at": resolved.started_at if resolved else None,
        "latest_attempt_at": max(a.started_at for a in ordered),
        "latest_status": latest.status,
        "latest_error_class": latest.error_class if latest.failed else None,
        "latest_error_signature": latest.error_signature if latest.failed else None,
    }


def refresh_sync(
    conn: Connection, groups: Collection[Group] | None, trace_keys: Collection[str] | None
) -> int:
    """Recompute the daily rows of `groups` and the traces of `trace_keys` (all when None)."""
    written = 0
    if groups is None or groups:
        attempts = attempts_on(conn, groups)
        dims = object_dims(conn, {a.object_id for a in attempts if a.object_id is not None})
        _delete_groups(conn, groups)
        rows = daily_rows(attempts, dims)
        failures = failure_rows(attempts, dims)
        bulk_insert(conn, SyncDaily.__table__, rows)  # type: ignore[arg-type]
        bulk_insert(conn, SyncFailure.__table__, failures)  # type: ignore[arg-type]
        written += len(rows) + len(failures)
    if trace_keys is None or trace_keys:
        attempts = attempts_of(conn, trace_keys)
        by_trace: dict[tuple[str, str, str], list[Attempt]] = defaultdict(list)
        for a in attempts:
            by_trace[(a.integration, a.flow, a.record)].append(a)
        dims = object_dims(conn, {a.object_id for a in attempts if a.object_id is not None})
        trace_rows = [
            trace_row(rows_, _trace_dims(rows_, dims)) for _, rows_ in sorted(by_trace.items())
        ]
        _delete_traces(conn, trace_keys)
        bulk_insert(conn, SyncTrace.__table__, trace_rows)  # type: ignore[arg-type]
        written += len(trace_rows)
    return written


def _trace_dims(attempts: list[Attempt], dims: dict[int, Dims]) -> Dims:
    ordered = sorted(attempts, key=lambda a: (a.started_at, a.attempt_number, a.source_key))
    return next((dims[a.object_id] for a in ordered if a.object_id in dims), NO_DIMS)


def _delete_groups(conn: Connection, groups: Collection[Group] | None) -> None:
    for table in (SyncDaily, SyncFailure):
        if groups is None:
            conn.execute(delete(table))
            continue
        days: dict[tuple[str, str], list[date]] = defaultdict(list)
        for integration, flow, day in groups:
            days[(integration, flow)].append(day)
        for (integration, flow), flow_days in sorted(days.items()):
            for condition in among(conn, table.day, flow_days):
                conn.execute(
                    delete(table).where(
                        table.integration == integration, table.flow == flow, condition
                    )
                )


def _delete_traces(conn: Connection, trace_keys: Collection[str] | None) -> None:
    if trace_keys is None:
        conn.execute(delete(SyncTrace))
        return
    for condition in among(conn, SyncTrace.trace_key, trace_keys):
        conn.execute(delete(SyncTrace).where(condition))

"""The admin's collectors page: health per collector, quarantined input, what is in the store.

A file import (`throughline import …`, run-log kind ``import``) is listed with its last run, rows
and quarantined input, but it is a one-off: its health is ``imported`` (or ``import failed``,
``running``), never ``stale``, and it has no lag. A collector's health and staleness follow the
rule the SLOs and the dashboard's "data as of" line use (`metrics.freshness`): only its
collection runs count as its successes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import Engine, func, select

from metrics.freshness import IMPORT, health, last_successes
from metrics.views import audit
from metrics.views.access import Access
from metrics.views.common import ViewConfig, frame
from metrics.views.guard import view
from metrics.views.store_contents import activity_counts, object_counts, sync_attempt_count
from store.clock import cursor_time
from store.run_requests import queue_run
from store.tables import CollectorRun, CollectorState, Quarantine, RunRequest

HEALTH_COLUMNS = [
    "collector",
    "source",
    "health",
    "last_success",
    "lag_minutes",
    "source_time",
    "rows_written",
    "quarantined",
    "last_error",
    "status",
    "kind",
    "last_run",
    "every_seconds",
]


@dataclass(frozen=True)
class CollectorsView:
    """Collector health, quarantined records, run requests and the store's contents."""

    health: pd.DataFrame
    quarantine: pd.DataFrame
    requests: pd.DataFrame
    objects: pd.DataFrame
    activities: pd.DataFrame
    sync_attempts: int

    @property
    def empty(self) -> bool:
        return self.health["last_run"].isna().all() if len(self.health) else True


def _cursors(engine: Engine) -> dict[str, datetime]:
    """The newest source time each collector's streams have reached."""
    out: dict[str, datetime] = {}
    with engine.connect() as conn:
        rows = conn.execute(select(CollectorState.collector, CollectorState.cursor)).all()
    for collector, cursor in rows:
        at = cursor_time(cursor)
        if at is not None and (collector not in out or at > out[collector]):
            out[collector] = at
    return out


def collector_health(
    engine: Engine, config: ViewConfig, now: datetime | None = None
) -> pd.DataFrame:
    """One row per collector (registered or seen in the run log) with its latest run."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    r = CollectorRun
    latest = select(r.collector, func.max(r.id).label("id")).group_by(r.collector).subquery()
    runs = frame(
        engine,
        select(r.collector, r.status, r.kind, r.started_at, r.finished_at, r.rows_in, r.error).join(
            latest, r.id == latest.c.id
        ),
        ("started_at", "finished_at"),
    ).set_index("collector")
    with engine.connect() as conn:
        quarantined = dict(
            conn.execute(
                select(Quarantine.collector, func.count()).group_by(Quarantine.collector)
            ).all()
        )
    cursors = _cursors(engine)
    collected, imported = last_successes(engine), last_successes(engine, imports=True)
    names = sorted(set(config.collectors) | set(runs.index))
    rows = []
    for name in names:
        source, every = config.collectors.get(name, ("", 0))
        run = runs.loc[name] if name in runs.index else None
        kind = None if run is None else str(run["kind"])
        status = None if run is None else str(run["status"])
        # only its collection runs are a collector's successes; an import's are its own
        ok_at = (imported if kind == IMPORT else collected).get(name)
        lag = None if ok_at is None or kind == IMPORT else (now - ok_at).total_seconds() / 60
        rows.append(
            {
                "collector": name,
                "source": source,
                "health": health(status, kind, ok_at, every, now),
                "status": status,
                "kind": kind,
                "last_run": None if run is None else run["started_at"],
                "last_success": ok_at,
                "lag_minutes": lag,
                "source_time": cursors.get(name),
                "rows_written": None if run is None else int(run["rows_in"]),
                "quarantined": int(quarantined.get(name, 0)),
                "every_seconds": every or None,
                "last_error": None if run is None else run["error"],
            }
        )
    table = pd.DataFrame(rows, columns=HEALTH_COLUMNS)
    for name in ("last_run", "last_success", "source_time"):
        table[name] = pd.to_datetime(table[name], utc=True)
    return table


def runnable(health: pd.DataFrame) -> list[str]:
    """The collectors "run now" can ask the worker for: every one but file imports."""
    return [
        str(name)
        for name, kind in zip(health["collector"], health["kind"], strict=True)
        if kind != IMPORT
    ]


def quarantined(engine: Engine, limit: int = 500) -> pd.DataFrame:
    """Quarantined records, most recently seen first (raw records are masked in the store)."""
    q = Quarantine
    return frame(
        engine,
        select(
            q.collector,
            q.stream,
            q.source_key,
            q.reason,
            q.times_seen,
            q.first_seen_at,
            q.last_seen_at,
            q.raw,
        )
        .order_by(q.last_seen_at.desc())
        .limit(limit),
        ("first_seen_at", "last_seen_at"),
    )


@view("collectors")
def collectors_view(
    access: Access, engine: Engine, config: ViewConfig, now: datetime | None = None
) -> CollectorsView:
    """Everything the collectors page draws."""
    return CollectorsView(
        health=collector_health(engine, config, now),
        quarantine=quarantined(engine),
        requests=recent_requests(engine),
        objects=object_counts(engine),
        activities=activity_counts(engine),
        sync_attempts=sync_attempt_count(engine),
    )


def recent_requests(engine: Engine, limit: int = 20) -> pd.DataFrame:
    """The newest "run now" requests, newest first."""
    r = RunRequest
    return frame(
        engine,
        select(
            r.id,
            r.collector,
            r.status,
            r.requested_by,
            r.requested_at,
            r.started_at,
            r.finished_at,
            r.outcome,
            r.run_id,
        )
        .order_by(r.requested_at.desc(), r.id.desc())
        .limit(limit),
        ("requested_at", "started_at", "finished_at"),
    )


@view("collectors")
def request_run(access: Access, engine: Engine, collector: str, now: datetime | None = None) -> int:
    """Queue a run of `collector` for the visitor (or return the id of the one already waiting
    or running); the request is audited either way."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    with engine.begin() as conn:
        waiting = queue_run(conn, collector, access.user or "unknown", now)
        audit.record_for(conn, access, "run_now", f"run of {collector} (request {waiting})")
        return waiting

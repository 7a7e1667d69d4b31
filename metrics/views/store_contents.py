"""What is in the store and how fresh it is: counts per type and collector health."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, func, select

from store.tables import CollectorRun, CollectorState, Event, Object, Quarantine, SyncAttempt


def object_counts(engine: Engine) -> pd.DataFrame:
    """Objects per type and source system."""
    query = (
        select(Object.type, Object.source_system, func.count().label("objects"))
        .group_by(Object.type, Object.source_system)
        .order_by(Object.type, Object.source_system)
    )
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(query).all(), columns=["type", "source", "objects"])


def activity_counts(engine: Engine) -> pd.DataFrame:
    """Events per activity, with the first and last time each happened."""
    query = (
        select(
            Event.activity,
            func.count().label("events"),
            func.min(Event.occurred_at),
            func.max(Event.occurred_at),
        )
        .group_by(Event.activity)
        .order_by(Event.activity)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return pd.DataFrame(rows, columns=["activity", "events", "first", "last"])


def sync_attempt_count(engine: Engine) -> int:
    """Sync attempts stored."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(SyncAttempt)).scalar_one())


def collector_status(engine: Engine) -> pd.DataFrame:
    """The latest run of every collector, its cursor lag and quarantined records."""
    latest = (
        select(CollectorRun.collector, func.max(CollectorRun.id).label("run_id"))
        .group_by(CollectorRun.collector)
        .subquery()
    )
    runs = select(
        CollectorRun.collector,
        CollectorRun.status,
        CollectorRun.kind,
        CollectorRun.started_at,
        CollectorRun.finished_at,
        CollectorRun.rows_in,
        CollectorRun.rows_quarantined,
        CollectorRun.error,
    ).join(latest, CollectorRun.id == latest.c.run_id)
    quarantined = select(Quarantine.collector, func.count()).group_by(Quarantine.collector)
    cursors = select(CollectorState.collector, func.max(CollectorState.updated_at)).group_by(
        CollectorState.collector
    )
    with engine.connect() as conn:
        frame = pd.DataFrame(
            conn.execute(runs.order_by(CollectorRun.collector)).all(),
            columns=[
                "collector",
                "status",
                "kind",
                "started",
                "finished",
                "rows written",
                "quarantined in run",
                "error",
            ],
        )
        in_quarantine = dict(conn.execute(quarantined).all())
        cursor_moved = dict(conn.execute(cursors).all())
    frame["records in quarantine"] = frame["collector"].map(in_quarantine).fillna(0).astype(int)
    frame["cursor saved"] = frame["collector"].map(cursor_moved)
    return frame


def data_as_of(engine: Engine) -> datetime | None:
    """When the last successful collector run finished (the dashboard's "data as of")."""
    query = select(func.max(CollectorRun.finished_at)).where(CollectorRun.status == "success")
    with engine.connect() as conn:
        value = conn.execute(query).scalar_one_or_none()
    return value if isinstance(value, datetime) else None

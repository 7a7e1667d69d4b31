"""What is in the store and how fresh it is: counts per type and collector health."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, Engine, func, select

from store.counts import ACTIVITIES, OBJECTS, QUARANTINED, SYNC_ATTEMPTS, counts
from store.tables import CollectorRun, CollectorState


def object_counts(engine: Engine) -> pd.DataFrame:
    """Objects per type and source system (the running counts, `store.counts`)."""
    with engine.connect() as conn:
        rows = [(name, source, n) for name, source, n, _, _ in counts(conn, OBJECTS)]
    return pd.DataFrame(rows, columns=["type", "source", "objects"])


def activity_counts(engine: Engine) -> pd.DataFrame:
    """Events per activity, with the first and last time each happened (running counts)."""
    with engine.connect() as conn:
        rows = [(name, n, first, last) for name, _, n, first, last in counts(conn, ACTIVITIES)]
    return pd.DataFrame(rows, columns=["activity", "events", "first", "last"])


def sync_attempt_count(engine: Engine) -> int:
    """Sync attempts stored (running count)."""
    with engine.connect() as conn:
        return sum(n for _, _, n, _, _ in counts(conn, SYNC_ATTEMPTS))


def quarantined_per_collector(conn: Connection) -> dict[str, int]:
    """Records in quarantine per collector (running counts)."""
    return {name: n for name, _, n, _, _ in counts(conn, QUARANTINED)}


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
        in_quarantine = quarantined_per_collector(conn)
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

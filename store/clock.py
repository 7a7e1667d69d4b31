"""The store's clocks: the source time the collectors have reached, and a cheap version stamp
that moves whenever a collector run starts or ends."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, func, select

from store.tables import CollectorRun, CollectorState, RunRequest


def reporting_time(engine: Engine, now: datetime | None = None) -> datetime:
    """The instant the dashboard reports at: the newest collector cursor, capped at `now`."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    with engine.connect() as conn:
        cursors = conn.execute(select(CollectorState.cursor)).scalars().all()
    times = [t for t in (cursor_time(c) for c in cursors) if t is not None]
    return min(max(times), now) if times else now


def cursor_time(cursor: object) -> datetime | None:
    """The source time a ``{"since": iso}`` cursor has reached (None for other cursor shapes)."""
    value = cursor.get("since") if isinstance(cursor, dict) else None
    if not value:
        return None
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return at.astimezone(UTC) if at.tzinfo is not None else None


def data_version(engine: Engine) -> str:
    """Changes whenever a collector run starts or ends, or a run request moves (cheap to poll)."""
    runs = select(func.max(CollectorRun.id), func.max(CollectorRun.finished_at))
    requests = select(func.max(RunRequest.id), func.max(RunRequest.finished_at))
    with engine.connect() as conn:
        a = conn.execute(runs).one()
        b = conn.execute(requests).one()
    return "|".join(str(v) for v in (*a, *b))

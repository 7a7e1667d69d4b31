"""When a collector has gone stale: the one rule for the collectors page, the dashboard's
"data as of" line and the SLOs.

A collector is stale when its last successful collection run is older than three of its
polling intervals (at least 15 minutes), or when it never succeeded. File imports (run-log kind
``import``) are one-offs, not collectors: they never go stale and never count as a collector's
success. A collector's health (`health`) says ``stale`` only when nothing more pressing is true
of its latest run (never run, running, failing).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select

from store.tables import CollectorRun

IMPORT = "import"
MISSED_INTERVALS = 3
MIN_STALE_AFTER = timedelta(minutes=15)
FAILED = ("failed", "partial", "interrupted")


def stale_after(interval_seconds: int) -> timedelta:
    """How old a collector's last success may get: three intervals, at least 15 minutes."""
    return max(timedelta(seconds=MISSED_INTERVALS * max(interval_seconds, 0)), MIN_STALE_AFTER)


def overdue(last_success: datetime | None, limit: timedelta, now: datetime) -> bool:
    """Whether a last success at `last_success` (None: never) is older than `limit` at `now`."""
    return last_success is None or now - last_success > limit


def is_stale(last_success: datetime | None, interval_seconds: int, now: datetime) -> bool:
    """Whether a collector that last succeeded at `last_success` is stale at `now`."""
    return overdue(last_success, stale_after(interval_seconds), now)


def health(
    status: str | None,
    kind: str | None,
    last_success: datetime | None,
    interval_seconds: int,
    now: datetime,
) -> str:
    """A collector's health from its latest run (`status`, `kind`) and its last success:
    ``never run``, ``running``, ``imported``/``import failed``, ``failing``, ``stale`` or ``ok``."""
    if status is None:
        return "never run"
    if status == "running":
        return "running"
    if kind == IMPORT:
        return "imported" if status == "success" else "import failed"
    if status in FAILED:
        return "failing"
    if is_stale(last_success, interval_seconds, now):
        return "stale"
    return "ok"


def last_successes(
    engine: Engine, collectors: Iterable[str] | None = None, *, imports: bool = False
) -> dict[str, datetime]:
    """Each collector's last successful collection run (imports left out), of `collectors`
    (every one when None); with `imports`, the last successful import runs instead."""
    kind = CollectorRun.kind == IMPORT if imports else CollectorRun.kind != IMPORT
    query = (
        select(CollectorRun.collector, func.max(CollectorRun.finished_at))
        .where(CollectorRun.status == "success", kind)
        .group_by(CollectorRun.collector)
    )
    if collectors is not None:
        query = query.where(CollectorRun.collector.in_(sorted(set(collectors))))
    with engine.connect() as conn:
        return {name: at for name, at in conn.execute(query).all() if at is not None}

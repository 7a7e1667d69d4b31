"""When a collector has gone stale: one rule for the collectors page and the SLOs.

A collector is stale when its last successful collection run is older than three of its
intervals (at least 15 minutes), or when it never succeeded. File imports (run-log kind
``import``) are one-offs, not collectors: they never go stale and never count as a collector's
success.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select

from store.tables import CollectorRun

IMPORT = "import"
MISSED_INTERVALS = 3
MIN_STALE_AFTER = timedelta(minutes=15)


def stale_after(interval_seconds: int) -> timedelta:
    """How old a collector's last success may get: three intervals, at least 15 minutes."""
    return max(timedelta(seconds=MISSED_INTERVALS * max(interval_seconds, 0)), MIN_STALE_AFTER)


def is_stale(last_success: datetime | None, interval_seconds: int, now: datetime) -> bool:
    """Whether a collector that last succeeded at `last_success` is stale at `now`."""
    return last_success is None or now - last_success > stale_after(interval_seconds)


def last_successes(engine: Engine, collectors: Iterable[str] | None = None) -> dict[str, datetime]:
    """Each collector's last successful collection run (imports left out), of `collectors`
    (every one when None)."""
    query = (
        select(CollectorRun.collector, func.max(CollectorRun.finished_at))
        .where(CollectorRun.status == "success", CollectorRun.kind != IMPORT)
        .group_by(CollectorRun.collector)
    )
    if collectors is not None:
        query = query.where(CollectorRun.collector.in_(sorted(set(collectors))))
    with engine.connect() as conn:
        return {name: at for name, at in conn.execute(query).all() if at is not None}

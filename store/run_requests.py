""" "Run now" requests: the admin page writes one, the worker claims it and runs the collector.

The page never runs a collector itself. A request is claimed by flipping it from ``pending`` to
``running`` in one conditional UPDATE, so of two workers only one gets it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, insert, select, update

from store.tables import RunRequest

OPEN = ("pending", "running")


@dataclass(frozen=True)
class Claimed:
    """A request the worker now owns."""

    id: int
    collector: str


def queue_run(conn: Connection, collector: str, requested_by: str, now: datetime) -> int:
    """Queue a run of `collector` on `conn` (or return the id of the request already waiting or
    running for it)."""
    waiting = conn.execute(
        select(RunRequest.id).where(RunRequest.collector == collector, RunRequest.status.in_(OPEN))
    ).scalar()
    if waiting is None:
        result = conn.execute(
            insert(RunRequest)
            .values(
                collector=collector,
                requested_by=requested_by[:200],
                requested_at=now,
                status="pending",
            )
            .returning(RunRequest.id)
        )
        waiting = result.scalar_one()
    return int(waiting)


def claim_next(engine: Engine, now: datetime | None = None) -> Claimed | None:
    """Take the oldest pending request (None when there is none or another worker won it)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    with engine.begin() as conn:
        row = conn.execute(
            select(RunRequest.id, RunRequest.collector)
            .where(RunRequest.status == "pending")
            .order_by(RunRequest.requested_at, RunRequest.id)
            .limit(1)
        ).first()
        if row is None:
            return None
        taken = conn.execute(
            update(RunRequest)
            .where(RunRequest.id == row.id, RunRequest.status == "pending")
            .values(status="running", started_at=now)
        )
    return Claimed(int(row.id), str(row.collector)) if taken.rowcount == 1 else None


def finish(
    engine: Engine,
    request_id: int,
    *,
    ok: bool,
    outcome: str,
    run_id: int | None = None,
    now: datetime | None = None,
) -> None:
    """Record how a claimed request ended: ``done`` (it ran) or ``failed`` (it could not)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    with engine.begin() as conn:
        conn.execute(
            update(RunRequest)
            .where(RunRequest.id == request_id)
            .values(
                status="done" if ok else "failed",
                finished_at=now,
                run_id=run_id,
                outcome=outcome[:2000],
            )
        )

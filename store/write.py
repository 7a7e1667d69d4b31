"""The one write API collectors use: upsert a batch of canonical rows and move cursors in the
same transaction.

Rows are built per table (`store.write_rows`) and go through the driver's bulk path
(`store.write_bulk`: SQLite `executemany`, PostgreSQL `COPY` into a staging table then one
`INSERT … SELECT … ON CONFLICT`); SQLAlchemy is used for everything else.
Events, links and event-object relations are immutable (`DO NOTHING`); objects, sync attempts,
FX rates and quarantine are upserted, and an object or attempt is never overwritten by an
older version of itself. The cases the batch touches are queued for the case-fact refresh in the
same transaction; the layer above refreshes them once it commits (`metrics.facts`: after each
batch, or once per collector run or import). Either the whole batch, its cursors and its queued
cases are stored, or nothing is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from store.canonical import Batch
from store.db import upsert_insert
from store.pending import mark_affected
from store.reads import no_cyclic_gc
from store.tables import CollectorState
from store.write_bulk import loader_for
from store.write_rows import (
    EVENT_OBJECTS,
    EVENTS,
    FX_RATES,
    LINKS,
    OBJECTS,
    QUARANTINE,
    SYNC_ATTEMPTS,
    event_object_rows,
    event_rows,
    events_by_id,
    fx_rows,
    link_rows,
    object_rows,
    quarantine_rows,
    sync_rows,
)


@dataclass(frozen=True, slots=True)
class CursorUpdate:
    """The new cursor of one collector stream, saved with the rows it covers."""

    collector: str
    stream: str
    value: dict[str, Any]


@dataclass(slots=True)
class WriteResult:
    """Rows each table gained or changed (re-delivered identical rows count zero)."""

    objects: int = 0
    events: int = 0
    event_objects: int = 0
    links: int = 0
    sync_attempts: int = 0
    quarantined: int = 0
    fx_rates: int = 0

    @property
    def total(self) -> int:
        """Rows written, quarantine excluded."""
        return (
            self.objects
            + self.events
            + self.event_objects
            + self.links
            + self.sync_attempts
            + self.fx_rates
        )

    def add(self, other: WriteResult) -> None:
        """Accumulate another result into this one."""
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def write_batch(
    engine: Engine,
    batch: Batch,
    cursors: CursorUpdate | Sequence[CursorUpdate] = (),
    *,
    now: datetime | None = None,
) -> WriteResult:
    """Store `batch` and save `cursors` in one transaction; all of it or none of it. The cases
    it touches are queued for the case-fact refresh, which the layer above runs
    (`metrics.facts.refresh_pending`, or `metrics.facts.write_and_refresh` for one batch)."""
    with engine.begin() as conn:
        return write_batch_in(conn, batch, cursors, now=now)


def write_batch_in(
    conn: Connection,
    batch: Batch,
    cursors: CursorUpdate | Sequence[CursorUpdate] = (),
    *,
    now: datetime | None = None,
) -> WriteResult:
    """`write_batch` inside a transaction the caller owns: the cases it touches are queued,
    not refreshed (`metrics.facts.refresh_pending` does that once the transaction commits)."""
    with no_cyclic_gc():
        return _write(conn, batch, cursors, (now or datetime.now(UTC)).astimezone(UTC))


def _write(
    conn: Connection,
    batch: Batch,
    cursors: CursorUpdate | Sequence[CursorUpdate],
    stamp: datetime,
) -> WriteResult:
    loader = loader_for(conn)
    events = events_by_id(batch.events)
    result = WriteResult(
        objects=loader.load(OBJECTS, object_rows(batch.objects, stamp)),
        events=loader.load(EVENTS, event_rows(events, stamp)),
        event_objects=loader.load(EVENT_OBJECTS, event_object_rows(events)),
        links=loader.load(LINKS, link_rows(batch.links, stamp)),
        sync_attempts=loader.load(SYNC_ATTEMPTS, sync_rows(batch.sync_attempts, stamp)),
        quarantined=loader.load(QUARANTINE, quarantine_rows(batch.quarantined, stamp)),
        fx_rates=loader.load(FX_RATES, fx_rows(batch.fx_rates, stamp)),
    )
    mark_affected(conn, _changed(batch, result))  # queued in the same transaction
    for cursor in [cursors] if isinstance(cursors, CursorUpdate) else cursors:
        save_cursor(conn, cursor, now=stamp)
    return result


def _changed(batch: Batch, result: WriteResult) -> Batch:
    """The parts of `batch` that changed the store: a re-delivered page queues no case."""
    return Batch(
        objects=batch.objects if result.objects else [],
        events=batch.events if result.events or result.event_objects else [],
        links=batch.links if result.links else [],
        sync_attempts=batch.sync_attempts if result.sync_attempts else [],
    )


def save_cursor(conn: Connection, cursor: CursorUpdate, *, now: datetime | None = None) -> None:
    """Upsert one stream's cursor in the caller's transaction."""
    values = {
        "collector": cursor.collector,
        "stream": cursor.stream,
        "cursor": cursor.value,
        "updated_at": (now or datetime.now(UTC)),
    }
    insert = upsert_insert(conn)
    stmt = insert(CollectorState).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["collector", "stream"],
        set_={"cursor": stmt.excluded.cursor, "updated_at": stmt.excluded.updated_at},
    )
    conn.execute(stmt)


def read_cursor(conn: Connection | Engine, collector: str, stream: str) -> dict[str, Any] | None:
    """The saved cursor of one stream, or None before its first run."""
    query = select(CollectorState.cursor).where(
        CollectorState.collector == collector, CollectorState.stream == stream
    )
    if isinstance(conn, Engine):
        with conn.connect() as c:
            return c.execute(query).scalar_one_or_none()
    return conn.execute(query).scalar_one_or_none()

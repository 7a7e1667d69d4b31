"""Running counts of what the store holds, kept by the write path in the batch's transaction.

`count_new(conn, batch, events)` runs before a batch's rows are upserted: it asks which of the
batch's objects, events, sync attempts and quarantined records are already stored (primary-key
lookups of the batch's ids, so its cost grows with the batch, not with the store) and adds the
new ones to `store_counts`: objects per type and source system, events per activity with the
first and last time one happened, sync attempts, quarantined records per collector. The
collectors page reads these few rows instead of counting the whole history. Rows are never
deleted from the counted tables; `recount(conn)` counts everything again (the migration that
added the table, and a store written before it).

SQLite serialises writers; on PostgreSQL two transactions writing the same new ids at the same
instant would both count them — collectors write disjoint ids (ids hash the source system).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from store.canonical import Batch, EventRow
from store.reads import among
from store.tables import Event, Object, Quarantine, StoreCount, SyncAttempt

OBJECTS, ACTIVITIES, SYNC_ATTEMPTS, QUARANTINED = (
    "objects",
    "activity",
    "sync_attempts",
    "quarantine",
)
Key = tuple[str, str, str]  # kind, name, source


@dataclass
class Tally:
    """New rows per (kind, name, source), and the first and last time of the events among them."""

    rows: dict[Key, int] = field(default_factory=lambda: defaultdict(int))
    first: dict[Key, datetime] = field(default_factory=dict)
    last: dict[Key, datetime] = field(default_factory=dict)

    def add(self, key: Key, at: datetime | None = None) -> None:
        self.rows[key] += 1
        if at is not None:
            self.first[key] = min(at, self.first.get(key, at))
            self.last[key] = max(at, self.last.get(key, at))


def _stored(conn: Connection, table: Table, ids: Iterable[int]) -> set[int]:
    """Which of `ids` `table` holds: one statement on SQLite (the ids as a JSON array)."""
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    if conn.dialect.name == "sqlite":
        # The table name is one of this module's; the ids are bound.
        query = text(f"SELECT id FROM {table.name} WHERE id IN (SELECT value FROM json_each(:ids))")  # noqa: S608
        return set(conn.execute(query, {"ids": json.dumps(wanted)}).scalars())
    out: set[int] = set()
    for condition in among(conn, table.c.id, wanted):
        out.update(conn.execute(select(table.c.id).where(condition)).scalars())
    return out


def count_new(conn: Connection, batch: Batch, events: Mapping[int, EventRow]) -> Tally:
    """What `batch` adds to the store (call before its rows are written); added to the counts."""
    tally = Tally()
    objects = {o.id: o for o in batch.objects}
    stored = _stored(conn, Object.__table__, objects)  # type: ignore[arg-type]
    for i, o in objects.items():
        if i not in stored:
            tally.add((OBJECTS, str(o.type), o.source_system))
    stored = _stored(conn, Event.__table__, events)  # type: ignore[arg-type]
    for i, e in events.items():
        if i not in stored:
            tally.add((ACTIVITIES, str(e.activity), ""), e.occurred_at)
    attempts = {a.id for a in batch.sync_attempts}
    new_attempts = len(attempts - _stored(conn, SyncAttempt.__table__, attempts))  # type: ignore[arg-type]
    if new_attempts:
        tally.rows[(SYNC_ATTEMPTS, "", "")] += new_attempts
    quarantined = {q.id: q for q in batch.quarantined}
    stored = _stored(conn, Quarantine.__table__, quarantined)  # type: ignore[arg-type]
    for i, q in quarantined.items():
        if i not in stored:
            tally.add((QUARANTINED, q.collector, ""))
    add(conn, tally)
    return tally


def add(conn: Connection, tally: Tally) -> None:
    """Add `tally` to the stored counts (one upsert)."""
    if not tally.rows:
        return
    rows: list[dict[str, Any]] = [
        {
            "kind": kind,
            "name": name,
            "source": source,
            "rows": n,
            "first_at": tally.first.get((kind, name, source)),
            "last_at": tally.last.get((kind, name, source)),
        }
        for (kind, name, source), n in sorted(tally.rows.items())
    ]
    postgres = conn.dialect.name == "postgresql"
    stmt = (pg_insert if postgres else sqlite_insert)(StoreCount)
    low, high = (func.least, func.greatest) if postgres else (func.min, func.max)
    t, new = StoreCount.__table__.c, stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=["kind", "name", "source"],
        set_={
            "rows": t.rows + new.rows,
            # NULL on either side keeps the other (SQLite's min() of a NULL is NULL)
            "first_at": low(
                func.coalesce(t.first_at, new.first_at), func.coalesce(new.first_at, t.first_at)
            ),
            "last_at": high(
                func.coalesce(t.last_at, new.last_at), func.coalesce(new.last_at, t.last_at)
            ),
        },
    )
    conn.execute(stmt, rows)


def recount(conn: Connection) -> None:
    """Count everything the store holds again (replacing the running counts)."""
    conn.execute(delete(StoreCount))
    o, e, a, q = Object, Event, SyncAttempt, Quarantine
    rows: list[dict[str, Any]] = []
    for type_, source, n in conn.execute(
        select(o.type, o.source_system, func.count()).group_by(o.type, o.source_system)
    ):
        rows.append(_row(OBJECTS, type_, source, n))
    for activity, n, first, last in conn.execute(
        select(e.activity, func.count(), func.min(e.occurred_at), func.max(e.occurred_at)).group_by(
            e.activity
        )
    ):
        rows.append(_row(ACTIVITIES, activity, "", n, first, last))
    attempts = int(conn.execute(select(func.count()).select_from(a)).scalar_one())
    if attempts:
        rows.append(_row(SYNC_ATTEMPTS, "", "", attempts))
    for collector, n in conn.execute(select(q.collector, func.count()).group_by(q.collector)):
        rows.append(_row(QUARANTINED, collector, "", n))
    if rows:
        conn.execute(insert(StoreCount), rows)


def _row(
    kind: str,
    name: str,
    source: str,
    n: int,
    first: datetime | None = None,
    last: datetime | None = None,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "name": name,
        "source": source,
        "rows": int(n),
        "first_at": first,
        "last_at": last,
    }


def counts(conn: Connection, kind: str) -> list[tuple[str, str, int, Any, Any]]:
    """The stored counts of one kind: (name, source, rows, first_at, last_at), by name."""
    c = StoreCount
    query = (
        select(c.name, c.source, c.rows, c.first_at, c.last_at)
        .where(c.kind == kind, c.rows > 0)
        .order_by(c.name, c.source)
    )
    return [tuple(r) for r in conn.execute(query)]  # type: ignore[misc]

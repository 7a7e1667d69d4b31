"""Reads and writes shared by the case-fact builders (set-shaped reads: `store.reads`).

Every reader takes ``ids=None`` to mean *all* (the full rebuild) or a collection of ids (the
incremental refresh), which it reads in chunks (`among`): SQLite binds each chunk's values, and
PostgreSQL gets one array parameter per chunk, so every chunk is the same statement to prepare.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Table, delete, insert, select

from store.reads import Ids, among, chunked, filtered
from store.tables import Event, EventObject, Object


@dataclass(frozen=True, slots=True)
class Obj:
    """The columns of an object the fact builders read."""

    id: int
    type: str
    source_system: str
    source_key: str
    customer: str | None
    legal_entity: str | None
    practice: str | None
    owner: str | None
    currency: str | None
    amount: Decimal | None
    attributes: dict[str, Any]

    def attr(self, name: str) -> Any:
        """One attribute (None when absent)."""
        return self.attributes.get(name)


def objects(conn: Connection, ids: Ids, type_: str | None = None) -> dict[int, Obj]:
    """Objects by id (of one type when given)."""
    query = select(
        Object.id,
        Object.type,
        Object.source_system,
        Object.source_key,
        Object.customer,
        Object.legal_entity,
        Object.practice,
        Object.owner,
        Object.currency,
        Object.amount,
        Object.attributes,
    )
    if type_ is not None and ids is None:
        query = query.where(Object.type == str(type_))
    # By id, the type is checked here: with a `type =` term SQLite probes the (type, entity)
    # index and reads every object of the type per chunk instead of the ids' rows.
    wanted = str(type_) if type_ is not None else None
    out: dict[int, Obj] = {}
    for q in filtered(conn, query, Object.id, ids):
        for row in conn.execute(q):
            m = row._mapping
            if wanted is not None and m["type"] != wanted:
                continue
            out[m["id"]] = Obj(
                m["id"],
                m["type"],
                m["source_system"],
                m["source_key"],
                m["customer"],
                m["legal_entity"],
                m["practice"],
                m["owner"],
                m["currency"],
                m["amount"],
                m["attributes"] or {},
            )
    return out


def event_times(
    conn: Connection, ids: Ids, qualifier: str, activities: Sequence[str]
) -> dict[int, dict[str, list[datetime]]]:
    """object id → activity → sorted times, for events where the object has `qualifier`."""
    query = (
        select(EventObject.object_id, Event.activity, Event.occurred_at)
        .join(Event, Event.id == EventObject.event_id)
        .where(EventObject.qualifier == str(qualifier))
        .where(Event.activity.in_([str(a) for a in activities]))
    )
    out: dict[int, dict[str, list[datetime]]] = defaultdict(lambda: defaultdict(list))
    if ids is None:
        for object_id, activity, at in conn.execute(query):
            out[object_id][activity].append(at)
    else:
        # Two index-driven steps: SQLite would otherwise drive the join from `activity` and
        # probe the id list once per event.
        refs = select(EventObject.event_id, EventObject.object_id).where(
            EventObject.qualifier == str(qualifier)
        )
        owners: dict[int, list[int]] = defaultdict(list)
        for q in filtered(conn, refs, EventObject.object_id, ids):
            for event_id, object_id in conn.execute(q):
                owners[event_id].append(object_id)
        # By primary key only, the activity checked here: with an `activity IN` term SQLite
        # drives the lookup from the activity index, scanning all of history per chunk.
        wanted = {str(a) for a in activities}
        events = select(Event.id, Event.activity, Event.occurred_at)
        for q in filtered(conn, events, Event.id, owners):
            for event_id, activity, at in conn.execute(q):
                if activity in wanted:
                    for object_id in owners[event_id]:
                        out[object_id][activity].append(at)
    for by_activity in out.values():
        for times in by_activity.values():
            times.sort()
    return out


def first(times: Sequence[datetime] | None) -> datetime | None:
    """The earliest of sorted `times` (None when empty)."""
    return times[0] if times else None


def last(times: Sequence[datetime] | None) -> datetime | None:
    """The latest of sorted `times` (None when empty)."""
    return times[-1] if times else None


def replace_rows(
    conn: Connection, table: Table, key: str, ids: Ids, rows: Sequence[dict[str, Any]]
) -> None:
    """Delete the rows of `ids` (all when None) and insert `rows` in their place."""
    column = table.c[key]
    if ids is None:
        conn.execute(delete(table))
    else:
        for condition in among(conn, column, ids):
            conn.execute(delete(table).where(condition))
    bulk_insert(conn, table, rows)


def bulk_insert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` through the driver's bulk path (PostgreSQL `COPY`, SQLite `executemany`)."""
    if not rows:
        return
    names = list(table.c.keys())
    cols = ", ".join(names)
    driver: Any = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        with driver.cursor() as cur, cur.copy(f"COPY {table.name} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[n] for n in names])
        return
    if conn.dialect.name != "sqlite":
        for batch in chunked(rows, 2000):
            conn.execute(insert(table), batch)
        return
    marks = ", ".join("?" for _ in names)
    cur = driver.cursor()
    try:
        # Identifiers come from the fact models; every value is a bound parameter.
        cur.executemany(
            f"INSERT INTO {table.name} ({cols}) VALUES ({marks})",  # noqa: S608
            [[_sqlite_value(row[n]) for n in names] for row in rows],
        )
    finally:
        cur.close()


def _sqlite_value(value: Any) -> Any:
    """A value as SQLAlchemy stores it in SQLite (UTC timestamps without zone, ISO dates)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value

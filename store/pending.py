"""The queue of cases whose facts are behind the event log.

The ingest transaction marks the cases its batch touches (`mark`); the refresh that follows
takes them in chunks (`take`) and recomputes them from whatever the store holds by then. Both
happen under one lock per schema — shared while marking, exclusive while refreshing — so a
refresh never clears a mark whose rows it could not yet see; on SQLite the refresh's first
statement is its write, which takes the database's single writer lock.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, bindparam, text

from store.affected import Affected, affected_by
from store.canonical import Batch, stable_id
from store.reads import SyncGroup

SEPARATOR = "\x1f"
KINDS = ("deal", "invoice", "work_item", "sync_group", "sync_trace")
GROUP_WEIGHT = 50  # a sync group reads a whole day of one flow's attempts


def _group_key(group: SyncGroup) -> str:
    integration, flow, day = group
    return SEPARATOR.join((integration, flow, day.isoformat()))


def _group(key: str) -> SyncGroup:
    integration, flow, day = key.split(SEPARATOR)
    return integration, flow, date.fromisoformat(day)


def _rows(affected: Affected) -> list[tuple[str, str]]:
    keys = {
        "deal": (str(i) for i in affected.deals),
        "invoice": (str(i) for i in affected.invoices),
        "work_item": (str(i) for i in affected.work_items),
        "sync_group": (_group_key(g) for g in affected.sync_groups),
        "sync_trace": iter(affected.sync_traces),
    }
    return [(kind, key) for kind, values in keys.items() for key in values]


def mark(conn: Connection, affected: Affected) -> int:
    """Queue `affected`'s cases (already queued ones stay queued once); how many were given."""
    rows = _rows(affected)
    if not rows:
        return 0
    # A batch queues tens of thousands of cases: one statement (PostgreSQL, two array
    # parameters) or the driver's executemany (SQLite), never a statement per row.
    if conn.dialect.name == "postgresql":
        kinds, keys = (list(column) for column in zip(*rows, strict=True))
        conn.exec_driver_sql(
            "INSERT INTO facts_pending (kind, key) SELECT * FROM unnest(%s::text[], %s::text[]) "
            "ON CONFLICT DO NOTHING",
            (kinds, keys),
        )
    else:
        conn.exec_driver_sql(
            "INSERT INTO facts_pending (kind, key) VALUES (?, ?) ON CONFLICT DO NOTHING", rows
        )
    return len(rows)


# One statement, so that on SQLite the refresh's first statement is its write. On PostgreSQL the
# keys are one array computed once: as `IN (subquery)`, statistics taken while the queue was
# empty (the usual case) make the planner rescan the subquery for every queued row — at 1m
# deals, 40 s per chunk instead of 1 s.
TAKE_IN_SUBQUERY = (
    "DELETE FROM facts_pending WHERE kind = :kind AND key IN "
    "(SELECT key FROM facts_pending WHERE kind = :kind ORDER BY key LIMIT :n) RETURNING key"
)
TAKE_ANY_ARRAY = (
    "DELETE FROM facts_pending WHERE kind = :kind AND key = ANY(ARRAY("
    "SELECT key FROM facts_pending WHERE kind = :kind ORDER BY key LIMIT :n)) RETURNING key"
)


def take(conn: Connection, limit: int) -> Affected:
    """Remove up to `limit` queued cases of each kind — a sync group (a flow's day) counts as
    `GROUP_WEIGHT` cases, as it reads every attempt of that day — and return them (the
    caller's transaction restores them if the refresh fails)."""
    sql = TAKE_ANY_ARRAY if conn.dialect.name == "postgresql" else TAKE_IN_SUBQUERY
    query = text(sql).bindparams(bindparam("kind"), bindparam("n"))
    out = Affected()
    for kind in KINDS:
        n = max(1, limit // GROUP_WEIGHT) if kind == "sync_group" else limit
        keys = conn.execute(query, {"kind": kind, "n": n}).scalars().all()
        if kind == "deal":
            out.deals.update(int(k) for k in keys)
        elif kind == "invoice":
            out.invoices.update(int(k) for k in keys)
        elif kind == "work_item":
            out.work_items.update(int(k) for k in keys)
        elif kind == "sync_group":
            out.sync_groups.update(_group(k) for k in keys)
        else:
            out.sync_traces.update(keys)
    return out


def queued(conn: Connection) -> int:
    """How many cases wait for a refresh."""
    return int(conn.execute(text("SELECT count(*) FROM facts_pending")).scalar_one())


LOCK_KEY = stable_id("case-facts-refresh") % 2**31  # one lock per schema: (key, schema hash)


def serialize(conn: Connection, *, shared: bool = False) -> None:
    """Refreshes run one at a time, and never beside an ingest transaction that has marked
    cases, until their transaction ends (PostgreSQL; SQLite already serialises writers). A
    refresh then reads everything the marks it takes stand for."""
    if conn.dialect.name == "postgresql":
        lock = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        conn.execute(text(f"SELECT {lock}(:k, hashtext(current_schema()))"), {"k": LOCK_KEY})


LARGE_BATCH = 5_000


def analyze_after_bulk(conn: Connection, batch: Batch) -> None:
    """After a large batch, refresh the planner's statistics inside the transaction: with none
    or stale ones (e.g. a first backfill) lookups by id scan whole tables. SQLite samples a few
    hundred rows per index (`analysis_limit`), so this stays cheap as history grows."""
    if len(batch) < LARGE_BATCH:
        return
    if conn.dialect.name == "postgresql":
        # Only while the batch is large against what the statistics last saw (a young store):
        # once they know a table is large, its plans by id stay right as it grows.
        seen = conn.execute(text("SELECT reltuples FROM pg_class WHERE oid = 'events'::regclass"))
        if (seen.scalar_one() or 0) >= 4 * len(batch):
            return
        conn.execute(text("ANALYZE objects, events, event_objects, object_links, sync_attempts"))
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA analysis_limit = 400")
        for table in ("objects", "events", "event_objects", "object_links", "sync_attempts"):
            conn.exec_driver_sql(f"ANALYZE {table}")


def mark_affected(conn: Connection, batch: Batch) -> int:
    """Queue the cases `batch` (already stored on `conn`) touches, in its transaction."""
    if not (batch.objects or batch.events or batch.links or batch.sync_attempts):
        return 0
    serialize(conn, shared=True)
    analyze_after_bulk(conn, batch)
    return mark(conn, affected_by(conn, batch))

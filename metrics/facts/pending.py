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

from metrics.facts.affected import Affected
from metrics.facts.sync import Group

SEPARATOR = "\x1f"
KINDS = ("deal", "invoice", "work_item", "sync_group", "sync_trace")


def _group_key(group: Group) -> str:
    integration, flow, day = group
    return SEPARATOR.join((integration, flow, day.isoformat()))


def _group(key: str) -> Group:
    integration, flow, day = key.split(SEPARATOR)
    return integration, flow, date.fromisoformat(day)


def _rows(affected: Affected) -> list[dict[str, str]]:
    keys = {
        "deal": (str(i) for i in affected.deals),
        "invoice": (str(i) for i in affected.invoices),
        "work_item": (str(i) for i in affected.work_items),
        "sync_group": (_group_key(g) for g in affected.sync_groups),
        "sync_trace": iter(affected.sync_traces),
    }
    return [{"kind": kind, "key": key} for kind, values in keys.items() for key in values]


def mark(conn: Connection, affected: Affected) -> int:
    """Queue `affected`'s cases (already queued ones stay queued once); how many were given."""
    rows = _rows(affected)
    if rows:
        insert = "INSERT INTO facts_pending (kind, key) VALUES (:kind, :key) ON CONFLICT DO NOTHING"
        conn.execute(text(insert), rows)
    return len(rows)


def take(conn: Connection, limit: int) -> Affected:
    """Remove up to `limit` queued cases and return them (the caller's transaction restores
    them if the refresh fails)."""
    query = text(
        "DELETE FROM facts_pending WHERE (kind, key) IN "
        "(SELECT kind, key FROM facts_pending ORDER BY kind, key LIMIT :n) RETURNING kind, key"
    ).bindparams(bindparam("n", limit))
    out = Affected()
    for kind, key in conn.execute(query):
        if kind == "deal":
            out.deals.add(int(key))
        elif kind == "invoice":
            out.invoices.add(int(key))
        elif kind == "work_item":
            out.work_items.add(int(key))
        elif kind == "sync_group":
            out.sync_groups.add(_group(key))
        else:
            out.sync_traces.add(key)
    return out


def queued(conn: Connection) -> int:
    """How many cases wait for a refresh."""
    return int(conn.execute(text("SELECT count(*) FROM facts_pending")).scalar_one())

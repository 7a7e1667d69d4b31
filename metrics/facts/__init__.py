"""Case facts derived from the event log, kept up to date in the ingest transaction.

`refresh_case_facts(conn, batch)` recomputes only the cases a stored batch touches (its cost
grows with the new data, not with history); `rebuild_case_facts(engine)` recomputes everything
with the same builders, so both give the same rows. Tables: `case_handoffs` (per won deal),
`case_invoices` (per invoice), `case_work_items` and `case_work_billing` (per work item and the
invoices it was billed on), `sync_daily`, `sync_failures` and `sync_traces` (sync rollups).

A changed project re-dimensions its deals, invoices and work items at once; sync rollups take
an object's dimensions when its attempts (or the object itself) arrive, so a later change of a
project's entity or practice reaches them with the next `rebuild_case_facts`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text

from metrics.canonical import Batch, stable_id
from metrics.facts.affected import Affected, affected_by
from metrics.facts.handoffs import refresh_handoffs
from metrics.facts.invoices import refresh_invoices
from metrics.facts.sync import refresh_sync
from metrics.facts.work_items import refresh_work_items

__all__ = ["Affected", "RefreshReport", "rebuild_case_facts", "refresh_case_facts"]


LOCK_KEY = stable_id("case-facts-refresh") % 2**31  # one lock per schema: (key, schema hash)


def _serialize(conn: Connection) -> None:
    """Refreshes run one at a time until their transaction ends (PostgreSQL; SQLite already
    serialises writers). Each then reads what earlier ones committed, so two collectors
    touching one case never leave it computed from half the data."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:k, hashtext(current_schema()))"), {"k": LOCK_KEY}
        )


LARGE_BATCH = 5_000


def _analyze_after_bulk(conn: Connection, batch: Batch) -> None:
    """After a large batch, refresh PostgreSQL's statistics inside the transaction: with stale
    ones (e.g. a first backfill) the planner scans whole tables for every id lookup."""
    if conn.dialect.name == "postgresql" and len(batch) >= LARGE_BATCH:
        conn.execute(text("ANALYZE objects, events, event_objects, object_links, sync_attempts"))


@dataclass(frozen=True, slots=True)
class RefreshReport:
    """Cases recomputed, rows written and the time it took."""

    cases: int
    rows: int
    seconds: float


def _refresh(conn: Connection, affected: Affected | None) -> int:
    a = affected
    return (
        refresh_handoffs(conn, a.deals if a else None)
        + refresh_invoices(conn, a.invoices if a else None)
        + refresh_work_items(conn, a.work_items if a else None)
        + refresh_sync(conn, a.sync_groups if a else None, a.sync_traces if a else None)
    )


def refresh_case_facts(conn: Connection, batch: Batch) -> RefreshReport:
    """Recompute the case facts `batch` (already stored on `conn`) touches, in its transaction."""
    started = time.perf_counter()
    if not (batch.objects or batch.events or batch.links or batch.sync_attempts):
        return RefreshReport(0, 0, 0.0)
    _serialize(conn)
    _analyze_after_bulk(conn, batch)
    affected = affected_by(conn, batch)
    rows = _refresh(conn, affected) if len(affected) else 0
    return RefreshReport(len(affected), rows, time.perf_counter() - started)


def rebuild_case_facts(target: Engine | Connection) -> RefreshReport:
    """Recompute every case fact from the event log (backfill, definition change, nightly)."""
    started = time.perf_counter()
    if isinstance(target, Engine):
        with target.begin() as conn:
            _serialize(conn)
            rows = _refresh(conn, None)
    else:
        _serialize(target)
        rows = _refresh(target, None)
    return RefreshReport(rows, rows, time.perf_counter() - started)

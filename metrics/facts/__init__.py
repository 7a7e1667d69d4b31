"""Case facts derived from the event log, kept up to date right after each ingest.

The ingest transaction marks the cases its batch touches (`mark_affected`, see
`store.pending`); `refresh_pending(engine)` then recomputes only those cases, in chunks,
each case once however many batches touched it (its cost grows with the new data, not with
history). `rebuild_case_facts(engine)` recomputes everything at once, by DuckDB in process
(`metrics.facts.columnar`), giving the same rows as the builders (`columnar=False` runs the
builders over every case instead: the reference the columnar path is tested against). A queue
too large for case-by-case work — a first backfill — is served by one columnar rebuild too
(`BACKFILL_CASES`). Tables: `case_handoffs` (per won deal),
`case_invoices` (per invoice), `case_work_items` and `case_work_billing` (per work item and the
invoices it was billed on), `sync_daily`, `sync_failures` and `sync_traces` (sync rollups).

A changed project re-dimensions its deals, invoices and work items at once; sync rollups take
an object's dimensions when its attempts (or the object itself) arrive, so a later change of a
project's entity or practice reaches them with the next `rebuild_case_facts`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from metrics.facts.handoffs import refresh_handoffs
from metrics.facts.invoices import refresh_invoices
from metrics.facts.sync import refresh_sync
from metrics.facts.work_items import refresh_work_items
from store import pending
from store.affected import Affected
from store.canonical import Batch
from store.migrate import upgrade_to_head
from store.reads import no_cyclic_gc
from store.write import CursorUpdate, WriteResult, write_batch

__all__ = [
    "Affected",
    "RefreshReport",
    "ensure_current",
    "rebuild_case_facts",
    "refresh_pending",
    "write_and_refresh",
]


CHUNK_CASES = 5_000  # cases per refresh transaction: bounds its memory on a large backfill
# A queue of more than BACKFILL_CASES cases that is also more than BACKFILL_SHARE of the case
# rows already stored (a first backfill, years of history re-delivered) is served by one
# columnar rebuild: recomputing everything then costs less than case-by-case work.
BACKFILL_CASES = 50_000
BACKFILL_SHARE = 0.25
CASE_TABLES = ("case_handoffs", "case_invoices", "case_work_items", "sync_traces")


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


def _backfill(conn: Connection) -> int:
    """The queued cases when the queue is large enough that one full rebuild beats the
    per-case refresh, else 0."""
    waiting = pending.queued(conn)
    if waiting <= BACKFILL_CASES:
        return 0
    stored = sum(
        int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())  # noqa: S608
        for t in CASE_TABLES
    )
    return waiting if waiting > BACKFILL_SHARE * stored else 0


def refresh_pending(engine: Engine, chunk: int = CHUNK_CASES) -> RefreshReport:
    """Recompute every queued case, `chunk` cases per transaction, until none is queued; a
    backfill-sized queue (`BACKFILL_CASES`) is served by one columnar full rebuild instead."""
    started = time.perf_counter()
    cases = rows = 0
    with engine.begin() as conn:
        pending.serialize(conn)
        cases = _backfill(conn)
        if cases:
            conn.execute(text("DELETE FROM facts_pending"))
            _facts_changed(conn)
            rows = _columnar(conn)
            return RefreshReport(cases, rows, time.perf_counter() - started)
    while True:
        with engine.begin() as conn, no_cyclic_gc():
            pending.serialize(conn)
            affected = pending.take(conn, chunk)
            if not len(affected):
                break
            cases += len(affected)
            _facts_changed(conn)
            rows += _refresh(conn, affected)
    return RefreshReport(cases, rows, time.perf_counter() - started)


def _facts_changed(conn: Connection) -> None:
    """What is derived from the case facts and stored (the SLO board, `metrics.slo.stored_board`)
    is marked out of date in the transaction that changes them: the worker derives it again."""
    conn.execute(text("UPDATE slo_boards SET data_version = '' WHERE data_version <> ''"))


def _columnar(conn: Connection, own_writes: bool = False) -> int:
    """The columnar rebuild, imported when first used: DuckDB is not loaded by every page."""
    from metrics.facts.columnar import rebuild_columnar

    return rebuild_columnar(conn, own_writes=True) if own_writes else rebuild_columnar(conn)


def _own_writes(conn: Connection) -> bool:
    """Whether the caller's SQLite transaction has written anything yet (the driver opens one
    at the first write); PostgreSQL's are told table by table later, by their locks."""
    driver: Any = conn.connection.driver_connection
    return conn.dialect.name == "sqlite" and bool(driver.in_transaction)


def _rebuild(conn: Connection, columnar: bool, own_writes: bool = False) -> int:
    pending.serialize(conn)
    conn.execute(text("DELETE FROM facts_pending"))
    _facts_changed(conn)
    if columnar:  # it replaces every fact table, comparing with the rows committed so far
        return _columnar(conn, own_writes)
    conn.execute(text("DELETE FROM case_dimensions"))  # the builders offer the values anew
    return _refresh(conn, None)


def rebuild_case_facts(target: Engine | Connection, *, columnar: bool = True) -> RefreshReport:
    """Recompute every case fact from the event log (backfill, definition change, nightly);
    the queue of pending cases is emptied with it. `columnar=False` runs the per-case Python
    builders over everything instead (the reference; same rows, slower).

    The columnar rebuild reads the store as committed, in place (`metrics.facts.duck_store`);
    given a connection whose transaction has already written, it reads and writes through
    that connection instead, seeing what the transaction sees."""
    started = time.perf_counter()
    if isinstance(target, Engine):
        with target.begin() as conn:
            rows = _rebuild(conn, columnar)
    else:
        rows = _rebuild(target, columnar, _own_writes(target))
    return RefreshReport(rows, rows, time.perf_counter() - started)


def write_and_refresh(
    engine: Engine,
    batch: Batch,
    cursors: CursorUpdate | Sequence[CursorUpdate] = (),
    *,
    now: datetime | None = None,
) -> WriteResult:
    """Store one batch (`store.write.write_batch`) and bring the case facts up to date at once;
    callers writing many batches write them first and call `refresh_pending` once."""
    result = write_batch(engine, batch, cursors, now=now)
    refresh_pending(engine)
    return result


def ensure_current(engine: Engine) -> bool:
    """Bring the schema to the code's head (`store.migrate.upgrade_to_head`); a store that had
    events before the case-fact tables existed gets them rebuilt once. True when this process
    applied an upgrade."""
    upgraded = upgrade_to_head(engine)
    if upgraded.facts_predate_store:
        rebuild_case_facts(engine)
    return upgraded.applied

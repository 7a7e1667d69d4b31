"""The write-path phases: `ingest` (the base log through `write_batch`, then a share again),
`raw` (the database's raw limit on the same rows) and `append` (the next days' rows, and the
incremental refresh of the cases they queued)."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from typing import Any

from bench.measure import WriteTimer, peak_mb
from bench.stores import open_store


def saved_cursor(engine: Any, cursor: Any) -> Any:
    """The cursor a re-delivery saves: the stream's cursor as stored, not the older one the
    batch first came with. A collector retrying a batch does not read backwards, and a cursor
    moved back would move the pages' reporting clock (`reporting_time`) with it."""
    from sqlalchemy import select

    from store.tables import CollectorState
    from store.write import CursorUpdate

    state = CollectorState
    query = select(state.cursor).where(
        state.collector == cursor.collector, state.stream == cursor.stream
    )
    with engine.connect() as conn:
        saved = conn.execute(query).scalar_one_or_none()
    return CursorUpdate(cursor.collector, cursor.stream, saved) if saved else cursor


def phase_ingest(db: str, deals: int, opts: argparse.Namespace) -> dict[str, Any]:
    from bench.generate import Scale, batches

    scale = Scale(deals)
    engine = open_store(db, scale.label, fresh=True, out=opts.out, pg_url=opts.postgres_url)
    first = WriteTimer()
    generated = 0.0
    with first.installed():
        it = batches(scale, "base", opts.batch_rows)
        while True:
            started = time.perf_counter()
            item = next(it, None)
            generated += time.perf_counter() - started
            if item is None:
                break
            first.write(engine, *item)
        memory = peak_mb()  # the write path's peak, before the refresh the run ends with
        first.refresh_facts(engine)
    refresh_memory = peak_mb()
    again = WriteTimer()
    share = max(1, round(first.batches * opts.reingest_share))
    with again.installed():
        for n, (batch, cursor) in enumerate(batches(scale, "base", opts.batch_rows)):
            if n >= share:
                break
            again.write(engine, batch, saved_cursor(engine, cursor))
        again.refresh_facts(engine)
    engine.dispose()
    return {
        "ingest": first.figures(),
        "reingest": again.figures(),
        "generate_seconds": generated,
        "ingest_peak_mb": memory,
        "ingest_refresh_peak_mb": refresh_memory,
        "batch_rows": opts.batch_rows,
    }


def _raw_rows(batch: Any, stamp: datetime, loader: Any) -> list[tuple[Any, list[Any]]]:
    """The exact rows `write_batch` stores, per table, adapted for the driver (not timed)."""
    import store.write_rows as s

    events = s.events_by_id(batch.events)
    plan = [
        (s.OBJECTS, s.object_rows(batch.objects, stamp)),
        (s.EVENTS, s.event_rows(events, stamp)),
        (s.EVENT_OBJECTS, s.event_object_rows(events)),
        (s.LINKS, s.link_rows(batch.links, stamp)),
        (s.SYNC_ATTEMPTS, s.sync_rows(batch.sync_attempts, stamp)),
        (s.FX_RATES, s.fx_rows(batch.fx_rates, stamp)),
    ]
    return [(table, loader._adapt(table, rows)) for table, rows in plan if rows]


def phase_raw(db: str, deals: int, opts: argparse.Namespace) -> dict[str, Any]:
    import store.write_rows as s
    from bench.generate import Scale, batches, rows_in
    from store.write_bulk import loader_for

    scale = Scale(deals)
    engine = open_store(db, scale.label, out=opts.out, pg_url=opts.postgres_url)
    tables = [s.OBJECTS, s.EVENTS, s.EVENT_OBJECTS, s.LINKS, s.SYNC_ATTEMPTS, s.FX_RATES]
    stamp = datetime.now(UTC)
    seconds, rows = 0.0, 0
    with engine.connect() as conn:
        driver: Any = conn.connection.driver_connection
        for t in tables:  # unindexed copies, no keys
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS raw_{t.name}")
            if db == "sqlite":
                conn.exec_driver_sql(f"CREATE TABLE raw_{t.name} AS SELECT * FROM {t.name} WHERE 0")  # noqa: S608
            else:
                conn.exec_driver_sql(f"CREATE TABLE raw_{t.name} (LIKE {t.name})")
        conn.commit()
        loader = loader_for(conn)
        for batch, _cursor in batches(scale, "base", opts.batch_rows):
            prepared = _raw_rows(batch, stamp, loader)
            started = time.perf_counter()
            for table, values in prepared:
                cols = ", ".join(table.columns)
                if db == "sqlite":
                    marks = ", ".join("?" for _ in table.columns)
                    cur = driver.cursor()
                    cur.executemany(
                        f"INSERT INTO raw_{table.name} ({cols}) VALUES ({marks})",  # noqa: S608
                        values,
                    )
                    cur.close()
                else:
                    with (
                        driver.cursor() as cur,
                        cur.copy(f"COPY raw_{table.name} ({cols}) FROM STDIN") as copy,
                    ):
                        for row in values:
                            copy.write_row(row)
            seconds += time.perf_counter() - started
            rows += rows_in(batch)
        started = time.perf_counter()
        conn.commit()
        seconds += time.perf_counter() - started
        for t in tables:
            conn.exec_driver_sql(f"DROP TABLE raw_{t.name}")
        conn.commit()
    engine.dispose()
    return {
        "raw": {
            "rows": rows,
            "seconds": seconds,
            "rows_per_s": rows / seconds,
            "method": "executemany INSERT, one transaction"
            if db == "sqlite"
            else "COPY into unindexed tables, one transaction",
        }
    }


def phase_append(db: str, deals: int, opts: argparse.Namespace) -> dict[str, Any]:
    from bench.generate import Scale, batches

    scale = Scale(deals)
    engine = open_store(db, scale.label, out=opts.out, pg_url=opts.postgres_url)
    with engine.connect() as conn:
        before = int(conn.exec_driver_sql("SELECT count(*) FROM events").scalar_one())
    timer = WriteTimer()
    with timer.installed():
        for batch, cursor in batches(scale, "append", opts.batch_rows):
            timer.write(engine, batch, cursor)
        timer.refresh_facts(engine)
    with engine.connect() as conn:
        after = int(conn.exec_driver_sql("SELECT count(*) FROM events").scalar_one())
    engine.dispose()
    return {
        "append": {
            **timer.figures(),
            "events_before": before,
            "events_after": after,
            "events_added_share": after / before - 1,
        }
    }

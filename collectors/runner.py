"""Runs a collector: the same cursor, transaction, quarantine and run-log rules for every source.

Cursor rules (after the Singer SDK and dlt): a stream reads from its saved cursor minus the
stream's look-back, boundary included; re-delivered records are absorbed by the idempotent
upsert. The new cursor is the highest cursor value stored, capped at the run's start time, and
never moves back. A stream sorted by its cursor saves, in each page's transaction, the highest
value of the pages before it capped at the page's lowest, so a page the source sends out of order
never carries the cursor past records not stored yet; the walk's highest value is saved when the
walk completes. An unsorted stream saves its cursor only then. A record that cannot
be mapped is quarantined with its reason and the rest of its page is stored. A failing stream
records its reason and the other streams still run.

Pages reach the runner verified (`collectors.page_checks`, applied by `collectors.paging` to
every walk before a page is handed on): a page that is empty yet points on, contradicts its
declared size or total, repeats records, or holds records of another query makes the stream fail
before any of its records is mapped. So a transport fault or a page of another query never puts
a record in quarantine, the cursor stays where the last verified page left it, and the run is
`failed` or `partial`, never `success`; the next clean run reads from there and completes the
data. Quarantine holds only records that are malformed themselves, on a verified page.

Counters (per stream, summed per run; the run log's `rows_in` is `rows_written`):

- ``records_read``: the distinct source records the stream handed over in verified pages, by
  primary key; a record handed over twice in one run (read again past a restart of the walk)
  counts once, records without a key count each.
- ``rows_written``: the rows the run added to the store or changed (objects, events, event-object
  relations, links, sync attempts, exchange rates); a re-delivered identical row counts zero.
  After a first run into an empty store it equals the rows stored.
- ``quarantined``: the records the run put in quarantine.

A `StatefulStream` (n8n's newest-first executions, a log file's byte offset) keeps a richer
cursor: it is handed its saved cursor and yields each page with the cursor to save once that page
is stored (None: not yet); the runner writes the two in one transaction, the same as above.
"""

from __future__ import annotations

import json
import logging
import reprlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import InvalidOperation
from typing import Any, cast

from sqlalchemy import Engine

from collectors.base import (
    Collector,
    Cursor,
    FetchWindow,
    Record,
    StatefulStream,
    Stream,
    record_cursor,
    record_key,
)
from collectors.errors import CollectorError, MappingError
from collectors.locks import collector_lock
from collectors.run_log import RunReport, StreamReport, finish_run, start_run
from collectors.salvage import DEFECT_KEY
from foundation.settings import get_settings
from store.canonical import Batch, QuarantineRow
from store.checks import InvalidRow, check_batch
from store.write import CursorUpdate, WriteResult, read_cursor, write_batch

__all__ = ["RunReport", "StreamReport", "finish_run", "run_collector", "start_run"]
log = logging.getLogger("throughline.collectors")

MAPPING_FAILURES = (
    MappingError,
    KeyError,
    ValueError,
    TypeError,
    InvalidOperation,
    OverflowError,
    RecursionError,
)
_RAW = reprlib.Repr()  # how a record that is not a JSON object is kept in quarantine
_RAW.maxstring = _RAW.maxother = 2000
Progress = Callable[[str, int], None]


@dataclass(slots=True)
class _Reads:
    """The distinct records one stream handed over in one run (see ``records_read``)."""

    stream: Stream
    keys: set[str] = field(default_factory=set)
    keyless: int = 0

    def add(self, page: list[Record]) -> int:
        """Count ``page``; returns the run's count so far."""
        for record in page:
            key = record_key(self.stream, record) if isinstance(record, dict) else None
            if key is None:
                self.keyless += 1
            else:
                self.keys.add(key)
        return len(self.keys) + self.keyless


Refresh = Callable[[Engine], object]  # recomputes the case facts of the queued cases


def run_collector(
    engine: Engine,
    collector: Collector,
    *,
    now: datetime | None = None,
    since: datetime | None = None,
    kind: str = "collect",
    progress: Progress | None = None,
    refresh: Refresh,
) -> RunReport:
    """Run every stream of `collector` once, under its lock; `since` re-reads from a date.

    `refresh` brings the case facts up to date once the run's batches are stored (the layer
    above passes `metrics.facts.refresh_pending`; collectors only write the store)."""
    with collector_lock(engine, collector.name) as taken:
        if not taken:
            log.info("%s: another worker is running it; skipped", collector.name)
            return RunReport(collector.name, "skipped", error="another worker holds its lock")
        started = (now or datetime.now(UTC)).astimezone(UTC)
        run_id = start_run(engine, collector.name, kind, started)
        report = RunReport(collector.name, "running", run_id)
        try:
            with collector.open_client() as client:
                for stream in collector.streams:
                    report.streams.append(
                        _run_stream(engine, collector, stream, client, started, since, progress)
                    )
            refresh(engine)  # the cases this run touched, each recomputed once
        except Exception as exc:  # recorded in the run log, then re-raised for the caller
            report.status, report.error = "failed", f"{exc.__class__.__name__}: {exc}"
            refresh_after_failure(engine, collector.name, refresh)
            finish_run(engine, report)
            raise
        failures = [s for s in report.streams if s.error]
        report.status = (
            "success"
            if not failures
            else "failed"
            if len(failures) == len(report.streams)
            else "partial"
        )
        report.error = "; ".join(_named(s) for s in failures) or None
        finish_run(engine, report)
        return report


def _named(stream: StreamReport) -> str:
    """A failed stream's reason as one sentence that names the stream (once)."""
    error = stream.error or ""
    return error if error.startswith(f"{stream.name}: ") else f"{stream.name}: {error}"


def refresh_after_failure(engine: Engine, name: str, refresh: Refresh) -> None:
    """Refresh the cases a failed run's stored batches touched; when even that fails (the
    database is gone), they stay queued for the next run of any collector."""
    try:
        refresh(engine)
    except Exception as exc:  # logged; the queue keeps the cases
        log.warning("%s: case facts not refreshed yet: %s", name, _describe(exc))


def _run_stream(
    engine: Engine,
    collector: Collector,
    stream: Stream,
    client: Any,
    started: datetime,
    since_override: datetime | None,
    progress: Progress | None,
) -> StreamReport:
    saved = read_cursor(engine, collector.name, stream.name)
    if isinstance(stream, StatefulStream):
        return _run_stateful(
            engine, collector, stream, client, started, since_override, progress, saved
        )
    saved_at = _cursor_time(saved)
    report = StreamReport(stream.name, cursor_before=saved_at.isoformat() if saved_at else None)
    since = since_override if since_override is not None else saved_at
    window = FetchWindow(since=since - stream.lookback if since else None, until=started)
    high = current = saved_at
    reads = _Reads(stream)
    try:
        for page in stream.fetch(client, window):
            batch, page_high = _map_page(collector.name, stream, page, now=started)
            safe = _capped(high, _page_low(stream, page))  # what the pages before this one cover
            cursor = (
                [_cursor_update(collector.name, stream.name, safe)]
                if stream.sorted_by_cursor and safe is not None and (not current or safe > current)
                else []
            )
            current = safe if cursor else current
            if page_high is not None:
                high = max(high, min(page_high, started)) if high else min(page_high, started)
            result: WriteResult = write_batch(engine, batch, cursor, now=started)
            report.pages += 1
            report.records_read = reads.add(page)
            report.rows_written += result.total
            report.quarantined += len(batch.quarantined)
            if progress:
                progress(stream.name, len(page))
        if high is not None and high != current:  # the walk completed
            write_batch(engine, Batch(), _cursor_update(collector.name, stream.name, high))
    except CollectorError as exc:
        report.error = str(exc)
        log.warning("%s/%s failed: %s", collector.name, stream.name, exc)
    final = _cursor_time(read_cursor(engine, collector.name, stream.name))
    report.cursor_after = final.isoformat() if final else None
    return report


def _run_stateful(
    engine: Engine,
    collector: Collector,
    stream: Stream,
    client: Any,
    started: datetime,
    since_override: datetime | None,
    progress: Progress | None,
    saved: Cursor | None,
) -> StreamReport:
    """A stateful stream: the stream says which cursor each stored page makes safe to save."""
    report = StreamReport(stream.name, cursor_before=_cursor_text(saved))
    since = since_override - stream.lookback if since_override is not None else None
    current = saved
    reads = _Reads(stream)
    try:
        pages = cast(StatefulStream, stream).fetch_pages(client, FetchWindow(since, started), saved)
        for page, cursor in pages:
            batch, _ = _map_page(collector.name, stream, page, time_cursor=False, now=started)
            update = (
                [CursorUpdate(collector.name, stream.name, cursor)]
                if cursor is not None and cursor != current
                else []
            )
            result = write_batch(engine, batch, update, now=started)
            current = cursor if update else current
            report.pages += 1
            report.records_read = reads.add(page)
            report.rows_written += result.total
            report.quarantined += len(batch.quarantined)
            if progress and page:
                progress(stream.name, len(page))
    except CollectorError as exc:
        report.error = str(exc)
        log.warning("%s/%s failed: %s", collector.name, stream.name, exc)
    report.cursor_after = _cursor_text(read_cursor(engine, collector.name, stream.name))
    return report


def _cursor_text(cursor: Cursor | None) -> str | None:
    return None if cursor is None else json.dumps(cursor, sort_keys=True, default=str)


def _map_page(
    collector: str,
    stream: Stream,
    page: list[Record],
    *,
    time_cursor: bool = True,
    now: datetime | None = None,
) -> tuple[Batch, datetime | None]:
    """Map a page; unmappable records go to quarantine. Returns the rows and the max cursor.

    With ``time_cursor`` False (stateful streams) a record's cursor field is not required. With
    ``now`` (the run's start) the rows are checked by `store.canonical.check_batch` too: a
    record whose rows the store must not keep is quarantined with the reason."""
    batch = Batch()
    high: datetime | None = None
    tolerance = future_tolerance()  # read once per page, not per record
    for record in page:
        try:
            if not isinstance(record, dict):
                raise MappingError(f"the record is not a JSON object: {type(record).__name__}")
            if record.get(DEFECT_KEY):  # marked by `collectors.salvage`
                raise MappingError(str(record[DEFECT_KEY]))
            at = record_cursor(stream, record) if time_cursor else None
            if record_key(stream, record) is None:
                raise MappingError(f"the record has no {stream.primary_key}")
            rows = stream.map(record)
            if now is not None:
                check_batch(rows, now=now, tolerance=tolerance)
            batch.extend(rows)
        except MAPPING_FAILURES as exc:
            reason = str(exc) if isinstance(exc, MappingError | InvalidRow) else _describe(exc)
            locate = getattr(stream, "locate", None)  # e.g. a log file's "line 7 of sync.log"
            if isinstance(exc, InvalidRow) and locate is not None:
                reason = f"{locate(record)}: {reason}"
            key = record_key(stream, record) if isinstance(record, dict) else None
            raw = record if isinstance(record, dict) else _RAW.repr(record)
            batch.quarantined.append(QuarantineRow(collector, stream.name, reason, raw, key))
            continue
        if at is not None:
            high = at if high is None or at > high else high
    return batch, high


def _page_low(stream: Stream, page: list[Record]) -> datetime | None:
    """The lowest cursor value on a page (records without a readable one are left out)."""
    low: datetime | None = None
    for record in page:
        try:
            at = record_cursor(stream, record) if isinstance(record, dict) else None
        except MappingError:
            continue
        low = at if low is None or (at is not None and at < low) else low
    return low


def _capped(high: datetime | None, low: datetime | None) -> datetime | None:
    return high if high is None or low is None else min(high, low)


def future_tolerance() -> timedelta:
    """How far after a run's start a source time may lie (`future_tolerance_days`)."""
    return timedelta(days=get_settings().future_tolerance_days)


def _describe(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc}"
    return f"{exc.__class__.__name__}: {exc}"


def _cursor_time(cursor: dict[str, Any] | None) -> datetime | None:
    if not cursor or not cursor.get("since"):
        return None
    return datetime.fromisoformat(str(cursor["since"]))


def _cursor_update(collector: str, stream: str, at: datetime) -> CursorUpdate:
    return CursorUpdate(collector, stream, {"since": at.isoformat()})

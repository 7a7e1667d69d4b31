"""What every import shares: the run log, batched writes, the quarantine count and the bar.

An import is logged like a collector run (`collectors.runner.start_run` / `finish_run`, kind
``import``, under the collector lock of its name) and writes through `store.write.write_batch`
in batches, each with its cursor in the same transaction. A row that cannot be mapped is
quarantined with its row number and reason, counted by reason for the summary; the rest of its
batch is stored. Events and links name only stored objects (`refs`). An import that reads
nothing, or whose rows are mostly quarantined, fails (its stored rows stay: importing again
after a fix stores nothing twice).
"""

from __future__ import annotations

import gc
import hashlib
import json
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from tqdm import tqdm

from collectors.locks import collector_lock
from collectors.runner import (
    RunReport,
    StreamReport,
    finish_run,
    refresh_after_failure,
    start_run,
)
from metrics.facts import refresh_pending
from store.canonical import Batch, EventRow, QuarantineRow
from store.reads import no_cyclic_gc
from store.write import CursorUpdate, read_cursor, write_batch
from throughline.importers.mapping_file import ImportFailed, MappingFileError, Strict
from throughline.importers.refs import References, Unit
from throughline.importers.report import MAX_QUARANTINED, ImportRejected, ImportReport
from throughline.importers.values import kind_of

BATCH_ROWS = 5_000

__all__ = [
    "BATCH_ROWS",
    "MAX_QUARANTINED",
    "ImportFailed",
    "ImportRejected",
    "ImportReport",
    "ImportRun",
    "MappingFileError",
    "Strict",
]


def fingerprint(path: Path) -> str:
    """SHA-256 of the file's first KiB and its size: which file a cursor speaks of."""
    with path.open("rb") as handle:
        head = handle.read(1024)
    return hashlib.sha256(head + str(path.stat().st_size).encode()).hexdigest()[:32]


def merge_events(events: list[EventRow]) -> list[EventRow]:
    """Events with one id merged into one (rows of one event naming different objects)."""
    by_id: dict[int, EventRow] = {}
    for event in events:
        old = by_id.get(event.id)
        if old is None:
            by_id[event.id] = event
            continue
        refs = old.objects + tuple(r for r in event.objects if r not in old.objects)
        by_id[event.id] = EventRow(
            old.activity,
            old.occurred_at,
            old.source_system,
            old.source_key,
            refs,
            {**event.attributes, **old.attributes},
        )
    return list(by_id.values())


class ImportRun:
    """One import in progress: collects each row's unit, writes them in batches with their
    cursor (references settled first, `refs`) and feeds the progress bar."""

    def __init__(
        self,
        engine: Engine,
        report: ImportReport,
        stream: str,
        started: datetime,
        bar: tqdm[Any],
        references: References,
        batch_rows: int,
    ) -> None:
        self.engine = engine
        self.report = report
        self.stream = stream
        self.started = started
        self.bar = bar
        self.references = references
        self.batch_rows = batch_rows
        self.cursor_before = read_cursor(engine, report.collector, stream)
        self.cursor: dict[str, Any] | None = None
        self._since: datetime | None = None
        self._shown = 0
        self._rows = 0
        self._units: list[Unit] = []
        self._quarantined: list[QuarantineRow] = []

    @property
    def due(self) -> bool:
        """Whether a batch's worth of rows is waiting to be written."""
        return self._rows >= self.batch_rows

    def advance_to(self, position: int) -> None:
        """Move the progress bar to `position` (bytes or rows read so far)."""
        if position > self._shown:
            self.bar.update(position - self._shown)
            self._shown = position

    def add(self, unit: Unit | None) -> None:
        """One row read: what it adds to the store (None: the mapping skips it)."""
        self._rows += 1
        if unit is None:
            self.report.skipped += 1
        else:
            self._units.append(unit)

    def refuse(self, where: str, error: Exception, raw: Any) -> None:
        """One row read that cannot be stored (`error`: a `MappingError` or `ValueError`)."""
        self._rows += 1
        self.quarantine(where, error, raw)

    def quarantine(self, where: str, error: Exception, raw: Any) -> None:
        """Quarantine an input row: `where` is its row number, kept in the key."""
        reason = getattr(error, "reason", None) or str(error)
        name = self.report.collector
        row = QuarantineRow(name, self.stream, f"{where}: {reason}", json_safe(raw), where)
        self._quarantined.append(row)
        self.report.count(kind_of(error))

    def reached(self, at: datetime) -> None:
        """Note a source time the file has reached; the cursor's `since` is the newest (capped
        at the run's start), which is when the store reports at."""
        if self._since is None or at > self._since:
            self._since = at

    def write(self, cursor: dict[str, Any], *, final: bool = False) -> None:
        """Store the rows collected so far and the cursor reached, in one transaction; `final`
        settles the rows held for references too."""
        ready, refused = self.references.split(self._units, final=final)
        for unit, error in refused:
            self.quarantine(unit.where, error, unit.raw)
        batch = Batch(quarantined=self._quarantined)
        for unit in ready:
            batch.objects += unit.objects
            batch.events += unit.events
            batch.links += unit.links
            batch.sync_attempts += unit.sync_attempts
            batch.fx_rates += unit.fx_rates
        batch.events = merge_events(batch.events)
        for event in batch.events:
            self.reached(event.occurred_at)
        for attempt in batch.sync_attempts:
            self.reached(attempt.started_at)
        if self._since is not None:
            cursor = {**cursor, "since": min(self._since, self.started).isoformat()}
        update = CursorUpdate(self.report.collector, self.stream, cursor)
        result = write_batch(self.engine, batch, update, now=self.started)
        self.cursor = cursor
        self.report.written.add(result)
        self.report.rows_read += self._rows
        self._rows, self._units, self._quarantined = 0, [], []
        gc.collect(0)  # the batch's own cycles (the collector is paused while rows are mapped)


def collector_name(kind: str, path: Path) -> str:
    """The run-log name of an import: ``import-<kind>:<file name>``."""
    return f"import-{kind}:{path.name}"[:100]


@contextmanager
def import_run(
    engine: Engine,
    name: str,
    stream: str,
    references: References,
    *,
    total: float | None,
    unit: str,
    progress: bool | None,
    batch_rows: int = BATCH_ROWS,
    max_quarantined: float = MAX_QUARANTINED,
) -> Iterator[ImportRun]:
    """Log an import under `name` like a collector run, with a progress bar (TTY only); fails
    with `ImportRejected` when it read nothing or quarantined more than `max_quarantined` of its
    rows (`ImportReport.failure`)."""
    with collector_lock(engine, name) as taken:
        if not taken:
            raise ImportFailed(f"{name}: another import of this file is running")
        started = datetime.now(UTC)
        report = ImportReport(name, start_run(engine, name, "import", started))
        disable = None if progress is None else not progress
        with tqdm(
            total=total, unit=unit, unit_scale=True, desc=name, disable=disable, file=sys.stderr
        ) as bar:
            run = ImportRun(engine, report, stream, started, bar, references, batch_rows)
            try:
                with no_cyclic_gc():  # rows are acyclic: reference counting frees them
                    yield run
                failure = report.failure(max_quarantined)
                if failure is not None:
                    raise ImportRejected(f"{name}: {failure}", report)
            except BaseException as exc:
                report.status, report.error = "failed", f"{exc.__class__.__name__}: {exc}"
                _finish(engine, run)
                raise
        report.status = "success"
        _finish(engine, run)


def _finish(engine: Engine, run: ImportRun) -> None:
    r = run.report
    if r.status == "success":
        refresh_pending(engine)  # the cases the import touched, each recomputed once
    else:
        refresh_after_failure(engine, r.collector, refresh_pending)
    before, after = (
        None if c is None else json.dumps(c, sort_keys=True, default=str)
        for c in (run.cursor_before, run.cursor)
    )
    stream = StreamReport(
        run.stream,
        r.rows_read,
        r.written.total,
        r.quarantined,
        cursor_before=before,
        cursor_after=after,
    )
    finish_run(engine, RunReport(r.collector, r.status, r.run_id, [stream], r.error))


def json_safe(value: Any) -> Any:
    """A row or item as JSON-safe values for the quarantine (others as their text)."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)

"""What every import shares: mapping files, the run log, batched writes and the progress bar.

An import is logged like a collector run (`collectors.runner.start_run` / `finish_run`, kind
``import``, under the collector lock of its name) and writes through `metrics.store.write_batch`
in batches, each with its cursor in the same transaction. A row that cannot be mapped is
quarantined with its row number and reason; the rest of its batch is stored.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError
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
from metrics.canonical import Batch, EventRow, QuarantineRow
from metrics.facts import refresh_pending
from metrics.store import CursorUpdate, WriteResult, read_cursor, write_batch

BATCH_ROWS = 5_000
_M = TypeVar("_M", bound=BaseModel)


class ImportFailed(Exception):
    """The import cannot run at all (unreadable file, a mapped column missing, lock taken)."""


class MappingFileError(ImportFailed):
    """A mapping file is unusable; the message names the file and the field."""


class Strict(BaseModel):
    """Base of the mapping-file models: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def load_mapping(path: Path, model: type[_M]) -> _M:
    """Validate the YAML file at `path` against `model`; `MappingFileError` naming the field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MappingFileError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise MappingFileError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        problems = [
            f"{path}: {'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        ]
        raise MappingFileError("\n".join(problems)) from exc


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
            old.activity, old.occurred_at, old.source_system, old.source_key, refs,
            {**event.attributes, **old.attributes},
        )  # fmt: skip
    return list(by_id.values())


@dataclass(slots=True)
class ImportReport:
    """What one import did: rows read, rows the store gained or changed, rows quarantined."""

    collector: str
    run_id: int
    rows_read: int = 0
    quarantined: int = 0
    skipped: int = 0
    written: WriteResult = field(default_factory=WriteResult)
    status: str = "running"
    error: str | None = None

    def summary(self) -> str:
        """One sentence for the command line."""
        w = self.written
        skipped = f", {self.skipped} skipped by the mapping" if self.skipped else ""
        extra = "".join(
            f", {n} {label}"
            for n, label in ((w.sync_attempts, "sync attempts"), (w.fx_rates, "FX rates"))
            if n
        )
        return (
            f"{self.rows_read} rows read; new or changed: {w.events} events, {w.objects} "
            f"objects, {w.event_objects} event-object and {w.links} object-object "
            f"relations{extra}; {self.quarantined} quarantined{skipped}"
        )


class ImportRun:
    """One import in progress: writes batches with their cursor and feeds the progress bar."""

    def __init__(
        self, engine: Engine, report: ImportReport, stream: str, started: datetime, bar: tqdm[Any]
    ) -> None:
        self.engine = engine
        self.report = report
        self.stream = stream
        self.started = started
        self.bar = bar
        self.cursor_before = read_cursor(engine, report.collector, stream)
        self.cursor: dict[str, Any] | None = None
        self._since: datetime | None = None
        self._shown = 0

    def advance_to(self, position: int) -> None:
        """Move the progress bar to `position` (bytes or rows read so far)."""
        if position > self._shown:
            self.bar.update(position - self._shown)
            self._shown = position

    def quarantine(self, batch: Batch, where: str, reason: str, raw: dict[str, Any] | str) -> None:
        """Add a bad row to `batch`'s quarantine: `where` is its row number, kept in the key."""
        name = self.report.collector
        batch.quarantined.append(QuarantineRow(name, self.stream, f"{where}: {reason}", raw, where))

    def reached(self, at: datetime) -> None:
        """Note a source time the file has reached; the cursor's `since` is the newest (capped
        at the run's start), which is when the store reports at."""
        if self._since is None or at > self._since:
            self._since = at

    def write(self, batch: Batch, rows: int, cursor: dict[str, Any]) -> None:
        """Store `batch` (`rows` input rows) and the cursor reached, in one transaction."""
        batch.events = merge_events(batch.events)
        for event in batch.events:
            self.reached(event.occurred_at)
        for attempt in batch.sync_attempts:
            self.reached(attempt.started_at)
        if self._since is not None:
            cursor = {**cursor, "since": min(self._since, self.started).isoformat()}
        update = CursorUpdate(self.report.collector, self.stream, cursor)
        result = write_batch(self.engine, batch, update, now=self.started, refresh=False)
        self.cursor = cursor
        self.report.written.add(result)
        self.report.rows_read += rows
        self.report.quarantined += len(batch.quarantined)


def collector_name(kind: str, path: Path) -> str:
    """The run-log name of an import: ``import-<kind>:<file name>``."""
    return f"import-{kind}:{path.name}"[:100]


@contextmanager
def import_run(
    engine: Engine,
    name: str,
    stream: str,
    *,
    total: float | None,
    unit: str,
    progress: bool | None,
) -> Iterator[ImportRun]:
    """Log an import under `name` like a collector run, with a progress bar (TTY only)."""
    with collector_lock(engine, name) as taken:
        if not taken:
            raise ImportFailed(f"{name}: another import of this file is running")
        started = datetime.now(UTC)
        report = ImportReport(name, start_run(engine, name, "import", started))
        disable = None if progress is None else not progress
        with tqdm(
            total=total, unit=unit, unit_scale=True, desc=name, disable=disable, file=sys.stderr
        ) as bar:
            run = ImportRun(engine, report, stream, started, bar)
            try:
                yield run
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
        refresh_after_failure(engine, r.collector)
    before, after = (
        None if c is None else json.dumps(c, sort_keys=True, default=str)
        for c in (run.cursor_before, run.cursor)
    )
    stream = StreamReport(
        run.stream, r.rows_read, r.written.total, r.quarantined,
        cursor_before=before, cursor_after=after,
    )  # fmt: skip
    finish_run(engine, RunReport(r.collector, r.status, r.run_id, [stream], r.error))


def cells(values: Mapping[str, Any]) -> dict[str, Any]:
    """A row as JSON-safe values for the quarantine."""
    return {k: v if isinstance(v, str | int | float | bool) or v is None else str(v)
            for k, v in values.items()}  # fmt: skip

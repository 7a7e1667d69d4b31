"""The run log: what one collector run did, opened when it starts and closed when it ends."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, update

from store.tables import CollectorRun


@dataclass(slots=True)
class StreamReport:
    """What one stream did in one run."""

    name: str
    records_read: int = 0
    rows_written: int = 0
    quarantined: int = 0
    pages: int = 0
    cursor_before: str | None = None
    cursor_after: str | None = None
    error: str | None = None


@dataclass(slots=True)
class RunReport:
    """What one collector run did; `status` is success, partial, failed or skipped."""

    collector: str
    status: str
    run_id: int | None = None
    streams: list[StreamReport] = field(default_factory=list)
    error: str | None = None

    @property
    def rows_written(self) -> int:
        return sum(s.rows_written for s in self.streams)

    @property
    def quarantined(self) -> int:
        return sum(s.quarantined for s in self.streams)

    @property
    def records_read(self) -> int:
        return sum(s.records_read for s in self.streams)


def start_run(engine: Engine, collector: str, kind: str, started: datetime) -> int:
    """Open a run-log entry (status `running`); an earlier one left running was interrupted.

    Public so that file imports (`throughline.importers`) log their runs like collectors."""
    with engine.begin() as conn:
        conn.execute(
            update(CollectorRun)
            .where(CollectorRun.collector == collector, CollectorRun.status == "running")
            .values(status="interrupted", error="the process stopped before the run finished")
        )
        result = conn.execute(
            insert(CollectorRun)
            .values(
                collector=collector,
                kind=kind,
                started_at=started,
                status="running",
                rows_in=0,
                rows_quarantined=0,
            )
            .returning(CollectorRun.id)
        )
        return int(result.scalar_one())


def finish_run(engine: Engine, report: RunReport) -> None:
    """Close the run-log entry of `report`: status, rows, quarantined, cursors, error."""
    before = {s.name: s.cursor_before for s in report.streams}
    after = {s.name: s.cursor_after for s in report.streams}
    with engine.begin() as conn:
        conn.execute(
            update(CollectorRun)
            .where(CollectorRun.id == report.run_id)
            .values(
                finished_at=datetime.now(UTC),
                status=report.status,
                rows_in=report.rows_written,
                rows_quarantined=report.quarantined,
                cursor_before=before,
                cursor_after=after,
                error=report.error,
            )
        )

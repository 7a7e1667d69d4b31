"""Integration log files: rotation- and truncation-safe tailing, nothing lost or doubled, and
malformed lines quarantined with their line number."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from collectors.logfiles import FieldMap, LogSource, collector, log_sources
from collectors.registry import build_collector
from collectors.runner import RunReport, run_collector
from foundation.settings import Settings
from metrics.facts import refresh_pending, write_and_refresh
from store.canonical import SyncStatus
from store.tables import CollectorState, Quarantine

FIELDS = FieldMap(
    columns={
        "integration": "app",
        "flow": "flow",
        "status": "outcome",
        "started_at": "ts",
        "error_message": "error.message",
        "trace_key": "correlationId",
        "attempt": "attempt",
        "retry_of": "retryOf",
    },
)


@pytest.fixture
def store(sqlite_engine: Engine) -> Engine:
    from store.migrate import upgrade

    upgrade(sqlite_engine)
    return sqlite_engine


def line(n: int, **extra: Any) -> str:
    """One JSON log line for attempt `n` (unique content, so a unique id)."""
    record = {
        "ts": f"2026-03-05T10:{n // 60:02d}:{n % 60:02d}Z",
        "app": "mulesoft",
        "flow": "opportunity-to-project",
        "outcome": "SUCCESS" if n % 3 else "FAILED",
        "correlationId": f"corr-{n}",
        "seq": n,
        **extra,
    }
    if record["outcome"] == "FAILED":
        record["error"] = {"message": f"Customer 'C-{n:04d}' has no tax id"}
    return json.dumps(record) + "\n"


def append(path: Path, *numbers: int) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write("".join(line(n) for n in numbers))


def stored_sequence(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(r[0] for r in conn.execute(text("SELECT trace_key FROM sync_attempts")))


def expected(*ranges: range) -> list[str]:
    return sorted(f"corr-{n}" for r in ranges for n in r)


def tail(engine: Engine, path: Path, page_lines: int = 500, **kw: Any) -> RunReport:
    source = LogSource("mule", str(path), "jsonl", FIELDS, **kw)
    c = collector("logs", [source])
    object.__setattr__(c.streams[0], "page_lines", page_lines)
    return run_collector(engine, c, refresh=refresh_pending)


def cursor(engine: Engine) -> dict[str, Any]:
    with Session(engine) as s:
        return s.scalars(select(CollectorState.cursor)).one()


def test_lines_appended_between_runs_are_read_once(store: Engine, tmp_path: Path) -> None:
    path = tmp_path / "sync.log"
    append(path, *range(0, 5))
    assert tail(store, path).rows_written == 5
    append(path, *range(5, 9))
    report = tail(store, path)
    assert report.records_read == 4 and report.rows_written == 4
    assert tail(store, path).records_read == 0
    assert stored_sequence(store) == expected(range(0, 9))
    assert cursor(store)["offset"] == path.stat().st_size and cursor(store)["line"] == 9


def test_a_partial_last_line_waits_for_its_newline(store: Engine, tmp_path: Path) -> None:
    path = tmp_path / "sync.log"
    append(path, 0, 1)
    half = line(2)
    with path.open("a", encoding="utf-8") as f:
        f.write(half[:20])  # the writer is in the middle of line 3
    assert tail(store, path).records_read == 2
    offset = cursor(store)["offset"]
    with path.open("a", encoding="utf-8") as f:
        f.write(half[20:])
    assert tail(store, path).records_read == 1
    assert cursor(store)["offset"] == offset + len(half.encode())
    assert stored_sequence(store) == expected(range(0, 3))


def test_rotation_finishes_the_old_file_then_reads_the_new_one(
    store: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "sync.log"
    append(path, *range(0, 40))
    tail(store, path)
    append(path, *range(40, 50))  # written after the last run, before rotation
    os.rename(path, tmp_path / "sync.log.1")
    append(path, *range(50, 60))  # the new file
    report = tail(store, path)
    assert report.status == "success"
    assert report.records_read == 20 and report.rows_written == 20
    assert stored_sequence(store) == expected(range(0, 60))
    assert tail(store, path).records_read == 0  # nothing doubled on the next run
    append(path, 60)
    assert tail(store, path).records_read == 1


def test_a_crash_while_finishing_a_rotated_file_resumes_where_it_stopped(
    store: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "sync.log"
    append(path, *range(0, 5))
    tail(store, path)
    append(path, *range(5, 25))
    os.rename(path, tmp_path / "sync.log.1")
    append(path, *range(25, 30))
    source = LogSource("mule", str(path), "jsonl", FIELDS)
    c = collector("logs", [source])
    object.__setattr__(c.streams[0], "page_lines", 4)
    pages = c.streams[0].fetch_pages(None, _window(), cursor(store))  # type: ignore[arg-type]
    first_page, first_cursor = next(pages)  # one page of the old file, then the process dies
    assert len(first_page) == 4 and first_cursor is not None
    from store.write import CursorUpdate

    write_and_refresh(
        store, _mapped(c.streams[0], first_page), CursorUpdate("logs", "mule", first_cursor)
    )
    report = tail(store, path, page_lines=4)
    assert report.records_read == 16 + 5
    assert stored_sequence(store) == expected(range(0, 30))


def test_copytruncate_rotation_loses_and_doubles_nothing(store: Engine, tmp_path: Path) -> None:
    path = tmp_path / "sync.log"
    append(path, *range(0, 30))
    tail(store, path)
    append(path, *range(30, 35))
    (tmp_path / "sync.log.1").write_bytes(path.read_bytes())  # logrotate copytruncate
    path.write_text("", encoding="utf-8")
    append(path, *range(35, 38))
    report = tail(store, path)
    assert report.records_read == 5 + 3
    assert stored_sequence(store) == expected(range(0, 38))


def test_truncation_in_place_starts_over_without_doubling(store: Engine, tmp_path: Path) -> None:
    path = tmp_path / "sync.log"
    append(path, *range(0, 40))
    tail(store, path)
    first_kib = path.read_bytes()[:1024]
    path.write_bytes(first_kib[: first_kib.rindex(b"\n") + 1])  # same start, shorter than offset
    append(path, 100, 101)
    report = tail(store, path)
    assert report.status == "success"
    assert report.rows_written == 2  # the re-read lines are already stored
    assert stored_sequence(store) == expected(range(0, 40), range(100, 102))
    assert cursor(store)["offset"] == path.stat().st_size


def test_a_rotated_file_that_is_gone_is_reported_and_the_new_file_read(
    store: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "sync.log"
    append(path, *range(0, 30))
    tail(store, path)
    path.unlink()
    append(path, *range(30, 33))
    report = tail(store, path)
    assert report.records_read == 3
    assert "lines written to it after the last run are lost" in caplog.text


def test_malformed_lines_are_quarantined_with_their_line_number(
    store: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "sync.log"
    append(path, 0)
    with path.open("a", encoding="utf-8") as f:
        f.write('{"ts": "2026-03-05T10:00:01Z", "app": "mulesoft", oops\n')
        f.write("[1, 2]\n")
        f.write(json.dumps({"ts": "2026-03-05T10:00:03Z", "app": "m", "outcome": "SUCCESS"}) + "\n")
        f.write(json.dumps({"ts": "yesterday", "app": "m", "flow": "f", "outcome": "OK"}) + "\n")
    append(path, 6)
    report = tail(store, path)
    assert report.status == "success" and report.quarantined == 4 and report.rows_written > 0
    with Session(store) as s:
        reasons = sorted(q.reason for q in s.scalars(select(Quarantine)))
    assert reasons[0].startswith("line 2 of sync.log: not valid JSON (")
    assert reasons[1:] == [
        "line 3 of sync.log: not a JSON object",
        "line 4 of sync.log: flow (flow) is missing",
        "line 5 of sync.log: ts is not a valid timestamp: 'yesterday'",
    ]
    assert stored_sequence(store) == expected(range(0, 1), range(6, 7))
    assert tail(store, path).quarantined == 0  # a second run does not quarantine them again


def test_csv_exports_are_read_with_their_header_and_a_status_mapping(
    store: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "boomi.csv"
    path.write_text(
        "Execution ID,Process,Status,Start Time,Error,Document Key,Retry Of,Attempt\n"
        "ex-1,Sync invoices,ERROR,2026-03-05 10:00:00,Timeout calling ERP,INV-1001,,1\n"
        "ex-2,Sync invoices,COMPLETE,2026-03-05 10:10:00,,INV-1001,ex-1,2\n"
        "ex-3,Sync invoices,COMPLETE,2026-03-05 10:11:00,,INV-1002\n",
        encoding="utf-8",
    )
    options = {
        "files": [
            {
                "name": "boomi",
                "path": str(path),
                "format": "csv",
                "timezone": "Europe/Berlin",
                "fields": {
                    "flow": "Process",
                    "status": "Status",
                    "started_at": "Start Time",
                    "error_message": "Error",
                    "trace_key": "Document Key",
                    "record_id": "Execution ID",
                    "retry_of": "Retry Of",
                    "attempt": "Attempt",
                },
                "defaults": {"integration": "boomi"},
                "status_values": {"COMPLETE": "success", "ERROR": "failed"},
            }
        ]
    }
    c = build_collector(
        "logfiles", Settings(database_url="sqlite://"), options={"logfiles": options}
    )
    report = run_collector(store, c, refresh=refresh_pending)
    assert report.quarantined == 1  # ex-3 has 6 fields, the header 8
    with store.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT source_key, integration, status, attempt_number, error_class, started_at"
                " FROM sync_attempts ORDER BY source_key"
            )
        ).all()
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows] == [
        ("ex-1", "boomi", "failed", 1, "timeout"),
        ("ex-2", "boomi", "success", 2, None),
    ]
    assert str(rows[0][5]).startswith("2026-03-05 09:00:00")  # Berlin (UTC+1) → UTC
    with path.open("a", encoding="utf-8") as f:
        f.write("ex-4,Sync invoices,COMPLETE,2026-03-05 10:20:00,,INV-1003,,1\n")
    assert (
        run_collector(store, c, refresh=refresh_pending).rows_written == 1
    )  # resumes after the header and old lines


def test_a_field_mapping_must_name_the_required_fields() -> None:
    with pytest.raises(ValueError, match="needs flow, status"):
        FieldMap(columns={"integration": "app", "started_at": "ts"})
    with pytest.raises(ValueError, match="fields: colour is not a log field"):
        FieldMap(
            columns={
                "integration": "a",
                "flow": "b",
                "status": "c",
                "started_at": "d",
                "colour": "e",
            }
        )
    with pytest.raises(ValueError, match=r"logfiles\.files\[0\]\.colour is not an option"):
        log_sources(
            {
                "files": [
                    {
                        "name": "x",
                        "path": "/x",
                        "format": "jsonl",
                        "fields": {},
                        "defaults": {
                            "integration": "a",
                            "flow": "b",
                            "status": "ok",
                            "started_at": "2026-01-01T00:00:00Z",
                        },
                        "colour": "red",
                    }
                ]
            }
        )
    assert FIELDS.status({"outcome": "Succeeded"}) is SyncStatus.SUCCESS


def _window() -> Any:
    from datetime import UTC, datetime

    from collectors.base import FetchWindow

    return FetchWindow(None, datetime.now(UTC))


def _mapped(stream: Any, page: list[dict[str, Any]]) -> Any:
    from store.canonical import Batch

    batch = Batch()
    for record in page:
        batch.extend(stream.map(record))
    return batch


def test_a_trace_key_inside_a_list_joins_a_later_run_for_the_same_record(
    store: Engine, tmp_path: Path
) -> None:
    """The business record is the first item of the payload's list: a fresh run for it (not a
    retry) resolves its earlier failure."""
    path = tmp_path / "sync.jsonl"
    rows = [
        {
            "ts": "2026-03-05T10:00:00Z",
            "outcome": "FAILED",
            "id": "e-1",
            "payload": {"records": [{"id": "C-1001"}, {"id": "C-1002"}]},
            "error": {"message": "email 'bob@@example' is not valid"},
        },
        {
            "ts": "2026-03-05T10:30:00Z",
            "outcome": "SUCCESS",
            "id": "e-2",
            "payload": {"records": [{"id": "C-1002"}]},
        },
        {
            "ts": "2026-03-05T12:00:00Z",
            "outcome": "SUCCESS",
            "id": "e-3",
            "payload": {"records": [{"id": "C-1001"}]},
        },
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    options = {
        "files": [
            {
                "name": "mule",
                "path": str(path),
                "format": "jsonl",
                "defaults": {"integration": "mulesoft", "flow": "customers"},
                "fields": {
                    "status": "outcome",
                    "started_at": "ts",
                    "record_id": "id",
                    "trace_key": "payload.records[0].id",
                    "error_message": "error.message",
                },
            }
        ]
    }
    (source,) = log_sources(options)
    assert (
        run_collector(store, collector("logs", [source]), refresh=refresh_pending).status
        == "success"
    )
    with store.connect() as conn:
        keys = dict(conn.execute(text("SELECT source_key, trace_key FROM sync_attempts")).all())
        trace = conn.execute(
            text(
                "SELECT failures, resolved_at, latest_status FROM sync_traces"
                " WHERE trace_key = 'C-1001'"
            )
        ).one()
    assert keys == {"e-1": "C-1001", "e-2": "C-1002", "e-3": "C-1001"}
    assert (trace[0], str(trace[1])[:16], trace[2]) == (1, "2026-03-05 12:00", "success")

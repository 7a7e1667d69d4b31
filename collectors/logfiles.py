"""Integration log files (JSON lines or CSV from MuleSoft, Boomi, Workato) → sync attempts.

Each configured file is one stream, tailed with a rotation-safe cursor (after Filebeat and
Vector's checksum fingerprints): ``{"path", "fingerprint", "fp_bytes", "offset", "line",
"since"}`` where the fingerprint is the SHA-256 of the file's first ``fp_bytes`` (≤ 1 KiB) and the
offset is just past the last complete line stored. A run:

* reads the file at ``path`` from the saved offset when its first ``fp_bytes`` still hash to the
  fingerprint; if it is now shorter than the offset it was truncated in place, and is read again
  from the start (deterministic ids mean nothing is stored twice);
* otherwise the file was rotated (or replaced), maybe several times since the last run: the
  file it was reading is looked for by its fingerprint among the rotated generations (see
  `collectors.log_generations`: ``{path}.1``, ``{path}.2``, … and gzip'd ``.gz`` ones, plus the
  configured glob patterns) and finished from the saved offset; then every newer generation is
  read, oldest first, and the live file last — each exactly once, each page saving the cursor
  (a crash resumes mid-generation). If that file is gone, what was written to it after the last
  run is lost: the run fails with `DataLost` naming it, after storing everything else.

Only complete (newline-terminated) lines are consumed, except at the end of a rotated file, which
is complete by definition; one record per line (CSV fields with embedded newlines are not
supported). A line that is not valid JSON or CSV, or lacks a mapped field, is quarantined with its
line number. Which column or JSON member (dotted path) carries the integration, flow, status,
start time, error, trace key, record id, attempt and retried attempt is declared per file; a
record without a record id is keyed by the hash of its line, so re-reading a line never adds a
row twice.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from io import BufferedReader
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from collectors import log_generations
from collectors.base import Cursor, FetchWindow, Record, parse_timestamp
from collectors.errors import DataLost, MappingError, SchemaDrift
from collectors.mapping import nested
from store.canonical import Batch, ObjectType, SyncAttemptRow, SyncStatus
from store.signatures import classify, signature

log = logging.getLogger("throughline.collectors")

FINGERPRINT_BYTES = 1024
PAGE_LINES = 500
CHUNK = 1 << 16
DEFAULT_STATUS: dict[str, SyncStatus] = {
    **dict.fromkeys(
        ("success", "succeeded", "ok", "completed", "complete", "done"), SyncStatus.SUCCESS
    ),
    **dict.fromkeys(
        ("error", "failed", "failure", "fail", "errored", "aborted"), SyncStatus.FAILED
    ),
    **dict.fromkeys(
        ("running", "in_progress", "started", "pending", "retrying"), SyncStatus.RUNNING
    ),
}
REQUIRED_FIELDS = ("integration", "flow", "status", "started_at")
CANONICAL_FIELDS = (
    "integration",
    "flow",
    "status",
    "started_at",
    "error_message",
    "trace_key",
    "record_id",
    "attempt",
    "retry_of",
    "duration_ms",
    "direction",
    "error_code",
    "http_status",
    "object_key",
)


@dataclass(frozen=True)
class FieldMap:
    """Canonical field → the CSV column or JSON member (dotted path) that carries it.

    ``integration``, ``flow``, ``status`` and ``started_at`` are required, either as a column or
    as a constant in ``defaults``. ``status_values`` maps the log's status words (any case) to
    success/failed/running, over common defaults. ``timezone`` is the zone of timestamps written
    without an offset (refused when it is not set).
    """

    columns: Mapping[str, str]
    defaults: Mapping[str, str] = field(default_factory=dict)
    status_values: Mapping[str, SyncStatus] = field(default_factory=dict)
    timezone: str | None = None
    object_system: str | None = None
    object_type: ObjectType | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.columns) - set(CANONICAL_FIELDS))
        if unknown:
            raise ValueError(
                f"fields: {', '.join(unknown)} is not a log field; known: "
                f"{', '.join(CANONICAL_FIELDS)}"
            )
        missing = [f for f in REQUIRED_FIELDS if f not in self.columns and f not in self.defaults]
        if missing:
            raise ValueError(
                f"fields: the mapping needs {', '.join(missing)} (a column, or a constant in"
                " defaults)"
            )
        if self.timezone is not None:
            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    f"timezone: {self.timezone!r:.60} is not an IANA time zone name"
                ) from None

    def value(self, fields: Mapping[str, Any], name: str) -> str | None:
        column = self.columns.get(name)
        raw = nested(dict(fields), column) if column else None
        if raw is None or raw == "":
            return self.defaults.get(name)
        if isinstance(raw, dict | list):
            raise MappingError(f"{column} should be a single value, got {type(raw).__name__}")
        return str(raw)

    def required(self, fields: Mapping[str, Any], name: str) -> str:
        found = self.value(fields, name)
        if found is None:
            raise MappingError(f"{self.columns.get(name, name)} ({name}) is missing")
        return found

    def timestamp(self, fields: Mapping[str, Any]) -> datetime:
        value = self.required(fields, "started_at")
        column = self.columns.get("started_at", "started_at")
        try:
            return parse_timestamp(value, column)
        except MappingError:
            if self.timezone is None:
                raise
            try:
                naive = datetime.fromisoformat(value.strip())
            except ValueError as exc:
                raise MappingError(f"{column} is not a valid timestamp: {value!r:.80}") from exc
            if naive.tzinfo is not None:
                raise
            return naive.replace(tzinfo=ZoneInfo(self.timezone))

    def status(self, fields: Mapping[str, Any]) -> SyncStatus:
        word = self.required(fields, "status")
        known = {**DEFAULT_STATUS, **{k.lower(): v for k, v in self.status_values.items()}}
        found = known.get(word.strip().lower())
        if found is None:
            raise MappingError(f"status {word!r:.40} is not one of {sorted(known)}")
        return found


def _whole(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value)) if "." in value else int(value)
    except (ValueError, OverflowError) as exc:
        raise MappingError(f"{name} is not a whole number: {value!r:.40}") from exc


def map_line(fields: Mapping[str, Any], m: FieldMap, system: str, key: str) -> Batch:
    """One parsed log record → one sync attempt."""
    status = m.status(fields)
    message = m.value(fields, "error_message")
    failed = status is SyncStatus.FAILED
    http = _whole(m.value(fields, "http_status"), "http_status")
    object_key = m.value(fields, "object_key")
    has_object = bool(object_key and m.object_system and m.object_type)
    return Batch(
        sync_attempts=[
            SyncAttemptRow(
                source_system=system,
                source_key=m.value(fields, "record_id") or key,
                integration=m.required(fields, "integration"),
                flow=m.required(fields, "flow"),
                status=status,
                started_at=m.timestamp(fields),
                direction=m.value(fields, "direction"),
                attempt_number=_whole(m.value(fields, "attempt"), "attempt") or 1,
                retry_of_key=m.value(fields, "retry_of"),
                error_class=classify(m.value(fields, "error_code"), http, message)
                if failed
                else None,
                error_message=message,
                error_signature=signature(message),
                trace_key=m.value(fields, "trace_key"),
                duration_ms=_whole(m.value(fields, "duration_ms"), "duration_ms"),
                object_system=m.object_system if has_object else None,
                object_type=m.object_type if has_object else None,
                object_key=object_key if has_object else None,
            )
        ]
    )


@dataclass(frozen=True)
class LogSource:
    """One log file: where it is, its format, where its rotated copies go, its field mapping."""

    name: str
    path: str
    format: Literal["jsonl", "csv"]
    fields: FieldMap
    rotated: tuple[str, ...] = ()  # glob patterns of rotated copies besides {path}.1, {path}.2…
    system: str | None = None  # source system of its sync attempts (default: the name)
    delimiter: str = ","

    def generations(self) -> list[Path]:
        """The file's rotated copies, oldest first (`collectors.log_generations`)."""
        return log_generations.generations(self.path, self.rotated)


@dataclass(frozen=True)
class Fingerprint:
    digest: str
    size: int


def fingerprint(handle: BufferedReader, size: int | None = None) -> Fingerprint:
    """SHA-256 of the first ``size`` bytes (default: up to 1 KiB) of an open file.

    The file position is left where it was."""
    position = handle.tell()
    handle.seek(0)
    head = handle.read(FINGERPRINT_BYTES if size is None else size)
    handle.seek(position)
    return Fingerprint(hashlib.sha256(head).hexdigest(), len(head))


def _fingerprinted(saved: Cursor) -> bool:
    """Whether the saved cursor identifies its file (an empty file's fingerprint matches any)."""
    return int(saved.get("fp_bytes", 0)) > 0


def _identity(handle: BufferedReader, where: Path, lines: int) -> dict[str, Any]:
    """The read file's first-line hash and modification time (the ``.gz``'s when gzip'd)."""
    first = _first_line(handle, lines)
    try:
        found = where.stat() if where.suffix == ".gz" else os.fstat(handle.fileno())
    except OSError:
        return {"first_line": first, "mtime_ns": 0}
    return {"first_line": first, "mtime_ns": found.st_mtime_ns}


def _first_line(handle: BufferedReader, lines: int) -> str:
    """SHA-256 (32 hex digits) of the file's first ``lines`` lines (2 for CSV: the header and
    the first record), each read up to 1 KiB."""
    position = handle.tell()
    handle.seek(0)
    head = b"".join(handle.readline(FINGERPRINT_BYTES) for _ in range(lines))
    handle.seek(position)
    return hashlib.sha256(head).hexdigest()[:32]


def _same_file(handle: BufferedReader, saved: Cursor) -> bool:
    size = int(saved.get("fp_bytes", 0))
    found = fingerprint(handle, size)
    return found.size == size and found.digest == saved.get("fingerprint")


@dataclass(frozen=True)
class LogStream:
    """One tailed log file; a `StatefulStream` (see `collectors.base`)."""

    source: LogSource
    page_lines: int = PAGE_LINES
    primary_key: str = "id"
    cursor_field: str = "started_at"
    sorted_by_cursor: bool = True
    lookback: timedelta = timedelta(0)

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def system(self) -> str:
        return self.source.system or self.source.name

    @property
    def _head_lines(self) -> int:
        """How many first lines tell this file from another (CSV: the header and a record)."""
        return 2 if self.source.format == "csv" else 1

    def fetch(self, client: httpx.Client, window: FetchWindow) -> Iterator[list[Record]]:
        for page, _ in self.fetch_pages(client, window, None):
            yield page

    def fetch_pages(
        self, client: httpx.Client, window: FetchWindow, saved: Cursor | None
    ) -> Iterator[tuple[list[Record], Cursor | None]]:
        path = Path(self.source.path)
        current = _open(path)
        since = saved.get("since") if saved else None
        try:
            if saved is None or saved.get("path") != self.source.path or window.since is not None:
                if current is not None:  # first run, or a backfill: the file from its start
                    yield from self._read(current, path, 0, 0, window, since, guard=saved)
                return
            if current is not None and _fingerprinted(saved) and _same_file(current, saved):
                offset, line = int(saved["offset"]), int(saved.get("line", 0))
                if current.seek(0, 2) >= offset:
                    yield from self._read(current, path, offset, line, window, since, guard=saved)
                else:
                    log.warning("%s was truncated; reading it again from the start", path)
                    yield from self._read(current, path, 0, 0, window, since, guard=None)
                return
            since, lost = yield from self._catch_up(saved, window, since)
            if current is not None:
                yield from self._read(current, path, 0, 0, window, since, guard=None)
            if lost:
                raise DataLost("; ".join(lost))
        finally:
            if current is not None:
                current.close()

    def _catch_up(
        self, saved: Cursor, window: FetchWindow, since: Any
    ) -> Generator[tuple[list[Record], Cursor | None], None, tuple[Any, list[str]]]:
        """After rotation: finish the generation the saved cursor is in, then read each newer one,
        oldest first. Returns the newest start time seen and what could not be read."""
        found = self.source.generations()
        at = log_generations.tracked(found, saved)
        lost: list[str] = []
        if at is None:  # gone: every generation written since the cursor was saved is newer
            if _fingerprinted(saved) and not self._truncated_in_place(saved):
                lost.append(self._gone(saved))
            floor = int(saved.get("mtime_ns", 0))
            newer = [g for g in found if log_generations.modified_ns(g) >= floor]
        else:
            newer = found[at + 1 :]
            start = (found[at], int(saved["offset"]), int(saved.get("line", 0)))
            since = yield from self._read_generation(*start, window, since, saved, lost)
        for generation in newer:
            since = yield from self._read_generation(generation, 0, 0, window, since, None, lost)
        return since, lost

    def _read_generation(
        self,
        where: Path,
        offset: int,
        line: int,
        window: FetchWindow,
        since: Any,
        guard: Cursor | None,
        lost: list[str],
    ) -> Generator[tuple[list[Record], Cursor | None], None, Any]:
        """`_read` over one rotated generation (complete, so its last line counts)."""
        handle = log_generations.open_generation(where)
        if handle is None:
            which = f"its lines after line {line}" if line else "its lines"
            lost.append(f"{where} could not be read: {which} are lost")
            log.warning("%s: %s", self.name, lost[-1])
            return since
        with handle:
            return (
                yield from self._read(
                    handle, where, offset, line, window, since, guard=guard, final=True
                )
            )

    def _patterns(self) -> list[str]:
        """Where rotated generations are looked for, as glob patterns."""
        patterns = (log_generations.NUMBERED, *self.source.rotated)
        return [p.format(path=self.source.path) for p in patterns]

    def _truncated_in_place(self, saved: Cursor) -> bool:
        """The live file starts with the saved file's first line but no longer matches its
        fingerprint (it is now shorter than that): truncated in place, read from the start."""
        live = _open(Path(self.source.path))
        if live is None:
            return False
        with live:
            first = _first_line(live, self._head_lines)
        same = saved.get("first_line") is not None and first == saved["first_line"]
        if same:
            log.warning(
                "%s was truncated in place; reading it again from the start", self.source.path
            )
        return same

    def _gone(self, saved: Cursor) -> str:
        """The run-log sentence for a generation deleted before it was finished (logged too)."""
        where = Path(self.source.path)
        message = (
            f"the file read as {where.name} up to line {saved.get('line', 0)} (byte"
            f" {saved.get('offset', 0)}; first {saved.get('fp_bytes')} bytes SHA-256"
            f" {str(saved.get('fingerprint'))[:12]}…) was rotated and is no longer among"
            f" {', '.join(self._patterns())}: lines written to it after the last run are lost"
        )
        log.warning("%s: %s", self.name, message)
        return message

    def _read(
        self,
        handle: BufferedReader,
        where: Path,
        offset: int,
        line: int,
        window: FetchWindow,
        since: Any,
        *,
        guard: Cursor | None,
        final: bool = False,
    ) -> Generator[tuple[list[Record], Cursor | None], None, Any]:
        """Pages of records from ``offset`` (just after line ``line``) to the last complete line.

        Each page comes with the cursor just past it, or None while that is behind ``guard``
        (the saved cursor of a file being read again). Returns the newest start time seen."""
        header: list[str] | None = None
        identity = _identity(handle, where, self._head_lines)
        if self.source.format == "csv":
            found = self._header(handle)
            if found is None:
                return since  # the header line is not complete yet
            header, header_end = found
            if offset == 0:
                offset, line = header_end, 1
        handle.seek(offset)
        page: list[Record] = []
        pending = b""
        while chunk := handle.read(CHUNK):
            *lines, pending = (pending + chunk).split(b"\n")
            for raw in lines:
                offset += len(raw) + 1
                line += 1
                since = self._add(page, raw, line, where, header, since, window)
                if len(page) >= self.page_lines:
                    yield page, self._cursor(handle, offset, line, since, guard, identity)
                    page = []
        if final and pending.strip():  # a rotated file is complete: its last line counts
            offset += len(pending)
            line += 1
            since = self._add(page, pending, line, where, header, since, window)
        cursor = self._cursor(handle, offset, line, since, guard, identity)
        if page or (cursor is not None and cursor != guard):
            yield page, cursor
        return since

    def _add(
        self,
        page: list[Record],
        raw: bytes,
        line: int,
        where: Path,
        header: list[str] | None,
        since: Any,
        window: FetchWindow,
    ) -> Any:
        record = self._record(raw, line, where, header)
        if record is None:
            return since
        page.append(record)
        return self._since(record, since, window)

    def _cursor(
        self,
        handle: BufferedReader,
        offset: int,
        line: int,
        since: Any,
        guard: Cursor | None,
        identity: Mapping[str, Any],
    ) -> Cursor | None:
        """The cursor just past ``offset``, with the hash of the file's ``first_line`` (the same
        first line, other content: truncated in place) and its ``mtime_ns`` when read
        (generations modified since are newer, should this file be deleted before it is
        finished)."""
        here = fingerprint(handle)
        cursor: Cursor = {
            "path": self.source.path,
            "fingerprint": here.digest,
            "fp_bytes": here.size,
            "offset": offset,
            "line": line,
            "since": since,
            **identity,
        }
        if guard is not None and _is_behind(cursor, guard, handle):
            return None  # re-reading what is already stored: keep the saved cursor
        return cursor

    def _header(self, handle: BufferedReader) -> tuple[list[str], int] | None:
        """The CSV header and where it ends; None until its line is complete."""
        handle.seek(0)
        first = handle.readline()
        if not first.endswith(b"\n"):
            return None
        text = first.decode("utf-8-sig", errors="replace").rstrip("\r\n")
        header = next(csv.reader([text], delimiter=self.source.delimiter))
        name = Path(self.source.path).name
        twice = sorted({column for column in header if header.count(column) > 1})
        if twice:
            raise SchemaDrift(
                f"the CSV header of {name} names {', '.join(twice)} twice: which column is meant"
                " is unclear; fix the export"
            )
        m = self.source.fields
        lacking = [
            f"{m.columns[f]} ({f})"
            for f in REQUIRED_FIELDS
            if f in m.columns and m.columns[f] not in header and f not in m.defaults
        ]
        if lacking:
            raise SchemaDrift(
                f"the CSV header of {name} lacks {', '.join(lacking)}: every line would be"
                " refused; fix the export or the field mapping"
            )
        return header, len(first)

    def _record(
        self, raw: bytes, line: int, where: Path, header: list[str] | None
    ) -> Record | None:
        """The envelope the runner stores or quarantines: id, line number, file, fields."""
        text_line = raw.rstrip(b"\r")
        if not text_line.strip():
            return None
        key = "sha256:" + hashlib.sha256(text_line).hexdigest()[:32]
        envelope: Record = {"id": key, "line": line, "file": where.name}
        try:
            decoded = text_line.decode("utf-8")
        except UnicodeDecodeError:
            return {
                **envelope,
                "text": text_line.decode("utf-8", "replace"),
                "error": "not valid UTF-8",
            }
        envelope["text"] = decoded
        if self.source.format == "jsonl":
            try:
                parsed = json.loads(decoded.removeprefix("\ufeff"))  # a BOM at the file's start
            except json.JSONDecodeError as exc:
                return {**envelope, "error": f"not valid JSON ({exc.msg})"}
            except RecursionError:
                return {**envelope, "error": "not valid JSON (nested too deeply)"}
            if not isinstance(parsed, dict):
                return {**envelope, "error": "not a JSON object"}
            return {**envelope, "fields": parsed}
        if not header:
            return {**envelope, "error": "the CSV file has no header line"}
        try:
            row = next(csv.reader([decoded], delimiter=self.source.delimiter))
        except csv.Error as exc:
            return {**envelope, "error": f"not valid CSV ({exc})"}
        if len(row) != len(header):
            problem = f"has {len(row)} CSV fields, the header has {len(header)}"
            return {**envelope, "error": problem}
        return {**envelope, "fields": dict(zip(header, row, strict=True))}

    def _since(self, record: Record, since: Any, window: FetchWindow) -> Any:
        fields = record.get("fields")
        if not isinstance(fields, dict):
            return since
        try:
            at = min(self.source.fields.timestamp(fields), window.until)
        except MappingError:
            return since
        if since is None or at > datetime.fromisoformat(str(since)):
            return at.isoformat()
        return since

    def locate(self, record: Record) -> str:
        """Where a record is, for quarantine reasons: ``line 7 of sync.log``."""
        return f"line {record.get('line')} of {record.get('file')}"

    def map(self, record: Record) -> Batch:
        if record.get("error"):
            raise MappingError(f"{self.locate(record)}: {record['error']}")
        fields = record.get("fields")
        if not isinstance(fields, dict):
            raise MappingError(f"{self.locate(record)}: no fields")
        try:
            return map_line(fields, self.source.fields, self.system, str(record["id"]))
        except (MappingError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, MappingError) else str(exc)
            raise MappingError(f"{self.locate(record)}: {reason}") from exc


def _is_behind(cursor: Cursor, saved: Cursor, handle: BufferedReader) -> bool:
    """True when ``cursor`` is in the saved file before the saved offset (a backfill)."""
    return _same_file(handle, saved) and int(cursor["offset"]) < int(saved.get("offset", 0))


def _open(path: Path) -> BufferedReader | None:
    try:
        return path.open("rb")
    except (FileNotFoundError, IsADirectoryError):
        return None


class _NoNetwork(httpx.BaseTransport):
    """Log files need no HTTP; the client exists only to keep the `Collector` protocol."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise RuntimeError("the log-file collector makes no HTTP requests")


@dataclass
class LogFileCollector:
    """Tails the configured integration log files (one stream each)."""

    name: str
    streams: Sequence[LogStream]
    source_system: str = "logs"

    def open_client(self) -> httpx.Client:
        return httpx.Client(transport=_NoNetwork())


def collector(name: str, sources: Sequence[LogSource]) -> LogFileCollector:
    """A log-file collector over ``sources``."""
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise ValueError(f"log file names must be unique: {names}")
    return LogFileCollector(name, [LogStream(s) for s in sources])

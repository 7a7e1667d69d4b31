"""One tailed log file as a stateful stream: read from the saved offset, caught up across
rotations, each page with the cursor just past it."""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from io import BufferedReader
from pathlib import Path
from typing import Any

import httpx

from collectors import log_generations
from collectors.base import Cursor, FetchWindow, Record
from collectors.errors import DataLost, MappingError
from collectors.logfiles.fields import CHUNK, PAGE_LINES, log, map_line
from collectors.logfiles.files import (
    LogSource,
    fingerprint,
    fingerprinted,
    first_line_hash,
    identity_of,
    is_behind,
    open_file,
    same_file,
)
from collectors.logfiles.lines import parse_line, read_header
from store.canonical import Batch


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
        current = open_file(path)
        since = saved.get("since") if saved else None
        try:
            if saved is None or saved.get("path") != self.source.path or window.since is not None:
                if current is not None:  # first run, or a backfill: the file from its start
                    yield from self._read(current, path, 0, 0, window, since, guard=saved)
                return
            if current is not None and fingerprinted(saved) and same_file(current, saved):
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
            if fingerprinted(saved) and not self._truncated_in_place(saved):
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
        live = open_file(Path(self.source.path))
        if live is None:
            return False
        with live:
            first = first_line_hash(live, self._head_lines)
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
        identity = identity_of(handle, where, self._head_lines)
        if self.source.format == "csv":
            found = read_header(handle, self.source)
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
        record = parse_line(raw, line, where, header, self.source)
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
        if guard is not None and is_behind(cursor, guard, handle):
            return None  # re-reading what is already stored: keep the saved cursor
        return cursor

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

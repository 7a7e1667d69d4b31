"""What a collector is: a source and its streams — a small Protocol, not a framework.

A stream declares its name, primary key, cursor field, whether the source returns records
sorted by that cursor, and a look-back lag; it fetches pages of raw records and maps one record
to canonical rows. Everything else (cursors, transactions, quarantine, run log, locks) belongs
to `collectors.runner`, the same for every source.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

import httpx

from collectors.errors import MappingError
from collectors.http import DEFAULT_RETRY, DEFAULT_TIMEOUT, RetryPolicy, make_client
from store.canonical import Batch

Record = dict[str, Any]
#: A saved stream cursor: `{"since": iso}` for time-cursor streams, richer for stateful ones.
Cursor = dict[str, Any]


@dataclass(frozen=True, slots=True)
class FetchWindow:
    """What one stream run asks its source for: records with cursor in [since, until]."""

    since: datetime | None
    until: datetime


class Stream(Protocol):
    """One kind of record of one source, read incrementally.

    A stream may also define ``locate(record) -> str`` (a log file's "line 7 of sync.log"):
    the runner puts it before the reason of a record whose rows the store refuses."""

    @property
    def name(self) -> str: ...
    @property
    def primary_key(self) -> str: ...
    @property
    def cursor_field(self) -> str: ...
    @property
    def sorted_by_cursor(self) -> bool: ...
    @property
    def lookback(self) -> timedelta: ...

    def fetch(self, client: httpx.Client, window: FetchWindow) -> Iterator[list[Record]]:
        """Pages of raw records, in the source's order."""
        ...

    def map(self, record: Record) -> Batch:
        """Canonical rows for one record; raises `MappingError` when it cannot be mapped."""
        ...


@runtime_checkable
class StatefulStream(Protocol):
    """A stream whose cursor is more than a time (a high-water id, a file offset).

    It reads its own saved cursor and yields each page together with the cursor that is safe to
    save once that page is stored, or None while it is not (e.g. a newest-first source saves
    only at the end). The runner writes a page's rows and its cursor in one transaction; the
    stream is responsible for never handing back a cursor behind `saved`. `window.since` is set
    only for a backfill (`--since`); a stateful cursor should keep a `"since"` member (the source
    time it has reached) so freshness and lag can be shown for it like for any other.
    """

    def fetch_pages(
        self, client: httpx.Client, window: FetchWindow, saved: Cursor | None
    ) -> Iterator[tuple[list[Record], Cursor | None]]: ...


class Collector(Protocol):
    """A source system and the streams read from it."""

    @property
    def name(self) -> str: ...
    @property
    def source_system(self) -> str: ...
    @property
    def streams(self) -> Sequence[Stream]: ...

    def open_client(self) -> httpx.Client:
        """A configured client (see `collectors.http.make_client`)."""
        ...


def record_key(stream: Stream, record: Record) -> str | None:
    """The record's primary key as text, or None when it has none."""
    value = record.get(stream.primary_key)
    return None if value in (None, "") else str(value)


def record_cursor(stream: Stream, record: Record) -> datetime:
    """The record's cursor value as an aware datetime; `MappingError` when unusable."""
    return parse_timestamp(record.get(stream.cursor_field), stream.cursor_field)


def parse_timestamp(value: Any, field: str) -> datetime:
    """Parse the timestamp shapes sources send (ISO 8601 with `Z`, `+0000` or an offset; an
    aware datetime that a client already decoded, as Tryton's does)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    if not isinstance(value, str) or not value:
        raise MappingError(f"{field} is missing or not a timestamp: {value!r:.80}")
    text = value.strip().replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":  # +0000 → +00:00
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise MappingError(f"{field} is not a valid timestamp: {value!r:.80}") from exc
    if parsed.tzinfo is None:
        raise MappingError(f"{field} has no timezone: {value!r:.80}")
    return parsed.astimezone(UTC)


def optional_timestamp(record: Record, field: str) -> datetime | None:
    """`parse_timestamp` for a field that may be empty."""
    value = record.get(field)
    return None if value in (None, "") else parse_timestamp(value, field)


@dataclass
class HttpCollector:
    """A collector whose streams share one HTTP client to one source."""

    name: str
    source_system: str
    streams: Sequence[Stream]
    base_url: str
    auth: httpx.Auth | None
    transport: httpx.BaseTransport | None = None
    headers: dict[str, str] | None = None
    retry: RetryPolicy = DEFAULT_RETRY
    timeout: httpx.Timeout | float | None = None

    def open_client(self) -> httpx.Client:
        return make_client(
            self.base_url,
            self.auth,
            transport=self.transport,
            headers=self.headers,
            retry=self.retry,
            timeout=DEFAULT_TIMEOUT if self.timeout is None else self.timeout,
        )

"""The one write API collectors use: upsert a batch of canonical rows and move cursors in the
same transaction.

Rows go through the driver's bulk path (SQLite `executemany`, PostgreSQL `COPY` into a staging
table then one `INSERT … SELECT … ON CONFLICT`); SQLAlchemy is used for everything else.
Events, links and event-object relations are immutable (`DO NOTHING`); objects, sync attempts,
FX rates and quarantine are upserted, and an object or attempt is never overwritten by an
older version of itself. The cases the batch touches are queued for the case-fact refresh in the
same transaction; the layer above refreshes them once it commits (`metrics.facts`: after each
batch, or once per collector run or import). Either the whole batch, its cursors and its queued
cases are stored, or nothing is.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, Literal, TypeVar

from sqlalchemy import JSON, Connection, Date, Engine, Numeric, String, select
from sqlalchemy.types import TypeEngine

from store.canonical import (
    Batch,
    EventRow,
    FxRateRow,
    LinkRow,
    ObjectRow,
    QuarantineRow,
    SyncAttemptRow,
)
from store.db import upsert_insert
from store.masking import mask_sensitive, scrub_for_storage
from store.pending import mark_affected
from store.reads import no_cyclic_gc
from store.tables import Base, CollectorState, UTCDateTime

Value = Any
_T = TypeVar("_T")
Row = tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class CursorUpdate:
    """The new cursor of one collector stream, saved with the rows it covers."""

    collector: str
    stream: str
    value: dict[str, Any]


@dataclass(slots=True)
class WriteResult:
    """Rows each table gained or changed (re-delivered identical rows count zero)."""

    objects: int = 0
    events: int = 0
    event_objects: int = 0
    links: int = 0
    sync_attempts: int = 0
    quarantined: int = 0
    fx_rates: int = 0

    @property
    def total(self) -> int:
        """Rows written, quarantine excluded."""
        return (
            self.objects
            + self.events
            + self.event_objects
            + self.links
            + self.sync_attempts
            + self.fx_rates
        )

    def add(self, other: WriteResult) -> None:
        """Accumulate another result into this one."""
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True, slots=True)
class _Table:
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    conflict: Literal["nothing", "update", "count"]
    compare: tuple[str, ...] = ()
    newer_guard: str | None = None
    extra_set: tuple[str, ...] = field(default=())


OBJECTS = _Table(
    "objects",
    (
        "id",
        "type",
        "source_system",
        "source_key",
        "customer",
        "legal_entity",
        "practice",
        "region",
        "owner",
        "currency",
        "amount",
        "attributes",
        "source_updated_at",
        "ingested_at",
    ),
    ("id",),
    "update",
    compare=(
        "customer",
        "legal_entity",
        "practice",
        "region",
        "owner",
        "currency",
        "amount",
        "attributes",
        "source_updated_at",
    ),
    newer_guard="source_updated_at",
)
EVENTS = _Table(
    "events",
    ("id", "activity", "occurred_at", "source_system", "source_key", "attributes", "ingested_at"),
    ("id",),
    "nothing",
)
EVENT_OBJECTS = _Table(
    "event_objects",
    ("event_id", "object_id", "qualifier"),
    ("event_id", "object_id", "qualifier"),
    "nothing",
)
LINKS = _Table(
    "object_links",
    ("from_object_id", "to_object_id", "qualifier", "source_system", "ingested_at"),
    ("from_object_id", "to_object_id", "qualifier"),
    "nothing",
)
SYNC_ATTEMPTS = _Table(
    "sync_attempts",
    (
        "id",
        "source_system",
        "source_key",
        "integration",
        "flow",
        "direction",
        "status",
        "attempt_number",
        "retry_of_id",
        "error_class",
        "error_message",
        "error_signature",
        "trace_key",
        "started_at",
        "duration_ms",
        "object_id",
        "payload",
        "source_updated_at",
        "ingested_at",
    ),
    ("id",),
    "update",
    compare=(
        "status",
        "attempt_number",
        "retry_of_id",
        "error_class",
        "error_message",
        "error_signature",
        "trace_key",
        "started_at",
        "duration_ms",
        "object_id",
        "payload",
        "source_updated_at",
    ),
    newer_guard="source_updated_at",
)
QUARANTINE = _Table(
    "quarantine",
    (
        "id",
        "collector",
        "stream",
        "source_key",
        "reason",
        "raw",
        "first_seen_at",
        "last_seen_at",
        "times_seen",
    ),
    ("id",),
    "count",
)
FX_RATES = _Table(
    "fx_rates",
    ("day", "base", "quote", "rate", "source_system", "ingested_at"),
    ("day", "base", "quote"),
    "update",
    compare=("rate", "source_system"),
)


def write_batch(
    engine: Engine,
    batch: Batch,
    cursors: CursorUpdate | Sequence[CursorUpdate] = (),
    *,
    now: datetime | None = None,
) -> WriteResult:
    """Store `batch` and save `cursors` in one transaction; all of it or none of it. The cases
    it touches are queued for the case-fact refresh, which the layer above runs
    (`metrics.facts.refresh_pending`, or `metrics.facts.write_and_refresh` for one batch)."""
    with engine.begin() as conn:
        return write_batch_in(conn, batch, cursors, now=now)


def write_batch_in(
    conn: Connection,
    batch: Batch,
    cursors: CursorUpdate | Sequence[CursorUpdate] = (),
    *,
    now: datetime | None = None,
) -> WriteResult:
    """`write_batch` inside a transaction the caller owns: the cases it touches are queued,
    not refreshed (`metrics.facts.refresh_pending` does that once the transaction commits)."""
    with no_cyclic_gc():
        return _write(conn, batch, cursors, (now or datetime.now(UTC)).astimezone(UTC))


def _write(
    conn: Connection,
    batch: Batch,
    cursors: CursorUpdate | Sequence[CursorUpdate],
    stamp: datetime,
) -> WriteResult:
    loader = _loader_for(conn)
    events = events_by_id(batch.events)
    result = WriteResult(
        objects=loader.load(OBJECTS, _object_rows(batch.objects, stamp)),
        events=loader.load(EVENTS, _event_rows(events, stamp)),
        event_objects=loader.load(EVENT_OBJECTS, _event_object_rows(events)),
        links=loader.load(LINKS, _link_rows(batch.links, stamp)),
        sync_attempts=loader.load(SYNC_ATTEMPTS, _sync_rows(batch.sync_attempts, stamp)),
        quarantined=loader.load(QUARANTINE, _quarantine_rows(batch.quarantined, stamp)),
        fx_rates=loader.load(FX_RATES, _fx_rows(batch.fx_rates, stamp)),
    )
    mark_affected(conn, _changed(batch, result))  # queued in the same transaction
    for cursor in [cursors] if isinstance(cursors, CursorUpdate) else cursors:
        save_cursor(conn, cursor, now=stamp)
    return result


def _changed(batch: Batch, result: WriteResult) -> Batch:
    """The parts of `batch` that changed the store: a re-delivered page queues no case."""
    return Batch(
        objects=batch.objects if result.objects else [],
        events=batch.events if result.events or result.event_objects else [],
        links=batch.links if result.links else [],
        sync_attempts=batch.sync_attempts if result.sync_attempts else [],
    )


def save_cursor(conn: Connection, cursor: CursorUpdate, *, now: datetime | None = None) -> None:
    """Upsert one stream's cursor in the caller's transaction."""
    values = {
        "collector": cursor.collector,
        "stream": cursor.stream,
        "cursor": cursor.value,
        "updated_at": (now or datetime.now(UTC)),
    }
    insert = upsert_insert(conn)
    stmt = insert(CollectorState).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["collector", "stream"],
        set_={"cursor": stmt.excluded.cursor, "updated_at": stmt.excluded.updated_at},
    )
    conn.execute(stmt)


def read_cursor(conn: Connection | Engine, collector: str, stream: str) -> dict[str, Any] | None:
    """The saved cursor of one stream, or None before its first run."""
    query = select(CollectorState.cursor).where(
        CollectorState.collector == collector, CollectorState.stream == stream
    )
    if isinstance(conn, Engine):
        with conn.connect() as c:
            return c.execute(query).scalar_one_or_none()
    return conn.execute(query).scalar_one_or_none()


# --- row building (dedupe within a batch, keep the newest version) -------------------------


def _newest(rows: Iterable[_T], key: Any, version: Any) -> list[_T]:
    best: dict[Any, _T] = {}
    for row in rows:
        k = key(row)
        old = best.get(k)
        if old is None or (version(row) or _EPOCH) >= (version(old) or _EPOCH):
            best[k] = row
    return list(best.values())


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _object_rows(objects: list[ObjectRow], now: datetime) -> list[Row]:
    return [
        (
            o.id,
            o.type,
            o.source_system,
            o.source_key,
            o.customer,
            o.legal_entity,
            o.practice,
            o.region,
            o.owner,
            o.currency,
            o.amount,
            o.attributes or None,
            o.source_updated_at,
            now,
        )
        for o in _newest(objects, lambda o: o.id, lambda o: o.source_updated_at)
    ]


def _event_rows(events: dict[int, EventRow], now: datetime) -> list[Row]:
    return [
        (eid, e.activity, e.occurred_at, e.source_system, e.source_key, e.attributes or None, now)
        for eid, e in events.items()
    ]


def _event_object_rows(events: dict[int, EventRow]) -> list[Row]:
    return sorted({(eid, o.object_id, o.qualifier) for eid, e in events.items() for o in e.objects})


def events_by_id(events: list[EventRow]) -> dict[int, EventRow]:
    """Events keyed by their deterministic id, the first of duplicates kept."""
    by_id: dict[int, EventRow] = {}
    for e in events:
        by_id.setdefault(e.id, e)
    return by_id


def _link_rows(links: list[LinkRow], now: datetime) -> list[Row]:
    unique = {(lk.from_id, lk.to_id, lk.qualifier): lk for lk in links}
    return [(*k, lk.source_system, now) for k, lk in unique.items()]


def _sync_rows(attempts: list[SyncAttemptRow], now: datetime) -> list[Row]:
    return [
        (
            a.id,
            a.source_system,
            a.source_key,
            a.integration,
            a.flow,
            a.direction,
            a.status,
            a.attempt_number,
            a.retry_of_id,
            a.error_class,
            _scrubbed(a.error_message),
            _scrubbed(a.error_signature),
            a.trace_key,
            a.started_at,
            a.duration_ms,
            a.object_id,
            mask_sensitive(a.payload) if a.payload is not None else None,
            a.source_updated_at,
            now,
        )
        for a in _newest(attempts, lambda a: a.id, lambda a: a.source_updated_at)
    ]


def _quarantine_rows(rows: list[QuarantineRow], now: datetime) -> list[Row]:
    unique = {q.id: q for q in rows}
    return [
        (
            q.id,
            q.collector,
            q.stream,
            None if q.source_key is None else _storable(q.source_key)[:200],
            _storable(scrub_for_storage(q.reason)),
            _raw_text(q.raw),
            now,
            now,
            1,
        )
        for q in unique.values()
    ]


def _fx_rows(rates: list[FxRateRow], now: datetime) -> list[Row]:
    unique = {(r.day, r.base, r.quote): r for r in rates}
    return [(*k, r.rate, r.source_system, now) for k, r in unique.items()]


def _scrubbed(text: str | None) -> str | None:
    """An error message without card numbers, tokens and secrets (the rest is masked at
    display, per role)."""
    return None if text is None else scrub_for_storage(text)


def _raw_text(raw: dict[str, Any] | str) -> str:
    masked = mask_sensitive(raw)
    if isinstance(masked, str):
        return _storable(masked)
    return json.dumps(masked, default=str, sort_keys=True)  # ASCII: \u escapes for the rest


def _storable(text: str) -> str:
    """Quarantined text as any database keeps it: NUL and lone surrogates as escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


@lru_cache(maxsize=65536)
def _sqlite_timestamp(value: datetime) -> str:
    """UTC as SQLAlchemy's SQLite DateTime stores it: `YYYY-MM-DD HH:MM:SS.ffffff`."""
    return value.astimezone(UTC).isoformat(" ", "microseconds")[:26]


def _json(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True, separators=(",", ":"))


# --- dialect loaders ----------------------------------------------------------------------


class _Loader(ABC):
    """Bulk-loads rows of one table through the driver connection of `conn`."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        driver = conn.connection.driver_connection
        if driver is None:
            raise RuntimeError("the connection has no live driver connection")
        self.driver: Any = driver

    @abstractmethod
    def load(self, table: _Table, rows: list[Row]) -> int:
        """Upsert `rows` into `table`; the number of rows inserted or changed."""

    def _converters(self, table: _Table) -> list[tuple[int, Callable[[Any], Any]]]:
        """(column index, converter) for the columns whose Python values need adapting."""
        columns = Base.metadata.tables[table.name].c
        out = []
        for i, name in enumerate(table.columns):
            convert = self._converter(columns[name].type)
            if convert is not None:
                out.append((i, convert))
        return out

    def _converter(self, sa_type: TypeEngine[Any]) -> Callable[[Any], Any] | None:
        if isinstance(sa_type, JSON) or isinstance(getattr(sa_type, "impl", None), JSON):
            return _json
        if isinstance(sa_type, String):
            return str  # StrEnum members → their plain value
        return None

    def _adapt(self, table: _Table, rows: list[Row]) -> list[Row]:
        converters = self._converters(table)
        if not converters:
            return rows
        out = []
        for row in rows:
            values = list(row)
            for i, convert in converters:
                if values[i] is not None:
                    values[i] = convert(values[i])
            out.append(tuple(values))
        return out

    def _conflict_sql(self, table: _Table, distinct_op: str) -> str:
        key = ", ".join(table.key)
        if table.conflict == "nothing":
            return f"ON CONFLICT ({key}) DO NOTHING"
        if table.conflict == "count":
            return (
                f"ON CONFLICT ({key}) DO UPDATE SET last_seen_at = excluded.last_seen_at, "
                f"times_seen = {table.name}.times_seen + 1"
            )
        sets = ", ".join(f"{c} = excluded.{c}" for c in table.compare)
        old = ", ".join(f"{table.name}.{c}" for c in table.compare)
        new = ", ".join(f"excluded.{c}" for c in table.compare)
        where = f"({old}) {distinct_op} ({new})"
        if table.newer_guard:
            g = table.newer_guard
            where += (
                f" AND (excluded.{g} IS NULL OR {table.name}.{g} IS NULL "
                f"OR excluded.{g} >= {table.name}.{g})"
            )
        return f"ON CONFLICT ({key}) DO UPDATE SET {sets} WHERE {where}"


class _SQLiteLoader(_Loader):
    def _converter(self, sa_type: TypeEngine[Any]) -> Callable[[Any], Any] | None:
        if isinstance(sa_type, UTCDateTime):
            return _sqlite_timestamp
        if isinstance(sa_type, Date):
            return date.isoformat
        if isinstance(sa_type, Numeric):
            return str
        return super()._converter(sa_type)

    def load(self, table: _Table, rows: list[Row]) -> int:
        if not rows:
            return 0
        cols = ", ".join(table.columns)
        marks = ", ".join("?" for _ in table.columns)
        conflict = self._conflict_sql(table, "IS NOT")
        # Identifiers come from this module's table specs; every value is a bound parameter.
        sql = f"INSERT INTO {table.name} ({cols}) VALUES ({marks}) {conflict}"  # noqa: S608
        cur = self.driver.cursor()
        try:
            cur.executemany(sql, self._adapt(table, rows))
            return int(cur.rowcount)
        finally:
            cur.close()


class _PostgresLoader(_Loader):
    def load(self, table: _Table, rows: list[Row]) -> int:
        if not rows:
            return 0
        stage = f"stage_{table.name}"
        cols = ", ".join(table.columns)
        with self.driver.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS pg_temp.{stage}")
            cur.execute(
                f"CREATE TEMP TABLE {stage} (LIKE {table.name} INCLUDING DEFAULTS) ON COMMIT DROP"
            )
            with cur.copy(f"COPY {stage} ({cols}) FROM STDIN") as copy:
                for row in self._adapt(table, rows):
                    copy.write_row(row)
            conflict = self._conflict_sql(table, "IS DISTINCT FROM")
            cur.execute(f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM {stage} {conflict}")  # noqa: S608
            return int(cur.rowcount)


def _loader_for(conn: Connection) -> _Loader:
    if conn.dialect.name == "postgresql":
        return _PostgresLoader(conn)
    if conn.dialect.name == "sqlite":
        return _SQLiteLoader(conn)
    raise ValueError(f"unsupported database {conn.dialect.name!r}: use SQLite or PostgreSQL")

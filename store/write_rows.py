"""The rows a batch puts in each table of the event log, in the column order the bulk loaders
(`store.write_bulk`) send them: each table's columns, key and what a conflict does, and the
rows built from canonical rows (duplicates within a batch removed, the newest version of an
object or attempt kept; error messages, payloads and quarantined input masked for storage).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from store.canonical import EventRow, FxRateRow, LinkRow, ObjectRow, QuarantineRow, SyncAttemptRow
from store.masking import mask_sensitive, scrub_for_storage

Value = Any
_T = TypeVar("_T")
Row = tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class TableSpec:
    """One table a batch fills: its columns in load order, its key, and what a row whose key is
    stored already does: nothing, update the `compare` columns when they differ (and, with a
    `newer_guard`, when the row is not older), or count one more sighting."""

    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    conflict: Literal["nothing", "update", "count"]
    compare: tuple[str, ...] = ()
    newer_guard: str | None = None
    extra_set: tuple[str, ...] = field(default=())


OBJECTS = TableSpec(
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
EVENTS = TableSpec(
    "events",
    ("id", "activity", "occurred_at", "source_system", "source_key", "attributes", "ingested_at"),
    ("id",),
    "nothing",
)
EVENT_OBJECTS = TableSpec(
    "event_objects",
    ("event_id", "object_id", "qualifier"),
    ("event_id", "object_id", "qualifier"),
    "nothing",
)
LINKS = TableSpec(
    "object_links",
    ("from_object_id", "to_object_id", "qualifier", "source_system", "ingested_at"),
    ("from_object_id", "to_object_id", "qualifier"),
    "nothing",
)
SYNC_ATTEMPTS = TableSpec(
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
QUARANTINE = TableSpec(
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
FX_RATES = TableSpec(
    "fx_rates",
    ("day", "base", "quote", "rate", "source_system", "ingested_at"),
    ("day", "base", "quote"),
    "update",
    compare=("rate", "source_system"),
)


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


def object_rows(objects: list[ObjectRow], now: datetime) -> list[Row]:
    """Objects' rows, the newest version of each."""
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


def event_rows(events: dict[int, EventRow], now: datetime) -> list[Row]:
    """Events' rows (keyed by `events_by_id`)."""
    return [
        (eid, e.activity, e.occurred_at, e.source_system, e.source_key, e.attributes or None, now)
        for eid, e in events.items()
    ]


def event_object_rows(events: dict[int, EventRow]) -> list[Row]:
    """Event-to-object relations' rows, each once."""
    return sorted({(eid, o.object_id, o.qualifier) for eid, e in events.items() for o in e.objects})


def events_by_id(events: list[EventRow]) -> dict[int, EventRow]:
    """Events keyed by their deterministic id, the first of duplicates kept."""
    by_id: dict[int, EventRow] = {}
    for e in events:
        by_id.setdefault(e.id, e)
    return by_id


def link_rows(links: list[LinkRow], now: datetime) -> list[Row]:
    """Object links' rows, each once."""
    unique = {(lk.from_id, lk.to_id, lk.qualifier): lk for lk in links}
    return [(*k, lk.source_system, now) for k, lk in unique.items()]


def sync_rows(attempts: list[SyncAttemptRow], now: datetime) -> list[Row]:
    """Sync attempts' rows, the newest version of each; messages scrubbed, payloads masked."""
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


def quarantine_rows(rows: list[QuarantineRow], now: datetime) -> list[Row]:
    """Quarantined input's rows, masked, as any database keeps the text."""
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


def fx_rows(rates: list[FxRateRow], now: datetime) -> list[Row]:
    """Exchange rates' rows, one per day and currency pair."""
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

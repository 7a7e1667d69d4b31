"""Which column or JSON member of a log line carries each field of a sync attempt, and the
mapping of one line's fields to a sync attempt."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from collectors.base import parse_timestamp
from collectors.errors import MappingError
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

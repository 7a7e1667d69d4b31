"""Sync attempts and FX rates in an OCEL 2.0 log, read back as `store.ocel_export` writes them.

A sync attempt is an event (the mapping's `sync_attempts` type) at its start time whose
attributes carry Throughline's names (`source_system`, `source_key`, `integration`, `flow`,
`status`, `attempt_number`, `retry_of`, `error_class`, …, `payload` as JSON text) and whose one
relation, if any, is the business object it concerned. `retry_of` is the event id of the attempt
it retries, ``sync:<source system>:<source key>``, in the same system.

An FX rate object (the mapping's `fx_rates` type) is one currency pair: `base` and `quote`, and
per day a `rate` and its `source_system`, each valued at that day (UTC) in the attribute history.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, tzinfo
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

from collectors.errors import MappingError
from store.canonical import ErrorClass, FxRateRow, ObjectType, SyncAttemptRow, SyncStatus
from store.ocel_export import sync_event_id
from store.tables import FxRate, SyncAttempt
from throughline.importers.ocel_read import Item
from throughline.importers.values import decode_json, fits, limits, parse_time

Ref = tuple[str, ObjectType, str]  # (source system, type, source key)
_E = TypeVar("_E", bound=StrEnum)
_SYNC = limits(SyncAttempt.__table__)
_FX_SYSTEM = limits(FxRate.__table__)["source_system"]
_MAX_RATE = Decimal(10) ** 10  # fx_rates.rate is NUMERIC(20, 10)


def _values(item: Item) -> dict[str, Any]:
    return {
        str(a.get("name")): a.get("value")
        for a in item.get("attributes") or []
        if a.get("value") is not None
    }


def _str(values: dict[str, Any], name: str) -> str | None:
    value = values.get(name)
    return None if value is None else str(value)


def _required(values: dict[str, Any], name: str) -> str:
    value = _str(values, name)
    if value is None:
        raise MappingError(f"the sync attempt has no {name}")
    return value


def _whole(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise MappingError(f"{name} is not a whole number: {value!r:.40}")


def _enum(kind: type[_E], value: Any, name: str) -> _E:
    try:
        return kind(str(value))
    except ValueError:
        raise MappingError(f"{name} is not one of {', '.join(kind)}: {value!r:.40}") from None


def sync_attempt(
    item: Item, refs: list[Ref], naive_zone: tzinfo | None, default_system: str
) -> SyncAttemptRow:
    """An OCEL sync attempt event → its row (`refs`: the objects it relates to)."""
    values = _values(item)
    system = _str(values, "source_system") or default_system
    key = _str(values, "source_key") or _required(item, "id")
    if len(refs) > 1:
        raise MappingError(f"a sync attempt concerns one object, not {len(refs)}")
    retry = _str(values, "retry_of")
    if retry is not None:
        prefix = sync_event_id(system, "")
        if not retry.startswith(prefix) or retry == prefix:
            raise MappingError(f"retry_of {retry!r:.60} is not an attempt id {prefix}<key>")
        retry = retry[len(prefix) :]
    payload = decode_json(values.get("payload"))
    if payload is not None and not isinstance(payload, dict):
        raise MappingError("payload is not a JSON object")
    updated = values.get("source_updated_at")
    error = values.get("error_class")
    number = _whole(values.get("attempt_number"), "attempt_number")
    system_of, type_of, key_of = refs[0] if refs else (None, None, None)
    row = SyncAttemptRow(
        source_system=system,
        source_key=key,
        integration=_required(values, "integration"),
        flow=_required(values, "flow"),
        status=_enum(SyncStatus, values.get("status"), "status"),
        started_at=parse_time(item.get("time"), "time", naive_zone),
        direction=_str(values, "direction"),
        attempt_number=1 if number is None else number,
        retry_of_key=retry,
        error_class=None if error is None else _enum(ErrorClass, error, "error_class"),
        error_message=_str(values, "error_message"),
        error_signature=_str(values, "error_signature"),
        trace_key=_str(values, "trace_key"),
        duration_ms=_whole(values.get("duration_ms"), "duration_ms"),
        object_system=system_of,
        object_type=type_of,
        object_key=key_of,
        payload=payload,
        source_updated_at=None
        if updated is None
        else parse_time(updated, "source_updated_at", naive_zone),
    )
    for name, limit in _SYNC.items():
        fits(getattr(row, name, None), limit, name)
    return row


def _currency(value: Any, name: str) -> str:
    code = str(value or "").strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise MappingError(f"{name} is not a 3-letter currency code: {value!r:.20}")
    return code


def _rate(value: Any) -> Decimal:
    try:
        rate = Decimal(repr(value) if isinstance(value, float) else str(value))
    except InvalidOperation:
        raise MappingError(f"rate is not a number: {value!r:.40}") from None
    if not rate.is_finite() or rate <= 0 or rate >= _MAX_RATE:
        raise MappingError(f"rate is not a positive number below 10^10: {value!r:.40}")
    return rate


def fx_rates(item: Item, naive_zone: tzinfo | None, default_system: str) -> list[FxRateRow]:
    """An OCEL FX rate object → one row per day of its `rate` history."""
    pair: dict[str, tuple[datetime, Any]] = {}
    days: dict[datetime, dict[str, Any]] = defaultdict(dict)
    for a in item.get("attributes") or []:
        name, value = str(a.get("name")), a.get("value")
        at = parse_time(a.get("time"), f"time of attribute {name}", naive_zone)
        if name in ("base", "quote") and (name not in pair or at >= pair[name][0]):
            pair[name] = (at, value)
        elif name in ("rate", "source_system") and value is not None:
            days[at][name] = value
    base = _currency(pair.get("base", (None, None))[1], "base")
    quote = _currency(pair.get("quote", (None, None))[1], "quote")
    rows = []
    for at, values in sorted(days.items()):
        if "rate" not in values:
            raise MappingError(f"no rate for the source system given on {at.date()}")
        system = str(values.get("source_system") or default_system)
        fits(system, _FX_SYSTEM, "source_system")
        rows.append(FxRateRow(at.date(), base, quote, _rate(values["rate"]), system))
    return rows

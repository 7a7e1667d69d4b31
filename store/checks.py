"""What the store refuses: a canonical row it must not keep (text too long for its column, NUL
characters, currencies that are not ISO 4217 codes, far-future or pre-1970 times, …).

The collector runner checks each record's rows with `check_batch` before they are kept and
quarantines the record with the reason `InvalidRow` gives, naming the field and the problem.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from foundation.currencies import CURRENCIES
from store.canonical import Batch

#: How far after the run's start a timestamp may lie (clock skew between a source and us).
FUTURE_TOLERANCE = timedelta(days=1)
#: How far ahead a (forward, budget) exchange rate may be dated.
FX_LEAD = timedelta(days=366)
#: Timestamps at or before the Unix epoch are "no date" placeholders, not business events.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_MONEY = Decimal("1e14")  # Numeric(18, 4): 14 digits before the point
MAX_RATE = Decimal("1e10")  # Numeric(20, 10)
MAX_INT = 2**31 - 1  # an Integer column
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL: PostgreSQL refuses it; lone surrogates


class InvalidRow(ValueError):
    """A canonical row the store must not keep; the message names the field and the problem."""


def check_currency(code: str | None, field_name: str) -> None:
    """An ISO 4217 code (upper case), or a source's own numeric currency id (NetSuite's)."""
    if code is None or code in CURRENCIES or (code.isascii() and code.isdigit() and len(code) <= 3):
        return
    raise InvalidRow(f"{field_name} {code!r:.40} is not an ISO 4217 currency code")


def check_text(value: str, field_name: str, limit: int | None = None) -> None:
    """Text the store can keep: no NUL character, no lone surrogate, at most `limit` long."""
    if limit is not None and len(value) > limit:
        raise InvalidRow(f"{field_name} is {len(value)} characters long; at most {limit} fit")
    found = _UNSTORABLE.search(value)
    if found is not None and found.group() == "\x00":
        raise InvalidRow(f"{field_name} contains a NUL character")
    if found is not None:
        raise InvalidRow(f"{field_name} is not valid Unicode text (it holds a lone surrogate)")


def check_batch(batch: Batch, *, now: datetime, tolerance: timedelta = FUTURE_TOLERANCE) -> None:
    """Raise `InvalidRow` for the first row of `batch` the store must not keep.

    Refused: text a column cannot hold (too long for it, NUL characters, lone surrogates, also
    inside JSON attributes and payloads), non-finite numbers in JSON, amounts and rates past
    their column's precision, currencies that are not ISO 4217 codes, whole numbers out of
    range, timestamps at or before 1970-01-01 or more than `tolerance` after `now` (the
    run's start: a year-9999 event would skew every KPI, and an object version dated there would
    never be overwritten by the real next version), and rates dated more than a year ahead.
    """
    latest, days = now + tolerance, tolerance / timedelta(days=1)
    for o in batch.objects:
        check_currency(o.currency, "currency")
        _check_texts(o, "objects")
        if o.amount is not None and (not o.amount.is_finite() or abs(o.amount) >= MAX_MONEY):
            raise InvalidRow(f"amount {o.amount!s:.40} is out of range")
        _check_time(o.source_updated_at, "source_updated_at", latest, days)
        _check_json(o.attributes, "attributes")
    for e in batch.events:
        _check_texts(e, "events")
        _check_time(e.occurred_at, f"{e.activity} occurred_at", latest, days)
        _check_json(e.attributes, "attributes")
    for a in batch.sync_attempts:
        _check_texts(a, "sync_attempts")
        _check_time(a.started_at, "started_at", latest, days)
        _check_time(a.source_updated_at, "source_updated_at", latest, days)
        if not 1 <= a.attempt_number <= MAX_INT:
            raise InvalidRow(f"attempt number {a.attempt_number!s:.40} is out of range")
        if a.duration_ms is not None and not 0 <= a.duration_ms <= MAX_INT:
            raise InvalidRow(f"duration {a.duration_ms!s:.40} ms is out of range")
        _check_json(a.payload, "payload")
    for link in batch.links:
        _check_texts(link, "object_links")
    for r in batch.fx_rates:
        check_currency(r.base, "base currency")
        check_currency(r.quote, "quote currency")
        _check_texts(r, "fx_rates")
        if not (r.rate.is_finite() and 0 < r.rate < MAX_RATE):
            raise InvalidRow(f"rate {r.rate!s:.40} is out of range")
        if r.day > (latest + FX_LEAD).date():
            raise InvalidRow(f"rate day {r.day.isoformat()} is more than a year ahead")


def _check_texts(row: Any, table: str) -> None:
    limits = _column_limits()
    for name in row.__dataclass_fields__:
        value = getattr(row, name)
        if isinstance(value, str):
            check_text(value, name, limits.get((table, name)))


@lru_cache(maxsize=1)
def _column_limits() -> dict[tuple[str, str], int]:
    """(table, column) → the length of each bounded text column of the store."""
    from sqlalchemy import String

    from store.tables import Base

    return {
        (table.name, column.name): column.type.length
        for table in Base.metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, String) and column.type.length
    }


def _check_time(
    value: datetime | None, field_name: str, latest: datetime, tolerance_days: float = 1
) -> None:
    if value is None:
        return
    if value <= EPOCH:
        raise InvalidRow(f"{field_name} {value.isoformat()} is not after 1970-01-01 (no real date)")
    if value > latest:
        raise InvalidRow(
            f"{field_name} {value.isoformat()} is in the future (more than "
            f"{tolerance_days:g} day after the run started)"
        )


def _check_json(value: Any, field_name: str) -> None:
    """Walk a JSON value (without recursion): text the store can keep, finite numbers."""
    stack: list[tuple[Any, str]] = [(value, field_name)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str):
                    check_text(key, f"{path} key")
                stack.append((child, f"{path}.{key}"))
        elif isinstance(item, list | tuple):
            stack.extend((child, f"{path}[{i}]") for i, child in enumerate(item))
        elif isinstance(item, str):
            check_text(item, path)
        elif isinstance(item, float) and not math.isfinite(item):
            raise InvalidRow(f"{path} is {item}, not a finite number")

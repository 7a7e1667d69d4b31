"""Cell values and row checks shared by the importers: timestamps, amounts, booleans, text and
column limits; `RowError` says why a row cannot be stored and how to count it with like rows."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import String

from collectors.errors import MappingError
from collectors.mapping import amount as parse_amount_field
from store.canonical import EventRow, LinkRow, ObjectRow
from store.tables import Event, Object, ObjectLink
from store.tables import EventObject as EventObjectTable
from throughline.importers.model_rules import calendar_problem, link_problem

DIMENSIONS = ("customer", "legal_entity", "practice", "region", "owner", "currency", "amount")
_V = TypeVar("_V", bound=StrEnum)
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


class RowError(MappingError):
    """A row (or OCEL item) that cannot be stored. `reason` names its values; `kind` is the
    same sentence without the values that differ row by row (a timestamp, an amount), so that
    an import can count like rows together."""

    def __init__(self, reason: str, kind: str | None = None) -> None:
        super().__init__(reason)
        self.kind = kind or reason


def kind_of(exc: Exception) -> str:
    """How to count a row error with like ones (its reason without the row's own value)."""
    if isinstance(exc, RowError):
        return exc.kind
    reason = exc.reason if isinstance(exc, MappingError) else str(exc)
    head, _, value = reason.rpartition(": ")
    return head if head and value[:1] in "'\"-0123456789" else reason


def vocabulary(word: str, mapped: Mapping[str, _V], kind: type[_V], what: str, key: str) -> _V:
    """`word` as Throughline's `kind`: through the mapping file's `key` section, else by its own
    name; `RowError` naming the section when neither knows it."""
    found = mapped.get(word)
    if found is not None:
        return found
    try:
        return kind(word)
    except ValueError:
        raise RowError(f"unknown {what} {word!r:.60}: not under `{key}` in the mapping") from None


def zone(name: str | None) -> tzinfo | None:
    """The zone named in a mapping file (None: none named, or not a zone `zone_problem` names)."""
    if name is None or zone_problem(name) is not None:
        return None
    return ZoneInfo(name)


def zone_problem(name: str | None) -> str | None:
    """Why `name` is not a timezone (None: it is one, or none is given)."""
    if name is None:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{name!r} is not a known IANA zone (e.g. Europe/Berlin, UTC)"
    return None


def parse_time(value: Any, name: str, naive_zone: tzinfo | None) -> datetime:
    """An aware timestamp in UTC from ISO text or a datetime; naive only with `naive_zone`."""
    if value is None or value == "":
        raise RowError(f"{name} is missing")
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
        if len(text) > 5 and text[-5] in "+-" and text[-3] != ":" and text[-4:].isdigit():
            text = f"{text[:-2]}:{text[-2:]}"  # +0000 → +00:00
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            kind = f"{name} is not a valid timestamp"
            raise RowError(f"{kind}: {value!r:.60}", kind) from exc
    else:
        raise RowError(f"{name} is not a timestamp: {value!r:.60}", f"{name} is not a timestamp")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        if naive_zone is None:
            hint = "(give an offset, or set `timezone` in the mapping)"
            raise RowError(
                f"{name} has no timezone: {value!s:.60} {hint}", f"{name} has no timezone {hint}"
            )
        parsed = parsed.replace(tzinfo=naive_zone)
    return parsed.astimezone(UTC)


def parse_amount(value: Any, name: str) -> Decimal | None:
    """A money amount (empty → None); not a number → `RowError`."""
    try:
        return parse_amount_field({name: value}, name)
    except MappingError as exc:
        raise RowError(exc.reason, kind_of(exc)) from None


def parse_boolean(value: Any, name: str) -> bool | None:
    """A yes/no cell: true/false, t/f, yes/no, y/n, 1/0 in any case (empty → None)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise RowError(f"{name} is not a yes/no value: {value!r:.40}", f"{name} is not a yes/no value")


def text(value: Any) -> str | None:
    """A cell as text (empty → None)."""
    if value is None:
        return None
    out = value if isinstance(value, str) else str(value)
    return out if out.strip() else None


def decode_json(value: Any) -> Any:
    """A JSON object or array written as a string (as `store.ocel_export` exports them), decoded."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        return parsed if isinstance(parsed, dict | list) else value
    return value


def limits(table: Any) -> dict[str, int]:
    """Length limit of each bounded text column of `table`."""
    return {
        c.name: int(c.type.length)
        for c in table.c
        if isinstance(c.type, String) and c.type.length is not None
    }


_OBJECT = limits(Object.__table__)
_EVENT = limits(Event.__table__)
_QUALIFIER = limits(EventObjectTable.__table__)["qualifier"]
_LINK = limits(ObjectLink.__table__)


def fits(value: str | None, limit: int, name: str, hint: str = "") -> None:
    """Refuse text longer than its column (PostgreSQL would fail the whole batch); `hint` says
    how the mapping avoids it."""
    if value is not None and len(value) > limit:
        kind = f"{name} is longer than {limit} characters{hint}"
        raise RowError(f"{name} is longer than {limit} characters: {value[:40]!r}…{hint}", kind)


def check_object(row: ObjectRow, calendars: Collection[str]) -> ObjectRow:
    """Refuse values the `objects` table cannot hold (PostgreSQL would fail the whole batch) and
    a legal entity without a configured calendar (its durations would count weekends only)."""
    for name, limit in _OBJECT.items():
        if name in ("type", "source_system", "source_key") or name in DIMENSIONS:
            fits(getattr(row, name), limit, name)
    problem = calendar_problem(row.legal_entity, calendars)
    if problem is not None:
        raise RowError(problem)
    return row


def check_event(row: EventRow, qualifier_hint: str = "") -> EventRow:
    """Like `check_object`, for an event and its object references."""
    fits(row.source_system, _EVENT["source_system"], "event source system")
    fits(row.source_key, _EVENT["source_key"], "event id")
    for ref in row.objects:
        fits(ref.source_system, _OBJECT["source_system"], f"{ref.type} source system")
        fits(ref.source_key, _OBJECT["source_key"], f"{ref.type} key")
        fits(ref.qualifier, _QUALIFIER, "qualifier", qualifier_hint)
    return row


def check_link(row: LinkRow) -> LinkRow:
    """Like `check_object`, for an object-to-object link; one whose direction contradicts the
    model (a project `provisions` a deal) is refused too."""
    problem = link_problem(row.from_type, row.to_type, row.qualifier)
    if problem is not None:
        raise RowError(problem)
    fits(row.source_system, _LINK["source_system"], "link source system")
    for system, key in ((row.from_system, row.from_key), (row.to_system, row.to_key)):
        fits(system, _OBJECT["source_system"], "source system")
        fits(key, _OBJECT["source_key"], "object key")
    return row

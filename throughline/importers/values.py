"""Cell values and row checks shared by the importers: timestamps, amounts, text, column limits."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import String

from collectors.errors import MappingError
from collectors.mapping import amount as parse_amount_field
from metrics.canonical import Activity, EventRow, LinkRow, ObjectRow, ObjectType
from metrics.models import Event, Object, ObjectLink
from metrics.models import EventObject as EventObjectTable
from throughline.importers.run import MappingFileError

DIMENSIONS = ("customer", "legal_entity", "practice", "region", "owner", "currency", "amount")
_SUBJECT = {
    "deal": ObjectType.DEAL, "contract": ObjectType.CONTRACT,
    "change_order": ObjectType.CHANGE_ORDER, "project": ObjectType.PROJECT,
    "work": ObjectType.WORK_ITEM, "milestone": ObjectType.MILESTONE,
    "invoice": ObjectType.INVOICE, "payment": ObjectType.PAYMENT,
}  # fmt: skip


_V = TypeVar("_V", bound=StrEnum)


def vocabulary(word: str, mapped: Mapping[str, _V], kind: type[_V], what: str, key: str) -> _V:
    """`word` as Throughline's `kind`: through the mapping file's `key` section, else by its own
    name; `MappingError` naming the section when neither knows it."""
    found = mapped.get(word)
    if found is not None:
        return found
    try:
        return kind(word)
    except ValueError:
        raise MappingError(
            f"unknown {what} {word!r:.60}: not under `{key}` in the mapping"
        ) from None


def subject_type(activity: Activity) -> ObjectType:
    """The type of object an activity is about: `work.logged` → work_item."""
    return _SUBJECT[activity.split(".", 1)[0]]


def zone(name: str | None) -> tzinfo | None:
    """The zone named in a mapping file (None: naive timestamps are refused)."""
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise MappingFileError(f"timezone {name!r} is not a known IANA zone") from exc


def parse_time(value: Any, name: str, naive_zone: tzinfo | None) -> datetime:
    """An aware timestamp in UTC from ISO text or a datetime; naive only with `naive_zone`."""
    if value is None or value == "":
        raise MappingError(f"{name} is missing")
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
        if len(text) > 5 and text[-5] in "+-" and text[-3] != ":" and text[-4:].isdigit():
            text = f"{text[:-2]}:{text[-2:]}"  # +0000 → +00:00
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise MappingError(f"{name} is not a valid timestamp: {value!r:.60}") from exc
    else:
        raise MappingError(f"{name} is not a timestamp: {value!r:.60}")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        if naive_zone is None:
            raise MappingError(
                f"{name} has no timezone: {value!s:.60} (give an offset, or set `timezone` "
                "in the mapping)"
            )
        parsed = parsed.replace(tzinfo=naive_zone)
    return parsed.astimezone(UTC)


def parse_amount(value: Any, name: str) -> Decimal | None:
    """A money amount (empty → None); not a number → `MappingError`."""
    return parse_amount_field({name: value}, name)


def text(value: Any) -> str | None:
    """A cell as text (empty → None)."""
    if value is None:
        return None
    out = value if isinstance(value, str) else str(value)
    return out if out.strip() else None


def decode_json(value: Any) -> Any:
    """A JSON object or array written as a string (as `metrics.ocel` exports them), decoded."""
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


def fits(value: str | None, limit: int, name: str) -> None:
    """Refuse text longer than its column (PostgreSQL would fail the whole batch)."""
    if value is not None and len(value) > limit:
        raise MappingError(f"{name} is longer than {limit} characters: {value[:40]!r}…")


def check_object(row: ObjectRow) -> ObjectRow:
    """Refuse values the `objects` table cannot hold (PostgreSQL would fail the whole batch)."""
    for name, limit in _OBJECT.items():
        if name in ("type", "source_system", "source_key") or name in DIMENSIONS:
            fits(getattr(row, name), limit, name)
    return row


def check_event(row: EventRow) -> EventRow:
    """Like `check_object`, for an event and its object references."""
    fits(row.source_system, _EVENT["source_system"], "event source system")
    fits(row.source_key, _EVENT["source_key"], "event id")
    for ref in row.objects:
        fits(ref.source_system, _OBJECT["source_system"], f"{ref.type} source system")
        fits(ref.source_key, _OBJECT["source_key"], f"{ref.type} key")
        fits(ref.qualifier, _QUALIFIER, "qualifier")
    return row


def check_link(row: LinkRow) -> LinkRow:
    """Like `check_object`, for an object-to-object link."""
    fits(row.source_system, _LINK["source_system"], "link source system")
    for system, key in ((row.from_system, row.from_key), (row.to_system, row.to_key)):
        fits(system, _OBJECT["source_system"], "source system")
        fits(key, _OBJECT["source_key"], "object key")
    return row

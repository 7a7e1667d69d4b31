"""Reading decoded Tryton records: times, dates, related records and ids, each failure a
`MappingError` naming the field; and the mapping's configuration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from collectors.base import Record
from collectors.errors import MappingError
from collectors.mapping import text

SYSTEM = "tryton"


CENT = Decimal("0.01")


@dataclass(frozen=True)
class TrytonMapping:
    """How Tryton values become Throughline dimensions."""

    #: Company name (its `rec_name`) → legal entity code; unlisted companies keep their name.
    legal_entities: Mapping[str, str]
    #: Logins of integration users: a project they created counts as a touchless handoff.
    integration_users: frozenset[str] = frozenset()

    def entity(self, company: str | None) -> str | None:
        return None if company is None else self.legal_entities.get(company, company)


def when(record: Record, field: str) -> datetime | None:
    """An optional timestamp (decoded datetimes are aware UTC)."""
    value = record.get(field)
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise MappingError(f"{field} is not a timestamp: {value!r:.60}")
    return value


def required_when(record: Record, field: str) -> datetime:
    value = when(record, field)
    if value is None:
        raise MappingError(f"{field} is missing")
    return value


def day(record: Record, field: str) -> date | None:
    """An optional date (a datetime is refused: Tryton dates carry no time)."""
    value = record.get(field)
    if value is None:
        return None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise MappingError(f"{field} is not a date: {value!r:.60}")
    return value


def related(record: Record, field: str) -> Record:
    """The sub-record of a Many2One read as `<field>.<name>` (empty when the field is empty)."""
    value = record.get(f"{field}.")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MappingError(f"{field} is not a related record: {value!r:.60}")
    return value


def related_text(record: Record, path: str) -> str | None:
    """`party.rec_name`-style access to a related record's field."""
    head, _, name = path.partition(".")
    return text(related(record, head), name)


def record_id(record: Record, field: str = "id") -> int:
    value = record.get(field)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MappingError(f"{field} is not a record id: {value!r:.40}")
    return value


def reference_id(value: Any, model: str) -> int | None:
    """The id in a Reference value `"<model>,<id>"` (None for another model or no value)."""
    if not isinstance(value, str) or "," not in value:
        return None
    name, _, ident = value.partition(",")
    return int(ident) if name == model and ident.lstrip("-").isdigit() else None


def midnight(value: date) -> datetime:
    return datetime.combine(value, time(), tzinfo=UTC)


def iso_day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def related_list(record: Record, field: str) -> list[Record]:
    value = record.get(field) or []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise MappingError(f"{field} is not a list of records")
    return value

"""Small, strict helpers for the pure mappers: every failure is a `MappingError` with a reason."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from collectors.base import Record
from collectors.errors import MappingError

MAX_AMOUNT = Decimal("1e13")


def text(record: Record, field: str) -> str | None:
    """An optional text field (empty → None); a non-scalar is a mapping error."""
    value = record.get(field)
    if value is None or value == "":
        return None
    if isinstance(value, dict | list):
        raise MappingError(f"{field} should be text, got {type(value).__name__}")
    return str(value)


def required_text(record: Record, field: str) -> str:
    """A text field that must be present."""
    value = text(record, field)
    if value is None:
        raise MappingError(f"{field} is missing")
    return value


def amount(record: Record, field: str) -> Decimal | None:
    """An optional money amount; not a number, not finite or absurdly large → mapping error."""
    value = record.get(field)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise MappingError(f"{field} is not a number: {value!r:.40}")
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise MappingError(f"{field} is not a number: {value!r:.40}") from exc
    if not number.is_finite() or abs(number) >= MAX_AMOUNT:
        raise MappingError(f"{field} is out of range: {value!r:.40}")
    return number


def flag(record: Record, field: str) -> bool:
    """A boolean that sources send as true/false, "T"/"F" or "true"/"false"."""
    value = record.get(field)
    if isinstance(value, bool):
        return value
    if value in (None, "", "F", "f", "false", "False", "0", 0):
        return False
    if value in ("T", "t", "true", "True", "1", 1):
        return True
    raise MappingError(f"{field} is not a yes/no value: {value!r:.40}")


def nested(record: Record, path: str) -> Any:
    """A relationship field such as `Owner.Name` (None where any step is missing)."""
    value: Any = record
    for name in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    return value

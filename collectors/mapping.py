"""Small, strict helpers for the pure mappers: every failure is a `MappingError` with a reason."""

from __future__ import annotations

import functools
import re
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


def decimal_text(value: Decimal) -> str:
    """A number as plain text without trailing zeros: 7.500 → ``7.5``, 10 → ``10`` (never
    ``1E+1``)."""
    return format(value.normalize(), "f")


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
    """The value at `path` (see `parse_path`): `Owner.Name`, `body[0].customerId`,
    `data.items[-1].id`; None where any step is missing. A member named exactly `path` (a CSV
    column called `error.message`) wins over the path."""
    if isinstance(record, dict) and path in record:
        return record[path]
    try:
        steps = parse_path(path)
    except ValueError as exc:
        raise MappingError(str(exc)) from exc
    value: Any = record
    for step in steps:
        if isinstance(value, dict) and isinstance(step, str):
            value = value.get(step)
        elif isinstance(value, list):
            index = int(step) if isinstance(step, str) and _INDEX.fullmatch(step) else step
            if not isinstance(index, int) or not -len(value) <= index < len(value):
                return None
            value = value[index]
        else:
            return None
    return value


_INDEX = re.compile(r"-?\d+")
_STEP = re.compile(
    r"""\[\s*(?P<index>-?\d+)\s*\]"""  # [0], [-1]
    r"""|\[(?P<q>["'])(?P<quoted>.*?)(?P=q)\]"""  # ["a member.with dots"]
    r"""|(?P<dot>\.)?(?P<name>[^.\[\]]+)"""  # name, .name
)


@functools.lru_cache(maxsize=256)
def parse_path(path: str) -> tuple[str | int, ...]:
    """The steps of a payload path: member names joined by dots, list indexes in brackets
    (negative from the end), members whose names hold dots or brackets quoted in brackets —
    `runData["Create project"][0].data.main[0][0].json.body[0].customerId`.

    A malformed path raises `ValueError` naming the path and where it goes wrong."""
    steps: list[str | int] = []
    at = 0
    while at < len(path):
        match = _STEP.match(path, at)
        dotted = match is not None and match.group("dot") is not None
        if (
            match is None
            or (dotted and not steps)
            or (match.group("name") and not dotted and steps)
        ):
            raise ValueError(
                f"{path!r} is not a payload path (at character {at + 1}); write"
                " names joined by dots and list indexes in brackets, e.g."
                " body[0].customerId"
            )
        if match.group("index") is not None:
            steps.append(int(match.group("index")))
        elif match.group("q") is not None:
            steps.append(match.group("quoted"))
        else:
            steps.append(match.group("name"))
        at = match.end()
    if not steps:
        raise ValueError("an empty payload path names nothing")
    return tuple(steps)

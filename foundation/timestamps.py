"""Timestamps must say which zone they are in: a naive one is refused with its field named."""

from __future__ import annotations

from datetime import UTC, datetime


class NaiveTimestampError(ValueError):
    """A timestamp without a timezone was given; the message names the field."""


def require_aware(value: datetime | None, field_name: str) -> datetime | None:
    """Return `value` in UTC, refusing naive datetimes with a message naming the field."""
    if value is None:
        return None
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise NaiveTimestampError(
            f"{field_name} must be timezone-aware (got naive {value.isoformat()}); "
            "say which zone it is in, e.g. datetime(..., tzinfo=UTC)"
        )
    return value.astimezone(UTC)


def aware(value: datetime, field_name: str) -> datetime:
    """`require_aware` for a value that is never None."""
    result = require_aware(value, field_name)
    assert result is not None
    return result

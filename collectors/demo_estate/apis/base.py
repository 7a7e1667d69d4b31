"""What every simulated API shares: requests, responses, errors, paging snapshots, formats."""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

from collectors.demo_estate.model import REMOVED, Estate, Record, Version

Row = tuple[Record, Version]


class ApiError(Exception):
    """An error the API answers with, in its own shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class Request:
    """One HTTP request as an API sees it (``path`` without the API prefix, header names in
    lower case)."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    token: str
    now: datetime

    def header(self, name: str) -> str:
        """A request header (case-insensitive; empty when absent)."""
        return self.headers.get(name.lower(), "")


@dataclass
class Response:
    """A JSON response."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class Api(Protocol):
    """One simulated source API mounted under ``prefix``."""

    prefix: str

    def handle(self, request: Request) -> Response:
        """Answer a request (raise ApiError for errors)."""
        ...

    def error_body(self, status: int, code: str | None, message: str) -> Any:
        """The body of an error in this API's shape (``code`` None: the default for status)."""
        ...


@dataclass
class Snapshot:
    """A result set fixed at query time, paged by offset."""

    rows: list[Row]
    at: datetime
    extra: Any = None
    key: str | None = None


class SnapshotStore:
    """Result sets and the opaque tokens that continue them (least recently used first out)."""

    def __init__(self, capacity: int = 2048) -> None:
        self._tokens: OrderedDict[str, tuple[Snapshot, int]] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def issue(self, snapshot: Snapshot, offset: int, make: Callable[[], str]) -> str:
        """A new token that resumes ``snapshot`` at ``offset``."""
        with self._lock:
            token = make()
            self._tokens[token] = (snapshot, offset)
            while len(self._tokens) > self._capacity:
                self._tokens.popitem(last=False)
        return token

    def resume(self, token: str) -> tuple[Snapshot, int] | None:
        """The snapshot and offset a token stands for, or None if we never issued it."""
        with self._lock:
            found = self._tokens.get(token)
            if found is not None:
                self._tokens.move_to_end(token)
            return found


def random_token(nbytes: int = 18) -> str:
    """An unguessable URL-safe token."""
    return secrets.token_urlsafe(nbytes)


def parse_iso(value: str) -> datetime:
    """An ISO-8601 datetime (``Z`` or an offset; naive means UTC) in UTC."""
    text = value.strip()
    if len(text) > 10 and text[10] == " ":
        text = f"{text[:10]}T{text[11:]}"
    text = text.replace(" ", "+")  # an unencoded '+' in a query string arrives as a space
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":" and "T" in text:
        text = text[:-2] + ":" + text[-2:]
    t = datetime.fromisoformat(text)
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC)


def iso_z(t: datetime, millis: bool = False) -> str:
    """``2026-01-05T14:03:00Z`` (or with ``.123`` milliseconds)."""
    t = t.astimezone(UTC)
    base = t.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{t.microsecond // 1000:03d}Z" if millis else f"{base}Z"


def plain(value: Any, *, dt: Callable[[datetime], str], decimal: Callable[[Decimal], Any]) -> Any:
    """A state value as JSON: datetimes via ``dt``, decimals via ``decimal``, dates ISO."""
    if isinstance(value, datetime):
        return dt(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return decimal(value)
    if isinstance(value, dict):
        return {k: plain(v, dt=dt, decimal=decimal) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v, dt=dt, decimal=decimal) for v in value]
    return value


def apply_corruption(
    estate: Estate,
    record: Record,
    out: dict[str, Any],
    *,
    only_present: bool = False,
) -> dict[str, Any]:
    """Overlay ``Estate.corrupt`` overrides onto a formatted record."""
    overrides = estate.corruption(record.kind, record.id)
    if not overrides:
        return out
    for name, value in overrides.items():
        if value is REMOVED:
            out.pop(name, None)
        elif name in out or not only_present:
            out[name] = value
    return out


def int_param(query: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    """An integer query parameter within ``[lo, hi]`` (ApiError 400 otherwise)."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_parameter", f"{name} must be an integer") from None
    if not lo <= value <= hi:
        raise ApiError(400, "invalid_parameter", f"{name} must be between {lo} and {hi}")
    return value


def time_param(query: Mapping[str, str], name: str) -> datetime | None:
    """An ISO-8601 datetime query parameter (ApiError 400 when unparsable)."""
    raw = query.get(name)
    if not raw:
        return None
    try:
        return parse_iso(raw)
    except ValueError:
        raise ApiError(400, "invalid_parameter", f"{name} is not an ISO-8601 datetime") from None

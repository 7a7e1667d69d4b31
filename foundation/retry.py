"""Retry policy and `Retry-After` parsing for every outbound HTTP caller (collectors and alert
webhooks); `foundation.http.RetryTransport` applies them."""

from __future__ import annotations

import email.utils
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata


def _version() -> str:
    try:
        return metadata.version("throughline")
    except metadata.PackageNotFoundError:
        return "0+unknown"


USER_AGENT = f"throughline/{_version()}"


@dataclass(frozen=True)
class RetryPolicy:
    """When to send a request again, and how long to wait first.

    Delays grow as ``base_delay * 2 ** (retry - 1)``, capped at ``max_delay``; with ``jitter``
    the wait is drawn uniformly from zero to that ("full jitter"). A ``Retry-After`` header
    replaces the backoff; one longer than ``max_retry_after`` ends the retries at once.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: bool = True
    retry_statuses: frozenset[int] = field(default=frozenset({429, 500, 502, 503, 504}))
    retry_transport_errors: bool = True
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.base_delay, self.max_delay, self.max_retry_after) < 0:
            raise ValueError("delays must not be negative")

    def backoff(self, retry: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** min(retry - 1, 60))
        return rng.uniform(0.0, ceiling) if self.jitter else ceiling


DEFAULT_RETRY = RetryPolicy()


def parse_retry_after(value: str, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` value asks for (delay-seconds or HTTP-date); None if unreadable."""
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())

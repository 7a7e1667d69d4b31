"""What the subcommands share: the handler signature and the parsing of date and time options."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from throughline.preflight import ConfigurationError

if TYPE_CHECKING:
    from foundation.settings import Settings

#: A subcommand: its parsed arguments and the settings in, the exit status out.
Handler = Callable[[argparse.Namespace, "Settings"], int]


def parse_time(value: str, option: str) -> datetime:
    """An ISO date (00:00 UTC) or time given to `option`; a time without a zone is UTC."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigurationError(
            f"{option} {value!r:.60} is not an ISO date or time (e.g. 2026-03-31 or "
            "2026-03-31T12:00+00:00)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

"""The log-file collector: one stream per configured file, no HTTP."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from collectors.logfiles.files import LogSource
from collectors.logfiles.stream import LogStream


class _NoNetwork(httpx.BaseTransport):
    """Log files need no HTTP; the client exists only to keep the `Collector` protocol."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise RuntimeError("the log-file collector makes no HTTP requests")


@dataclass
class LogFileCollector:
    """Tails the configured integration log files (one stream each)."""

    name: str
    streams: Sequence[LogStream]
    source_system: str = "logs"

    def open_client(self) -> httpx.Client:
        return httpx.Client(transport=_NoNetwork())


def collector(name: str, sources: Sequence[LogSource]) -> LogFileCollector:
    """A log-file collector over ``sources``."""
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise ValueError(f"log file names must be unique: {names}")
    return LogFileCollector(name, [LogStream(s) for s in sources])

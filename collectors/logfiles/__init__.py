"""Integration log files (JSON lines or CSV from MuleSoft, Boomi, Workato) → sync attempts.

Each configured file is one stream, tailed with a rotation-safe cursor (after Filebeat and
Vector's checksum fingerprints): ``{"path", "fingerprint", "fp_bytes", "offset", "line",
"since"}`` where the fingerprint is the SHA-256 of the file's first ``fp_bytes`` (≤ 1 KiB) and the
offset is just past the last complete line stored. A run:

* reads the file at ``path`` from the saved offset when its first ``fp_bytes`` still hash to the
  fingerprint; if it is now shorter than the offset it was truncated in place, and is read again
  from the start (deterministic ids mean nothing is stored twice);
* otherwise the file was rotated (or replaced), maybe several times since the last run: the
  file it was reading is looked for by its fingerprint among the rotated generations (see
  `collectors.log_generations`: ``{path}.1``, ``{path}.2``, … and gzip'd ``.gz`` ones, plus the
  configured glob patterns) and finished from the saved offset; then every newer generation is
  read, oldest first, and the live file last — each exactly once, each page saving the cursor
  (a crash resumes mid-generation). If that file is gone, what was written to it after the last
  run is lost: the run fails with `DataLost` naming it, after storing everything else.

Only complete (newline-terminated) lines are consumed, except at the end of a rotated file, which
is complete by definition; one record per line (CSV fields with embedded newlines are not
supported). A line that is not valid JSON or CSV, or lacks a mapped field, is quarantined with its
line number. Which column or JSON member (dotted path) carries the integration, flow, status,
start time, error, trace key, record id, attempt and retried attempt is declared per file; a
record without a record id is keyed by the hash of its line, so re-reading a line never adds a
row twice.
"""

from __future__ import annotations

from typing import Any

from collectors.base import Collector
from collectors.connector_options import OptionsSpec, build_config, validate_options
from collectors.logfiles.fields import FieldMap, map_line
from collectors.logfiles.files import Fingerprint, LogSource, fingerprint
from collectors.logfiles.options import LogFileOptions, LogFilesConfig
from collectors.logfiles.stream import LogStream
from collectors.logfiles.tail import LogFileCollector, collector
from collectors.spec import ConnectorSpec, Context

__all__ = [
    "SPEC",
    "FieldMap",
    "Fingerprint",
    "LogFileCollector",
    "LogFileOptions",
    "LogFilesConfig",
    "LogSource",
    "LogStream",
    "collector",
    "fingerprint",
    "log_sources",
    "map_line",
]
OPTIONS = OptionsSpec(LogFilesConfig)


def log_sources(options: dict[str, Any], where: str = "logfiles") -> list[LogSource]:
    """The log files declared under ``files`` (see the README's "Connectors")."""
    values = validate_options("logfiles", OPTIONS, options, where)
    config: LogFilesConfig = build_config("logfiles", OPTIONS, values, where)
    return config.sources()


def _build(c: Context) -> Collector:
    config: LogFilesConfig = c.config()
    return collector(c.name, config.sources())


SPEC = ConnectorSpec(
    name="logfiles",
    kind="connector",
    description="Integration log files (JSON lines, CSV)",
    build=_build,
    streams=(),  # one per configured file, named by it
    options=OPTIONS,
    fixtures="tests/fixtures/logs",
    ready=lambda options: bool(options.get("files")),
)

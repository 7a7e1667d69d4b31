"""The `logfiles` section of the connectors file: one entry per tailed log file.

Each entry is what `collectors.logfiles.files.LogSource` needs, written flat: where the file is, its
format, and the field mapping (`fields`: canonical field → column or JSON path). Building an
entry checks it, so a wrong mapping is refused when the file is loaded, naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from collectors.logfiles.fields import FieldMap
from collectors.logfiles.files import LogSource
from collectors.mapping import parse_path
from store.canonical import ObjectType, SyncStatus


@dataclass(frozen=True)
class LogFileOptions:
    """One log file: where it is, its format, its rotated copies and its field mapping."""

    name: str
    path: str
    format: Literal["jsonl", "csv"]
    fields: Mapping[str, str] = field(default_factory=dict)
    defaults: Mapping[str, str] = field(default_factory=dict)
    status_values: Mapping[str, SyncStatus] = field(default_factory=dict)
    timezone: str | None = None
    object_system: str | None = None
    object_type: ObjectType | None = None
    rotated: tuple[str, ...] = ()
    system: str | None = None
    delimiter: str = ","

    def __post_init__(self) -> None:
        self.source()
        if self.format == "jsonl":  # JSON members are paths: body[0].customerId
            for canonical, path in self.fields.items():
                try:
                    parse_path(path)
                except ValueError as exc:
                    raise ValueError(f"fields: {canonical}: {exc}") from None
        if len(self.delimiter) != 1:
            raise ValueError(f"delimiter: one character, not {self.delimiter!r:.20}")
        if self.object_system is not None and self.object_type is None:
            raise ValueError("object_type: needed with object_system (the records' type)")

    def source(self) -> LogSource:
        """The log source this entry describes."""
        mapping = FieldMap(
            columns=dict(self.fields),
            defaults=dict(self.defaults),
            status_values=dict(self.status_values),
            timezone=self.timezone,
            object_system=self.object_system,
            object_type=self.object_type,
        )
        return LogSource(
            self.name,
            self.path,
            self.format,
            mapping,
            tuple(self.rotated),
            self.system,
            self.delimiter,
        )


@dataclass(frozen=True)
class LogFilesConfig:
    """The log files to tail, each one stream (their names must differ)."""

    files: tuple[LogFileOptions, ...] = ()

    def __post_init__(self) -> None:
        names = [f.name for f in self.files]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"files: two entries are named {', '.join(twice)}; names must differ")

    def sources(self) -> list[LogSource]:
        """Every file's log source."""
        return [f.source() for f in self.files]

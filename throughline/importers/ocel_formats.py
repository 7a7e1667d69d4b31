"""What an OCEL file is, found before any object is read.

Read: OCEL 2.0 JSON and the OCEL 2.0 SQLite layout. Refused by name, with how to convert them
(pm4py reads them all and writes OCEL 2.0 JSON): OCEL 1.0 (JSON or XML) and OCEL 2.0 XML, and a
JSON document without OCEL 2.0's `objects` and `events`. For JSON, one incremental scan of the
document's head gives its top-level keys up to the first of `objects` / `events`, the types it
declares (`objectTypes`, `eventTypes`, when they come first, as OCEL 2.0 writers put them) and
Throughline's ``throughline:asOf``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ijson

from throughline.importers.mapping_file import ImportFailed

SQLITE_MAGIC = b"SQLite format 3\x00"
CONVERT = (
    "convert it to OCEL 2.0 JSON first, e.g. with pm4py: "
    "pm4py.write_ocel2_json(pm4py.{reader}('{path}'), 'log.json')"
)


@dataclass(frozen=True)
class Declared:
    """The types an OCEL log declares: type name → its attribute names."""

    object_types: dict[str, frozenset[str]] = field(default_factory=dict)
    event_types: dict[str, frozenset[str]] = field(default_factory=dict)


def declared_types(entries: Any) -> dict[str, frozenset[str]]:
    """``[{"name", "attributes": [{"name", "type"}]}]`` → name → attribute names."""
    out: dict[str, frozenset[str]] = {}
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("name") is not None:
            names = [a.get("name") for a in entry.get("attributes") or [] if isinstance(a, dict)]
            out[str(entry["name"])] = frozenset(str(n) for n in names if n is not None)
    return out


def sniff(path: Path) -> str:
    """``sqlite`` or ``json``; `ImportFailed` naming any other format (OCEL 1.0, XML …)."""
    if not path.is_file():
        raise ImportFailed(f"{path}: no such file")
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if start.startswith(b"<"):
        if b"<object-types" in head or b"<event-types" in head:
            name, reader = "OCEL 2.0 XML", "read_ocel2_xml"
        elif b"<global scope=" in head or b'key="ocel:' in head:
            name, reader = "OCEL 1.0 XML", "read_ocel"
        else:
            raise ImportFailed(
                f"{path}: an XML file that is not OCEL: Throughline reads OCEL 2.0 JSON or SQLite"
            )
        raise ImportFailed(
            f"{path}: {name}, which Throughline does not read: "
            + CONVERT.format(reader=reader, path=path.name)
        )
    if not start.startswith((b"{", b"[")):
        raise ImportFailed(f"{path}: not an OCEL 2.0 log (neither JSON nor SQLite)")
    return "json"


@dataclass
class JsonHead:
    """The head of an OCEL JSON document: top-level keys up to `objects` / `events`, declared
    types and top-level scalar values (``throughline:asOf``)."""

    keys: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    declared: Declared | None = None


def scan_json_head(path: Path) -> JsonHead:
    """Read the head of the document at `path`, refusing OCEL 1.0 and non-OCEL JSON by name."""
    head = JsonHead()
    arrays: dict[str, Any] = {}
    building, builder = "", ijson.ObjectBuilder()
    try:
        with path.open("rb") as handle:
            for prefix, event, value in ijson.parse(handle, use_float=True):
                if building:  # inside objectTypes or eventTypes
                    builder.event(event, value)
                    if prefix == building and event == "end_array":
                        arrays[building], building = builder.value, ""
                elif prefix == "":
                    if event == "map_key":
                        head.keys.append(str(value))
                        if value in ("objects", "events") or str(value).startswith("ocel:"):
                            break
                    elif event not in ("start_map", "end_map"):
                        raise ImportFailed(
                            f"{path}: not an OCEL 2.0 log (the JSON is not an object)"
                        )
                elif "." in prefix:
                    continue  # inside another top-level value
                elif event == "start_array" and prefix in ("objectTypes", "eventTypes"):
                    building, builder = prefix, ijson.ObjectBuilder()
                    builder.event(event, value)
                elif event in ("string", "number", "boolean"):
                    head.values[prefix] = value
    except ijson.JSONError as exc:
        raise ImportFailed(f"{path}: not valid JSON ({exc})") from exc
    if any(k.startswith("ocel:") for k in head.keys):
        raise ImportFailed(
            f"{path}: OCEL 1.0 JSON (keys {', '.join(head.keys[:3])} …), which "
            "Throughline does not read: " + CONVERT.format(reader="read_ocel", path=path.name)
        )
    if not {"objects", "events"} & set(head.keys):
        keys = ", ".join(head.keys) or "none"
        raise ImportFailed(
            f"{path}: not an OCEL 2.0 log: it has no `objects` or `events` (top-level keys: {keys})"
        )
    if "objectTypes" in arrays or "eventTypes" in arrays:
        head.declared = Declared(
            declared_types(arrays.get("objectTypes")), declared_types(arrays.get("eventTypes"))
        )
    return head

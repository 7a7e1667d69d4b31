"""OCEL 2.0 logs read as streams of objects and events, from JSON or from SQLite.

Both readers yield items in the shape of OCEL 2.0 JSON (https://www.ocel-standard.org/)::

    object: {"id", "type", "attributes": [{"name", "time", "value"}], "relationships": [...]}
    event:  {"id", "type", "time", "attributes": [{"name", "value"}], "relationships": [...]}

with relationships ``{"objectId", "qualifier"}``. JSON is one document, parsed incrementally with
ijson (each pass over `objects` or `events` holds one item at a time). The SQLite format keeps
objects and events in one table per type (`object_<map>`, `event_<map>`, named through
`object_map_type` / `event_map_type`) and relations in `event_object` / `object_object`; it is
read with ordered queries merged by id, so memory stays flat there too. SQLite timestamps are
written without an offset: they are read as UTC unless the mapping names a `timezone`. Both
readers also give the types the log declares and its first object's id, for the mapping's
checks; other formats are refused by name (`ocel_formats`).
"""

from __future__ import annotations

import heapq
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import ijson

from throughline.importers.mapping_file import ImportFailed
from throughline.importers.ocel_formats import Declared, scan_json_head, sniff

Item = dict[str, Any]
_OCEL_COLUMNS = ("ocel_id", "ocel_time", "ocel_changed_field")
_TABLES = ("event", "object", "event_object", "object_object", "event_map_type", "object_map_type")


class JsonOcel:
    """An OCEL 2.0 JSON file; `objects()` and `events()` each make one pass over it."""

    naive_utc = False

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        self._handle: BinaryIO | None = None
        self.head = scan_json_head(path)

    def position(self) -> int:
        """Bytes read in the current pass."""
        return self._handle.tell() if self._handle is not None else 0

    def header(self, key: str) -> Any:
        """The value of a top-level key before `objects` / `events` (``throughline:asOf``)."""
        return self.head.values.get(key)

    @property
    def declared(self) -> Declared | None:
        """The types the log declares (None: it declares none before its objects)."""
        return self.head.declared

    def first_object_id(self) -> str | None:
        """The id of the log's first object (None: it has none)."""
        items = self.objects()
        try:
            first = next(items, None)
        finally:
            items.close()  # type: ignore[attr-defined]
        return None if first is None else str(first.get("id"))

    def objects(self) -> Iterator[Item]:
        return self._items("objects.item")

    def events(self) -> Iterator[Item]:
        return self._items("events.item")

    def _items(self, prefix: str) -> Iterator[Item]:
        with self.path.open("rb") as handle:
            self._handle = handle
            try:
                for item in ijson.items(handle, prefix, use_float=True):
                    if not isinstance(item, dict):
                        raise ImportFailed(
                            f"{self.path}: an entry of {prefix[:-5]} is not an object"
                        )
                    yield item
            except ijson.JSONError as exc:
                raise ImportFailed(f"{self.path}: not valid JSON ({exc})") from exc
            finally:
                self._handle = None


def _tagged(
    rows: Iterator[tuple[Any, ...]], type_: str, attrs: list[str]
) -> Iterator[tuple[Any, ...]]:
    """(id, type, time, changed field, {attribute: value}) from one type table's rows."""
    for r in rows:
        yield r[0], type_, r[1], r[2], dict(zip(attrs, r[3:], strict=True))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Follower:
    """Rows sorted by their first column; `take(key)` returns those of `key`, skipping less."""

    def __init__(self, rows: Iterator[tuple[Any, ...]]) -> None:
        self._rows = rows
        self._head = next(rows, None)

    def take(self, key: str) -> list[tuple[Any, ...]]:
        while self._head is not None and self._head[0] < key:
            self._head = next(self._rows, None)
        out = []
        while self._head is not None and self._head[0] == key:
            out.append(self._head)
            self._head = next(self._rows, None)
        return out


class SqliteOcel:
    """An OCEL 2.0 SQLite file, opened read-only."""

    naive_utc = True

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            names = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master")}
        except sqlite3.Error as exc:
            raise ImportFailed(f"{path}: not a readable SQLite file ({exc})") from exc
        missing = [t for t in _TABLES if t not in names]
        if missing:
            raise ImportFailed(f"{path}: not OCEL 2.0 SQLite (no table {', '.join(missing)})")
        self._tables = names
        self._read = 0
        self.size = sum(
            int(self.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])  # noqa: S608
            for t in ("object", "event")
        )

    def position(self) -> int:
        """Objects and events read so far."""
        return self._read

    def header(self, key: str) -> Any:
        """The OCEL SQLite layout has no place for extra keys: always None."""
        return None

    @property
    def declared(self) -> Declared:
        """The object and event types of the log (its `*_map_type` tables) with the attribute
        columns of each type's table."""
        objects, events = (
            {
                str(t): frozenset(c for c in columns if c not in _OCEL_COLUMNS)
                for t, _, columns in self._type_tables(kind)
            }
            for kind in ("object", "event")
        )
        return Declared(objects, events)

    def _type_tables(self, kind: str) -> list[tuple[Any, str, list[str]]]:
        """(type, its table, the table's columns) per `<kind>` type; no columns: no table."""
        maps = self.conn.execute(f"SELECT ocel_type, ocel_type_map FROM {kind}_map_type")  # noqa: S608
        out = []
        for type_, mapped in maps.fetchall():
            table = f"{kind}_{mapped}"
            columns = (
                [r[1] for r in self.conn.execute(f"PRAGMA table_info({_quote(table)})")]
                if table in self._tables
                else []
            )
            out.append((type_, table, columns))
        return out

    def first_object_id(self) -> str | None:
        """The id of the log's first object (None: it has none)."""
        row = self.conn.execute("SELECT CAST(ocel_id AS TEXT) FROM object LIMIT 1").fetchone()
        return None if row is None else str(row[0])

    def _typed_rows(self, kind: str) -> Iterator[tuple[Any, ...]]:
        """(id, type, time, changed field, {column: value}) of every `<kind>_<map>` table,
        merged in id order."""
        streams = []
        for type_, table, columns in self._type_tables(kind):
            if not columns:
                continue
            attrs = [c for c in columns if c not in _OCEL_COLUMNS]
            time = "ocel_time" if "ocel_time" in columns else "NULL"
            changed = "ocel_changed_field" if "ocel_changed_field" in columns else "NULL"
            select = ", ".join(["CAST(ocel_id AS TEXT)", time, changed, *map(_quote, attrs)])
            query = f"SELECT {select} FROM {_quote(table)} ORDER BY 1, 2"  # noqa: S608
            streams.append(_tagged(self.conn.execute(query), type_, attrs))
        return heapq.merge(*streams, key=lambda r: r[0])

    def _relations(self, table: str, source: str, target: str) -> _Follower:
        query = (
            f"SELECT CAST({source} AS TEXT), CAST({target} AS TEXT), ocel_qualifier "  # noqa: S608
            f"FROM {table} ORDER BY 1, 2, 3"
        )
        return _Follower(iter(self.conn.execute(query)))

    def _ids(self, kind: str) -> Iterator[tuple[Any, ...]]:
        query = f"SELECT CAST(ocel_id AS TEXT), ocel_type FROM {kind} ORDER BY 1"  # noqa: S608
        return iter(self.conn.execute(query))

    def objects(self) -> Iterator[Item]:
        attributes = _Follower(self._typed_rows("object"))
        links = self._relations("object_object", "ocel_source_id", "ocel_target_id")
        for oid, type_ in self._ids("object"):
            self._read += 1
            values = []
            for _, _, at, changed, row in attributes.take(oid):
                for name, value in row.items():
                    if value is not None and (changed is None or changed == name):
                        values.append({"name": name, "time": at, "value": value})
            yield {
                "id": oid,
                "type": type_,
                "attributes": values,
                "relationships": [
                    {"objectId": t, "qualifier": q or ""} for _, t, q in links.take(oid)
                ],
            }

    def events(self) -> Iterator[Item]:
        rows = _Follower(self._typed_rows("event"))
        relations = self._relations("event_object", "ocel_event_id", "ocel_object_id")
        for eid, type_ in self._ids("event"):
            self._read += 1
            found = rows.take(eid)
            row = found[0] if found else (eid, type_, None, None, {})
            yield {
                "id": eid,
                "type": type_,
                "time": row[2],
                "attributes": [{"name": k, "value": v} for k, v in row[4].items() if v is not None],
                "relationships": [
                    {"objectId": t, "qualifier": q or ""} for _, t, q in relations.take(eid)
                ],
            }

    def close(self) -> None:
        self.conn.close()


def open_ocel(path: Path) -> JsonOcel | SqliteOcel:
    """The reader for `path`: SQLite or JSON as the file shows; other formats are refused."""
    return SqliteOcel(path) if sniff(path) == "sqlite" else JsonOcel(path)

"""Export the event log as OCEL 2.0 JSON (https://www.ocel-standard.org/), for process mining.

Objects keep their dimensions and attributes (each valued at the object's last source update),
events their attributes, event-to-object relations their qualifiers (`deal`, `project` …) and
object-to-object links theirs (`provisions`, `billed_on` …). Object ids read
``<type>:<source system>:<source key>``. Relations to objects the store does not hold (yet) are
left out. Sync attempts are not OCEL events and are not exported.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TextIO

from sqlalchemy import Connection, Engine, select

from metrics.models import Event, EventObject, Object, ObjectLink

EPOCH = "1970-01-01T00:00:00Z"
DIMENSIONS = ("customer", "legal_entity", "practice", "region", "owner", "currency", "amount")


def _time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float | Decimal):
        return "float"
    return "string"


def _scalar(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _object_attributes(row: Any) -> dict[str, Any]:
    values = {name: getattr(row, name) for name in DIMENSIONS}
    values.update(row.attributes or {})
    return {k: _scalar(v) for k, v in values.items() if v is not None}


def _ocel_id(type_: str, system: str, key: str) -> str:
    return f"{type_}:{system}:{key}"


class _Log:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.ids: dict[int, str] = {}
        self.object_types: dict[str, dict[str, str]] = defaultdict(dict)
        self.event_types: dict[str, dict[str, str]] = defaultdict(dict)
        query = select(Object.id, Object.type, Object.source_system, Object.source_key)
        for oid, type_, system, key in conn.execute(query):
            self.ids[oid] = _ocel_id(type_, system, key)
            self.object_types[type_]  # every type listed, even without attributes
        for row in conn.execute(select(*Object.__table__.c).order_by(Object.id)):
            for name, value in _object_attributes(row).items():
                self.object_types[row.type].setdefault(name, _type_of(value))
        for activity, attributes in conn.execute(select(Event.activity, Event.attributes)):
            types = self.event_types[activity]
            for name, value in (attributes or {}).items():
                if value is not None:
                    types.setdefault(name, _type_of(_scalar(value)))

    def objects(self) -> Iterator[dict[str, Any]]:
        links: dict[int, list[dict[str, str]]] = defaultdict(list)
        query = select(ObjectLink.from_object_id, ObjectLink.to_object_id, ObjectLink.qualifier)
        for src, dst, qualifier in self.conn.execute(query.order_by(*query.selected_columns)):
            if src in self.ids and dst in self.ids:
                links[src].append({"objectId": self.ids[dst], "qualifier": qualifier})
        for row in self.conn.execute(select(*Object.__table__.c).order_by(Object.id)):
            at = _time(row.source_updated_at) if row.source_updated_at else EPOCH
            yield {
                "id": self.ids[row.id],
                "type": row.type,
                "attributes": [
                    {"name": k, "time": at, "value": v}
                    for k, v in sorted(_object_attributes(row).items())
                ],
                "relationships": links.get(row.id, []),
            }

    def events(self) -> Iterator[dict[str, Any]]:
        rels: dict[int, list[dict[str, str]]] = defaultdict(list)
        query = select(EventObject.event_id, EventObject.object_id, EventObject.qualifier)
        for eid, oid, qualifier in self.conn.execute(query.order_by(*query.selected_columns)):
            if oid in self.ids:
                rels[eid].append({"objectId": self.ids[oid], "qualifier": qualifier})
        query_events = select(Event.id, Event.activity, Event.occurred_at, Event.attributes)
        for eid, activity, at, attributes in self.conn.execute(
            query_events.order_by(Event.occurred_at, Event.id)
        ):
            yield {
                "id": str(eid),
                "type": activity,
                "time": _time(at),
                "attributes": [
                    {"name": k, "value": _scalar(v)}
                    for k, v in sorted((attributes or {}).items())
                    if v is not None
                ],
                "relationships": rels.get(eid, []),
            }


def _types(types: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    return [
        {"name": name, "attributes": [{"name": a, "type": t} for a, t in sorted(attrs.items())]}
        for name, attrs in sorted(types.items())
    ]


def write_ocel(engine: Engine, out: TextIO) -> tuple[int, int]:
    """Write the whole event log to `out` as OCEL 2.0 JSON; (objects, events) written."""
    with engine.connect() as conn:
        log = _Log(conn)
        out.write('{"objectTypes": ' + json.dumps(_types(log.object_types)))
        out.write(',\n"eventTypes": ' + json.dumps(_types(log.event_types)))
        counts = []
        for name, items in (("objects", log.objects()), ("events", log.events())):
            out.write(f',\n"{name}": [')
            n = 0
            for item in items:
                out.write(("\n" if n == 0 else ",\n") + json.dumps(item, sort_keys=True))
                n += 1
            out.write("\n]")
            counts.append(n)
        out.write("}\n")
    return counts[0], counts[1]

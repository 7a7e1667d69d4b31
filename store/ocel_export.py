"""Export the event log as OCEL 2.0 JSON (https://www.ocel-standard.org/), for process mining.

Objects keep their dimensions and attributes (each valued at the object's last source update),
events their attributes, event-to-object relations their qualifiers (`deal`, `project` …) and
object-to-object links theirs (`provisions`, `billed_on` …). Object ids read
``<type>:<source system>:<source key>``. Every event carries its own `source_system` and
`source_key` as attributes (its store id derives from them), so an import gives it its id back.

Two more kinds of row make the log complete:

- each **sync attempt** is an event of type ``sync.attempt`` at its start time, id
  ``sync:<source system>:<source key>``, with its integration, flow, direction, status, attempt
  number, error class, message and signature, trace key, duration, payload (masked in the store,
  as JSON text) and source update time as attributes; the attempt it retries as ``retry_of``
  (that attempt's event id) and the business object it concerned as a ``concerns`` relation;
- each **currency pair** of the FX rates is an object of type ``fx_rate``, id
  ``fx_rate:<base>/<quote>``, with `base` and `quote` and, per day, `rate` and `source_system`
  valued at that day's midnight UTC (OCEL's attribute history).

An object-to-object link asserted by another system than its first object's (a deal's
`provisions` link to a project, read from the PSA) names that system in an extra relationship
key, ``sourceSystem`` (the OCEL 2.0 JSON schema allows extra keys; process-mining tools ignore
it). Relations to objects the store does not hold (yet) are left out, and so is the lineage of
a retry whose first attempt it does not hold (the store keeps only a hash of that attempt's key).
OCEL attribute values have no null: attributes whose value is null are left out.

Given `as_of`, the log opens with one more extra key, ``throughline:asOf``: the instant the store
reported at (the sources' clock, which the rows alone do not tell), so that an imported copy
reports its KPIs at the same instant.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import groupby
from typing import Any, TextIO

from sqlalchemy import Connection, Engine, exists, select

from store.tables import Event, EventObject, FxRate, Object, ObjectLink, SyncAttempt

EPOCH = "1970-01-01T00:00:00Z"
DIMENSIONS = ("customer", "legal_entity", "practice", "region", "owner", "currency", "amount")
EVENT_SOURCE = {"source_system": "string", "source_key": "string"}
SYNC_ACTIVITY = "sync.attempt"
SYNC_QUALIFIER = "concerns"
SYNC_ATTRIBUTES = {
    **EVENT_SOURCE,
    "integration": "string",
    "flow": "string",
    "direction": "string",
    "status": "string",
    "attempt_number": "integer",
    "retry_of": "string",
    "error_class": "string",
    "error_message": "string",
    "error_signature": "string",
    "trace_key": "string",
    "duration_ms": "integer",
    "payload": "string",
    "source_updated_at": "time",
}
LINK_SOURCE = "sourceSystem"
AS_OF = "throughline:asOf"
FX_TYPE = "fx_rate"
FX_ATTRIBUTES = {"base": "string", "quote": "string", "rate": "float", "source_system": "string"}


def _time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _day(value: date) -> str:
    return f"{value.isoformat()}T00:00:00Z"


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


def sync_event_id(system: str, key: str) -> str:
    """The OCEL event id of the sync attempt (`system`, `key`)."""
    return f"sync:{system}:{key}"


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
            types.update(EVENT_SOURCE)
            for name, value in (attributes or {}).items():
                if value is not None:
                    types.setdefault(name, _type_of(_scalar(value)))
        if conn.execute(select(exists().select_from(SyncAttempt))).scalar():
            self.event_types[SYNC_ACTIVITY] = dict(SYNC_ATTRIBUTES)
        if conn.execute(select(exists().select_from(FxRate))).scalar():
            self.object_types[FX_TYPE] = dict(FX_ATTRIBUTES)

    def objects(self) -> Iterator[dict[str, Any]]:
        links: dict[int, list[dict[str, str]]] = defaultdict(list)
        lk = ObjectLink
        query = select(lk.from_object_id, lk.to_object_id, lk.qualifier, lk.source_system)
        for src, dst, qualifier, system in self.conn.execute(
            query.order_by(lk.from_object_id, lk.to_object_id, lk.qualifier)
        ):
            if src in self.ids and dst in self.ids:
                link = {"objectId": self.ids[dst], "qualifier": qualifier}
                if system != self.ids[src].split(":", 2)[1]:
                    link[LINK_SOURCE] = system
                links[src].append(link)
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
        yield from self.fx_rates()

    def fx_rates(self) -> Iterator[dict[str, Any]]:
        """One `fx_rate` object per currency pair, its daily rates as attribute history."""
        f = FxRate
        query = select(f.base, f.quote, f.day, f.rate, f.source_system)
        rows = self.conn.execute(query.order_by(f.base, f.quote, f.day))
        for (base, quote), days in groupby(rows, key=lambda r: (r.base, r.quote)):
            attributes: list[dict[str, Any]] = [
                {"name": "base", "time": EPOCH, "value": base},
                {"name": "quote", "time": EPOCH, "value": quote},
            ]
            for r in days:
                attributes.append({"name": "rate", "time": _day(r.day), "value": float(r.rate)})
                attributes.append(
                    {"name": "source_system", "time": _day(r.day), "value": r.source_system}
                )
            yield {
                "id": f"{FX_TYPE}:{base}/{quote}",
                "type": FX_TYPE,
                "attributes": attributes,
                "relationships": [],
            }

    def events(self) -> Iterator[dict[str, Any]]:
        rels: dict[int, list[dict[str, str]]] = defaultdict(list)
        query = select(EventObject.event_id, EventObject.object_id, EventObject.qualifier)
        for eid, oid, qualifier in self.conn.execute(query.order_by(*query.selected_columns)):
            if oid in self.ids:
                rels[eid].append({"objectId": self.ids[oid], "qualifier": qualifier})
        e = Event
        query_events = select(
            e.id, e.activity, e.occurred_at, e.source_system, e.source_key, e.attributes
        )
        for eid, activity, at, system, key, attributes in self.conn.execute(
            query_events.order_by(e.occurred_at, e.id)
        ):
            values = {**(attributes or {}), "source_system": system, "source_key": key}
            yield {
                "id": str(eid),
                "type": activity,
                "time": _time(at),
                "attributes": [
                    {"name": k, "value": _scalar(v)}
                    for k, v in sorted(values.items())
                    if v is not None
                ],
                "relationships": rels.get(eid, []),
            }
        yield from self.sync_attempts()

    def sync_attempts(self) -> Iterator[dict[str, Any]]:
        """Each sync attempt as a `sync.attempt` event at its start."""
        s = SyncAttempt.__table__
        parent = s.alias("parent")
        query = (
            select(
                *s.c,
                parent.c.source_system.label("retry_system"),
                parent.c.source_key.label("retry_key"),
            )
            .select_from(s.outerjoin(parent, parent.c.id == s.c.retry_of_id))
            .order_by(s.c.started_at, s.c.id)
        )
        for r in self.conn.execute(query):
            values = {name: getattr(r, name) for name in SYNC_ATTRIBUTES if hasattr(r, name)}
            if r.retry_key is not None:
                values["retry_of"] = sync_event_id(r.retry_system, r.retry_key)
            if r.source_updated_at is not None:
                values["source_updated_at"] = _time(r.source_updated_at)
            concerns = self.ids.get(r.object_id) if r.object_id is not None else None
            yield {
                "id": sync_event_id(r.source_system, r.source_key),
                "type": SYNC_ACTIVITY,
                "time": _time(r.started_at),
                "attributes": [
                    {"name": k, "value": _scalar(v)}
                    for k, v in sorted(values.items())
                    if v is not None
                ],
                "relationships": [{"objectId": concerns, "qualifier": SYNC_QUALIFIER}]
                if concerns
                else [],
            }


def _types(types: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    return [
        {"name": name, "attributes": [{"name": a, "type": t} for a, t in sorted(attrs.items())]}
        for name, attrs in sorted(types.items())
    ]


def write_ocel(engine: Engine, out: TextIO, *, as_of: datetime | None = None) -> tuple[int, int]:
    """Write the whole event log to `out` as OCEL 2.0 JSON; (objects, events) written.

    `as_of`, the instant the store reports at, goes first under ``throughline:asOf``."""
    with engine.connect() as conn:
        log = _Log(conn)
        out.write("{")
        if as_of is not None:
            out.write(f"{json.dumps(AS_OF)}: {json.dumps(_time(as_of))},\n")
        out.write('"objectTypes": ' + json.dumps(_types(log.object_types)))
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

"""`throughline import events FILE --mapping MAP.yaml`: a flat event log (CSV or Parquet).

One row is one event (or one event-object pair: rows sharing an `event_id` are one event). The
mapping file names the columns (see ``examples/event-log-mapping.yaml``)::

    source_system: warehouse        # system of the events and (by default) the objects
    timezone: Europe/Berlin         # optional: zone of timestamps without an offset
    activity: activity              # column with the activity …
    timestamp: occurred_at          # … and with when it happened
    event_id: event_id              # optional column: rows with one id are one event
    activities: {Opportunity won: deal.won, Invoice posted: invoice.posted}
    event_attributes: {by: user}    # event attribute → column
    objects:                        # object type → the columns that name it on a row
      deal:
        key: deal_id
        system: crm                 # optional (default: source_system)
        dimensions: {customer: customer, legal_entity: entity, currency: currency, amount: amount}
        attributes: {billable: {column: billable, type: boolean}}
    links: [{from: deal, to: project, qualifier: provisions}]   # when a row names both

An activity value not listed under `activities` is accepted when it already is a Throughline
activity (``deal.won``). Each row relates the event to every object whose key column is filled.
The *subject* object (the activity's own type: ``work.*`` → work_item) takes its dimensions and
attributes from the row, as of the row's time (the newest row wins), so each row must carry the
subject's full current values. Events are keyed by (source system, activity, event id or the
subject's key, time): importing a file again adds nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator
from sqlalchemy import Engine

from collectors.errors import MappingError
from collectors.mapping import flag
from metrics.canonical import (
    Activity,
    Batch,
    EventObject,
    EventRow,
    LinkQualifier,
    LinkRow,
    ObjectRow,
    ObjectType,
)
from throughline.importers.files import open_source
from throughline.importers.run import (
    BATCH_ROWS,
    ImportReport,
    Strict,
    cells,
    collector_name,
    fingerprint,
    import_run,
    load_mapping,
)
from throughline.importers.values import (
    check_event,
    check_link,
    check_object,
    parse_amount,
    parse_time,
    subject_type,
    text,
    vocabulary,
    zone,
)

Dimension = Literal["customer", "legal_entity", "practice", "region", "owner", "currency", "amount"]
ValueType = Literal["string", "integer", "number", "boolean", "date", "timestamp"]


class Column(Strict):
    """A column and how to read its values."""

    column: str
    type: ValueType = "string"


class ObjectSpec(Strict):
    """How a row names one object type, and which columns describe it."""

    key: str
    system: str | None = Field(default=None, max_length=32)
    qualifier: str | None = Field(default=None, max_length=32)
    dimensions: dict[Dimension, str] = Field(default_factory=dict)
    attributes: dict[str, str | Column] = Field(default_factory=dict)


class LinkSpec(Strict):
    """An object-to-object link stored when a row names both objects."""

    from_: ObjectType = Field(alias="from")
    to: ObjectType
    qualifier: LinkQualifier


class EventLogMapping(Strict):
    """The mapping file of a flat event log."""

    source_system: str = Field(max_length=32, min_length=1)
    format: Literal["csv", "parquet"] | None = None
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    timezone: str | None = None
    activity: str
    timestamp: str
    event_id: str | None = None
    event_attributes: dict[str, str | Column] = Field(default_factory=dict)
    activities: dict[str, Activity] = Field(default_factory=dict)
    objects: dict[ObjectType, ObjectSpec] = Field(min_length=1)
    links: list[LinkSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _links_name_mapped_objects(self) -> EventLogMapping:
        for link in self.links:
            for end in (link.from_, link.to):
                if end not in self.objects:
                    raise ValueError(f"links: {end} is not one of the mapped objects")
        return self

    def columns(self) -> list[str]:
        """Every column the mapping reads (the file must have them all)."""
        out = [self.activity, self.timestamp, *([self.event_id] if self.event_id else [])]
        out += [_column(c).column for c in self.event_attributes.values()]
        for spec in self.objects.values():
            out += [spec.key, *spec.dimensions.values()]
            out += [_column(c).column for c in spec.attributes.values()]
        return list(dict.fromkeys(out))


def _column(spec: str | Column) -> Column:
    return Column(column=spec) if isinstance(spec, str) else spec


def load_event_log_mapping(path: Path) -> EventLogMapping:
    """The mapping file at `path`, validated (`MappingFileError` names the field)."""
    return load_mapping(path, EventLogMapping)


def _typed(value: Any, spec: Column) -> Any:
    """A cell as the attribute type the mapping declares (empty → None)."""
    if value is None or value == "":
        return None
    name = spec.column
    try:
        if spec.type == "string":
            return value if isinstance(value, str) else str(value)
        if spec.type == "boolean":
            return flag({name: value}, name)
        if spec.type == "integer":
            number = float(value)
            if not number.is_integer():
                raise ValueError
            return int(number)
        if spec.type == "number":
            return float(value)
        if spec.type == "date":
            return date.fromisoformat(str(value)[:10]).isoformat()
        return parse_time(value, name, None).isoformat()
    except ValueError as exc:
        raise MappingError(f"{name} is not a valid {spec.type}: {value!r:.40}") from exc


class RowMapper:
    """Maps one row of values to canonical rows (`MappingError` with a reason otherwise)."""

    def __init__(self, mapping: EventLogMapping) -> None:
        self.m = mapping
        self.zone = zone(mapping.timezone)
        self.attributes = {k: _column(c) for k, c in mapping.event_attributes.items()}
        self.object_attributes = {
            t: {k: _column(c) for k, c in spec.attributes.items()}
            for t, spec in mapping.objects.items()
        }

    def activity(self, value: Any) -> Activity:
        word = text(value)
        if word is None:
            raise MappingError(f"activity ({self.m.activity}) is missing")
        return vocabulary(word, self.m.activities, Activity, "activity", "activities")

    def system(self, type_: ObjectType) -> str:
        return self.m.objects[type_].system or self.m.source_system

    def map(self, values: Mapping[str, Any], batch: Batch) -> None:
        """Add the row's event, subject object and links to `batch`."""
        m = self.m
        activity = self.activity(values.get(m.activity))
        at = parse_time(values.get(m.timestamp), f"timestamp ({m.timestamp})", self.zone)
        keys = {t: k for t, spec in m.objects.items() if (k := text(values.get(spec.key)))}
        if not keys:
            named = ", ".join(spec.key for spec in m.objects.values())
            raise MappingError(f"the row names no object ({named} are all empty)")
        subject = subject_type(activity)
        if subject in m.objects and subject not in keys:
            raise MappingError(f"{activity} needs a {subject} ({m.objects[subject].key} is empty)")
        objects = [self._object(subject, keys[subject], values, at)] if subject in keys else []
        refs = tuple(
            EventObject(self.system(t), t, k, m.objects[t].qualifier or t.value)
            for t, k in keys.items()
        )
        anchor = subject if subject in keys else next(iter(keys))
        event_key = (text(values.get(m.event_id)) if m.event_id else None) or (
            f"{anchor}:{keys[anchor]}"
        )
        attributes = {k: _typed(values.get(c.column), c) for k, c in self.attributes.items()}
        event = EventRow(
            activity, at, m.source_system, event_key, refs,
            {k: v for k, v in attributes.items() if v is not None},
        )  # fmt: skip
        links = [
            check_link(LinkRow(self.system(lk.from_), lk.from_, keys[lk.from_], self.system(lk.to),
                               lk.to, keys[lk.to], lk.qualifier, m.source_system))
            for lk in m.links
            if lk.from_ in keys and lk.to in keys
        ]  # fmt: skip
        batch.events.append(check_event(event))
        batch.objects.extend(objects)
        batch.links.extend(links)

    def _object(
        self, type_: ObjectType, key: str, values: Mapping[str, Any], at: datetime
    ) -> ObjectRow:
        spec = self.m.objects[type_]
        dims: dict[str, Any] = {d: text(values.get(c)) for d, c in spec.dimensions.items()}
        if "amount" in spec.dimensions:
            dims["amount"] = parse_amount(values.get(spec.dimensions["amount"]),
                                          spec.dimensions["amount"])  # fmt: skip
        attributes = {
            k: v
            for k, c in self.object_attributes[type_].items()
            if (v := _typed(values.get(c.column), c)) is not None
        }
        row = ObjectRow(type_, self.system(type_), key, **dims, attributes=attributes,
                        source_updated_at=at)  # fmt: skip
        return check_object(row)


def import_events(
    engine: Engine,
    path: Path,
    mapping: EventLogMapping,
    *,
    progress: bool | None = None,
    batch_rows: int = BATCH_ROWS,
) -> ImportReport:
    """Import the flat event log at `path`; bad rows are quarantined, the rest stored."""
    mapper = RowMapper(mapping)
    name = collector_name("events", path)
    with open_source(path, mapping.columns(), mapping.format, mapping.delimiter) as source:
        cursor: dict[str, Any] = {"file": path.name, "fingerprint": fingerprint(path), "row": 0}
        with import_run(engine, name, "events", total=source.total, unit=source.unit,
                        progress=progress) as run:  # fmt: skip
            batch, rows = Batch(), 0
            for row in source:
                rows += 1
                cursor["row"] = row.number
                if row.values is None:
                    run.quarantine(batch, row.where, row.error or "unreadable", row.raw or "")
                else:
                    try:
                        mapper.map(row.values, batch)
                    except (MappingError, ValueError) as exc:
                        reason = exc.reason if isinstance(exc, MappingError) else str(exc)
                        run.quarantine(batch, row.where, reason, cells(row.values))
                if rows >= batch_rows:
                    run.write(batch, rows, {**cursor, "complete": False})
                    batch, rows = Batch(), 0
                    run.advance_to(source.position())
            run.write(batch, rows, {**cursor, "complete": True})
            run.advance_to(source.total)
    return run.report

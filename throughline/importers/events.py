"""`throughline import events FILE --mapping MAP.yaml`: a flat event log (CSV or Parquet).

One row is one event (or one event-object pair: rows sharing an `event_id` are one event); the
mapping (`events_mapping`, every key documented there) names the columns. An activity value not
listed under `activities` is accepted when it already is a Throughline activity (``deal.won``);
one under `skip_activities` is left out and counted. Each row relates the event to every object
whose key is filled (and, for an object with `on`, only on those activities). The *subject*
object (the activity's own type: ``work.*`` → work_item) takes its dimensions and attributes
from the row, as of the row's time (the newest row wins), so each row must carry the subject's
full current values. Events are keyed by (source system, activity, event id or the subject's
key, time): importing a file again adds nothing. A row whose event names an object no row
describes has its event quarantined, naming the object (`refs`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from collectors.errors import MappingError
from foundation.business_time import DEFAULT_COUNTRIES
from store.canonical import Activity, EventObject, EventRow, LinkRow, ObjectRow, ObjectType
from throughline.importers.events_mapping import SAMPLE_ROWS, EventLogMapping, file_problems
from throughline.importers.files import open_source
from throughline.importers.mapping_file import load_mapping, refuse
from throughline.importers.model_rules import a, subject_type
from throughline.importers.refs import References, Unit
from throughline.importers.run import (
    BATCH_ROWS,
    MAX_QUARANTINED,
    ImportReport,
    collector_name,
    fingerprint,
    import_run,
)
from throughline.importers.value_spec import Reader, ValueSpec, typed
from throughline.importers.values import (
    RowError,
    check_event,
    check_link,
    check_object,
    parse_amount,
    parse_time,
    text,
    vocabulary,
    zone,
)


def load_event_log_mapping(path: Path) -> EventLogMapping:
    """The mapping file at `path`, checked (`MappingFileError` names every key and line)."""
    return load_mapping(path, EventLogMapping)


class _Typed:
    """An attribute's name, reader and type."""

    def __init__(self, name: str, spec: ValueSpec) -> None:
        self.name, self.read, self.type = name, spec.reader(), spec.declared()
        self.label = spec.label()


class _ObjectReader:
    """How a row names and describes one object type."""

    def __init__(self, type_: ObjectType, mapping: EventLogMapping) -> None:
        spec = mapping.objects[type_]
        self.type = type_
        self.system = spec.system or mapping.source_system
        self.qualifier = spec.qualifier or type_.value
        self.on = mapping.named_on(type_)
        self.key: Reader = spec.key.reader()
        self.key_label = spec.key.label()
        self.dimensions = [(str(d), s.reader(), s.label()) for d, s in spec.dimensions.items()]
        self.attributes = [_Typed(n, s) for n, s in spec.attributes.items()]


class RowMapper:
    """Maps one row of values to a `Unit` (`RowError` with a reason otherwise)."""

    def __init__(self, mapping: EventLogMapping, calendars: Collection[str]) -> None:
        self.m = mapping
        self.calendars = calendars
        self.zone = zone(mapping.timezone)
        self.skip = frozenset(mapping.skip_activities)
        self.event_id = mapping.event_id.reader() if mapping.event_id else None
        self.attributes = [_Typed(n, s) for n, s in mapping.event_attributes.items()]
        self.objects = {t: _ObjectReader(t, mapping) for t in mapping.objects}

    def activity(self, value: Any) -> Activity | None:
        """The row's activity (None: the mapping skips it)."""
        word = text(value)
        if word is None:
            raise RowError(f"activity ({self.m.activity}) is missing")
        if word in self.skip:
            return None
        return vocabulary(word, self.m.activities, Activity, "activity", "activities")

    def map(self, values: Mapping[str, Any], where: str) -> Unit | None:
        """The row's event, subject object and links (None: its activity is skipped)."""
        m = self.m
        activity = self.activity(values.get(m.activity))
        if activity is None:
            return None
        at = parse_time(values.get(m.timestamp), f"timestamp ({m.timestamp})", self.zone)
        keys: dict[ObjectType, str] = {}
        for t, reader in self.objects.items():
            carried = reader.on is None or activity in reader.on
            if carried and (key := text(reader.key(values))) is not None:
                keys[t] = key
        if not keys:
            named = ", ".join(r.key_label for r in self.objects.values())
            raise RowError(f"the row names no object ({named} are all empty)")
        subject = subject_type(activity)
        if subject in self.objects and subject not in keys:
            label = self.objects[subject].key_label
            raise RowError(f"{activity} needs {a(subject)} ({label} is empty)")
        objects = [self._object(subject, keys[subject], values, at)] if subject in keys else []
        refs = tuple(
            EventObject(self.objects[t].system, t, k, self.objects[t].qualifier)
            for t, k in keys.items()
        )
        anchor = subject if subject in keys else next(iter(keys))
        event_key = (text(self.event_id(values)) if self.event_id else None) or (
            f"{anchor}:{keys[anchor]}"
        )
        attributes = {
            a.name: v
            for a in self.attributes
            if (v := typed(a.read(values), a.type, a.label, self.zone)) is not None
        }
        event = check_event(EventRow(activity, at, m.source_system, event_key, refs, attributes))
        links = [
            check_link(
                LinkRow(
                    self.objects[lk.from_].system,
                    lk.from_,
                    keys[lk.from_],
                    self.objects[lk.to].system,
                    lk.to,
                    keys[lk.to],
                    lk.qualifier,
                    m.source_system,
                )
            )
            for lk in m.links
            if lk.from_ in keys and lk.to in keys
        ]
        return Unit(where, values, objects=objects, events=[event], links=links)

    def _object(
        self, type_: ObjectType, key: str, values: Mapping[str, Any], at: datetime
    ) -> ObjectRow:
        reader = self.objects[type_]
        dims: dict[str, Any] = {}
        for name, read, label in reader.dimensions:
            raw = read(values)
            dims[name] = parse_amount(raw, label) if name == "amount" else text(raw)
        attributes = {
            a.name: v
            for a in reader.attributes
            if (v := typed(a.read(values), a.type, a.label, self.zone)) is not None
        }
        row = ObjectRow(
            type_, reader.system, key, **dims, attributes=attributes, source_updated_at=at
        )
        return check_object(row, self.calendars)


def _hint(type_: str) -> str:
    return (
        f" (if `objects.{type_}` names one on rows about something else, list the activities "
        f"that carry it under `on`; else see the {type_}'s own quarantined rows)"
    )


def import_events(
    engine: Engine,
    path: Path,
    mapping: EventLogMapping,
    *,
    calendars: Collection[str] = tuple(DEFAULT_COUNTRIES),
    progress: bool | None = None,
    batch_rows: int = BATCH_ROWS,
    max_quarantined: float = MAX_QUARANTINED,
) -> ImportReport:
    """Import the flat event log at `path`; bad rows are quarantined, the rest stored.

    `calendars`: the legal entity codes with a configured calendar (the settings'
    `legal_entities`); an object of another entity is refused. The mapping is checked against
    the file first (`MappingFileError`, nothing read or logged); an import that quarantines more
    than `max_quarantined` of its rows fails (`ImportRejected`) after storing the rest."""
    columns = [c for _, c in mapping.columns()]
    with open_source(path, columns, mapping.format, mapping.delimiter) as source:
        sample = source.sample(SAMPLE_ROWS)
        refuse(
            mapping.source, file_problems(mapping, source.header, source.kinds, sample, calendars)
        )
        mapper = RowMapper(mapping, calendars)
        name = collector_name("events", path)
        cursor: dict[str, Any] = {"file": path.name, "fingerprint": fingerprint(path), "row": 0}
        references = References(engine, hold=True, hint=_hint)
        with import_run(
            engine,
            name,
            "events",
            references,
            total=source.total,
            unit=source.unit,
            progress=progress,
            batch_rows=batch_rows,
            max_quarantined=max_quarantined,
        ) as run:
            for row in source:
                cursor["row"] = row.number
                if row.values is None:
                    run.refuse(row.where, row.error or RowError("unreadable"), row.raw or "")
                else:
                    try:
                        run.add(mapper.map(row.values, row.where))
                    except (MappingError, ValueError) as exc:
                        run.refuse(row.where, exc, row.values)
                if run.due:
                    run.write({**cursor, "complete": False})
                    run.advance_to(source.position())
            run.write({**cursor, "complete": True}, final=True)
            run.advance_to(source.total)
    return run.report

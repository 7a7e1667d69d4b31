"""`throughline import ocel FILE [--mapping MAP.yaml]`: an OCEL 2.0 log (JSON or SQLite).

The inverse of `metrics.ocel.write_ocel`. Objects come with their dimensions (the attributes the
mapping names under `dimensions`), other attributes (the latest value of each; those the KPIs
read, such as ``billable``, as the type they need) and their object-to-object links; events with
their activity, time, attributes and event-to-object relations. The mapping (`ocel_mapping`,
every key documented there) translates the log's names into Throughline's vocabulary; without
one, ``throughline-ocel.yaml`` reads Throughline's own export, whose object ids are
``<type>:<source system>:<source key>``, and a log whose ids are not is refused before reading.

An event is stored with the source system of the object it is about and its OCEL id as its
source key (or with the system and key its `event_source` attributes carry: Throughline's export
writes them, so each event gets its original id back), so importing the same file again adds
nothing. Events of the mapping's `sync_attempts` type are integration sync attempts, objects of
its `fx_rates` type daily exchange rates (see `ocel_extra`); both are upserted like a collector's
rows. The log's ``throughline:asOf`` (when the export was taken) becomes the import's source
time, so the imported store reports at the same instant as the one exported. An object or event
that cannot be mapped is quarantined with its position in the file and id (``object 12 (id
o12)``) and the reason; names the mapping lists under `skip_*` are left out and counted. Objects
are stored before events, so an event relating to an object that was quarantined (or that the
store lacks) is quarantined too, naming it; an object's link to such an object is quarantined
and the object stored without it. With plain ids a first pass notes each object's type (memory
grows with the number of objects, not events).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from collectors.errors import MappingError
from metrics.calendar import DEFAULT_COUNTRIES
from metrics.canonical import (
    Activity,
    EventObject,
    EventRow,
    FxRateRow,
    LinkQualifier,
    LinkRow,
    ObjectRow,
    ObjectType,
    SyncAttemptRow,
)
from metrics.ocel import AS_OF, LINK_SOURCE
from throughline.importers.mapping_file import refuse
from throughline.importers.model_rules import attribute_type, subject_type
from throughline.importers.ocel_extra import fx_rates, sync_attempt
from throughline.importers.ocel_mapping import QUALIFIER_HINT, OcelMapping, load_ocel_mapping
from throughline.importers.ocel_read import Item, JsonOcel, SqliteOcel, open_ocel
from throughline.importers.refs import References, Unit
from throughline.importers.run import (
    BATCH_ROWS,
    MAX_QUARANTINED,
    ImportFailed,
    ImportReport,
    ImportRun,
    collector_name,
    fingerprint,
    import_run,
)
from throughline.importers.value_spec import typed
from throughline.importers.values import (
    RowError,
    check_event,
    check_link,
    check_object,
    decode_json,
    parse_amount,
    parse_time,
    text,
    vocabulary,
    zone,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Ref = tuple[str, ObjectType, str]  # (source system, type, source key)


class OcelMapper:
    """Maps OCEL objects and events to canonical rows (`MappingError` with a reason)."""

    def __init__(
        self, mapping: OcelMapping, naive_zone: tzinfo | None, calendars: Collection[str]
    ) -> None:
        self.m = mapping
        self.zone = zone(mapping.timezone) or naive_zone
        self.calendars = calendars
        self.hint = QUALIFIER_HINT if mapping.event_qualifiers == "keep" else ""
        self.skip_types = set(mapping.skip_object_types)
        self.types: dict[str, ObjectType | None] = {}  # plain ids: OCEL id → type (None: skip)

    def object_type(self, name: Any) -> ObjectType | None:
        """The Throughline type of an OCEL object type; None when the mapping skips it."""
        word = str(name or "")
        if word in self.skip_types:
            return None
        return vocabulary(word, self.m.object_types, ObjectType, "object type", "object_types")

    def remember(self, item: Item) -> None:
        """Note a plain object id's type (first pass over the objects)."""
        try:
            self.types[str(item.get("id"))] = self.object_type(item.get("type"))
        except MappingError:
            self.types[str(item.get("id"))] = None

    def ref(self, oid: Any) -> Ref | None:
        """(system, type, key) of an object id; None when its type is skipped."""
        key = str(oid or "")
        if self.m.object_ids == "plain":
            if key not in self.types:
                raise RowError(
                    f"relates to object {key!r:.60} that the log does not define",
                    "relates to an object that the log does not define",
                )
            type_ = self.types[key]
            return None if type_ is None else (self.m.source_system, type_, key)
        parts = key.split(":", 2)
        if len(parts) != 3 or not all(parts):
            raise RowError(
                f"object id {key!r:.60} is not <type>:<system>:<key>",
                "object id is not <type>:<system>:<key>",
            )
        type_ = self.object_type(parts[0])
        return None if type_ is None else (parts[1], type_, parts[2])

    def is_sync(self, item: Item) -> bool:
        """Whether an OCEL event is a sync attempt."""
        return self.m.sync_attempts is not None and item.get("type") == self.m.sync_attempts

    def is_fx(self, item: Item) -> bool:
        """Whether an OCEL object is an FX rate (a currency pair)."""
        return self.m.fx_rates is not None and item.get("type") == self.m.fx_rates

    def sync_attempt(self, item: Item) -> SyncAttemptRow:
        """An OCEL sync attempt event → its row."""
        refs: list[Ref] = []
        for rel in item.get("relationships") or []:
            ref = self.ref(rel.get("objectId"))
            if ref is not None and ref not in refs:
                refs.append(ref)
        return sync_attempt(item, refs, self.zone, self.m.source_system)

    def fx_rates(self, item: Item) -> list[FxRateRow]:
        """An OCEL FX rate object → its daily rates."""
        return fx_rates(item, self.zone, self.m.source_system)

    def _value(self, value: Any) -> Any:
        return decode_json(value) if self.m.json_attributes else value

    def object(self, item: Item) -> tuple[ObjectRow, list[LinkRow]] | None:
        """An OCEL object → its row and links (None when its type is skipped)."""
        type_ = self.object_type(item.get("type"))
        ref = self.ref(item.get("id"))
        if type_ is None or ref is None:
            return None
        if ref[1] != type_:
            raise RowError(f"id {item.get('id')!r:.60} names another type than {type_}",
                           f"id names another type than {type_}")  # fmt: skip
        system, _, key = ref
        latest: dict[str, tuple[datetime, Any]] = {}
        for a in item.get("attributes") or []:
            at = self._time(a.get("time"), f"time of attribute {a.get('name')}")
            name = str(a.get("name"))
            if name not in latest or at >= latest[name][0]:
                latest[name] = (at, a.get("value"))
        dims: dict[str, Any] = {}
        attributes: dict[str, Any] = {}
        for name, (_, value) in latest.items():
            dim = self.m.dimensions.get(name)
            if dim == "amount":
                dims[dim] = parse_amount(value, name)
            elif dim is not None:
                dims[dim] = text(value)
            elif value is not None:
                needed = attribute_type(type_, name)
                value = self._value(value) if needed is None else typed(value, needed, name)
                attributes[name] = value
        times = [at for at, _ in latest.values() if at != EPOCH]
        row = ObjectRow(type_, system, key, **dims, attributes=attributes,
                        source_updated_at=max(times) if times else None)  # fmt: skip
        return check_object(row, self.calendars), self._links(ref, item.get("relationships") or [])

    def _links(self, source: Ref, relationships: list[Any]) -> list[LinkRow]:
        links = []
        for rel in relationships:
            target = self.ref(rel.get("objectId"))
            if target is None:
                continue
            qualifier = self.link_qualifier(rel.get("qualifier"))
            system = text(rel.get(LINK_SOURCE)) or source[0]
            links.append(check_link(LinkRow(*source, *target, qualifier, system)))
        return links

    def link_qualifier(self, name: Any) -> LinkQualifier:
        word = str(name or "")
        found = self.m.link_qualifiers.get(word)
        if found is not None:
            return found
        try:
            return LinkQualifier(word)
        except ValueError:
            raise RowError(
                f"object-to-object qualifier {word!r:.40} is not a Throughline link: map it "
                "under `link_qualifiers`"
            ) from None

    def activity(self, name: Any) -> Activity | None:
        word = str(name or "")
        if word in self.m.skip_activities:
            return None
        return vocabulary(word, self.m.activities, Activity, "activity", "activities")

    def event(self, item: Item) -> EventRow | None:
        """An OCEL event → its row (None when its activity is skipped)."""
        activity = self.activity(item.get("type"))
        if activity is None:
            return None
        at = self._time(item.get("time"), "time")
        refs: list[EventObject] = []
        for rel in item.get("relationships") or []:
            ref = self.ref(rel.get("objectId"))
            if ref is None:
                continue
            qualifier = text(rel.get("qualifier")) if self.m.event_qualifiers == "keep" else None
            found = EventObject(*ref, qualifier or ref[1].value)
            if found not in refs:
                refs.append(found)
        attributes = {
            str(a.get("name")): self._value(a.get("value"))
            for a in item.get("attributes") or []
            if a.get("value") is not None
        }
        subject = subject_type(activity)
        system = next((r.source_system for r in refs if r.type == subject), None)
        system = system or (refs[0].source_system if refs else self.m.source_system)
        key = text(item.get("id"))
        if key is None:
            raise RowError("the event has no id")
        source = self.m.event_source
        if source is not None and source.system in attributes and source.key in attributes:
            system = str(attributes.pop(source.system))
            key = str(attributes.pop(source.key))
        return check_event(EventRow(activity, at, system, key, tuple(refs), attributes), self.hint)

    def _time(self, value: Any, name: str) -> datetime:
        return parse_time(value, name, self.zone)


def _refuse_foreign_ids(path: Path, mapping: OcelMapping, first: str | None) -> None:
    """Throughline's own mapping on a log whose ids are not ``<type>:<system>:<key>``."""
    if mapping.object_ids != "throughline" or first is None:
        return
    parts = first.split(":", 2)
    if len(parts) == 3 and parts[0] in ObjectType._value2member_map_ and all(parts):
        return
    fix = (
        "import it with --mapping naming its types (`object_ids: plain`, see "
        "examples/ocel-mapping.yaml)"
        if mapping.is_default
        else "set `object_ids: plain` in the mapping"
    )
    raise ImportFailed(
        f"{path}: object ids such as {first!r:.60} are not Throughline's own "
        f"(<type>:<system>:<key>), so this log comes from another tool: {fix}"
    )


def import_ocel(
    engine: Engine,
    path: Path,
    mapping: OcelMapping | None = None,
    *,
    calendars: Collection[str] = tuple(DEFAULT_COUNTRIES),
    progress: bool | None = None,
    batch_rows: int = BATCH_ROWS,
    max_quarantined: float = MAX_QUARANTINED,
) -> ImportReport:
    """Import the OCEL 2.0 log at `path` (JSON or SQLite): objects first, then events.

    `calendars`: the legal entity codes with a configured calendar (the settings'
    `legal_entities`). The mapping is checked against the log's declared types first
    (`MappingFileError`, nothing logged); an import that quarantines more than
    `max_quarantined` of its items fails (`ImportRejected`) after storing the rest."""
    mapping = mapping or load_ocel_mapping()
    log = open_ocel(path)
    try:
        refuse(mapping.source, mapping.log_problems(log.declared))
        _refuse_foreign_ids(path, mapping, log.first_object_id())
        limits = (batch_rows, max_quarantined)
        return _import(engine, path, mapping, log, calendars, progress, limits)
    finally:
        if isinstance(log, SqliteOcel):
            log.close()


def _hint(type_: str) -> str:
    return f" (see the {type_}'s own quarantined entry, if any)"


def _import(
    engine: Engine, path: Path, mapping: OcelMapping, log: JsonOcel | SqliteOcel,
    calendars: Collection[str], progress: bool | None, limits: tuple[int, float],
) -> ImportReport:  # fmt: skip
    mapper = OcelMapper(mapping, UTC if log.naive_utc else None, calendars)
    passes = 3 if mapping.object_ids == "plain" else 2
    by_bytes = isinstance(log, JsonOcel)
    name = collector_name("ocel", path)
    cursor: dict[str, Any] = {"file": path.name, "fingerprint": fingerprint(path)}
    references = References(engine, hold=True, hint=_hint)  # links may name later objects
    with import_run(
        engine, name, "ocel", references, total=log.size * (passes if by_bytes else 1),
        unit="B" if by_bytes else "items", progress=progress, batch_rows=limits[0],
        max_quarantined=limits[1],
    ) as run:  # fmt: skip
        exported_at = log.header(AS_OF)
        if exported_at is not None:
            try:
                run.reached(parse_time(exported_at, AS_OF, UTC))
            except MappingError as exc:
                raise ImportFailed(f"{path}: {exc.reason}") from exc
        base = 0
        if mapping.object_ids == "plain":
            for item in log.objects():
                mapper.remember(item)
            base = log.size if by_bytes else 0
        _import_items(run, mapper, "objects", log.objects(), log, cursor, base)
        run.write({**cursor, "complete": False}, final=True)
        references.hold = False  # every object is stored: an event is settled at once
        base += log.size if by_bytes else 0
        _import_items(run, mapper, "events", log.events(), log, cursor, base)
        run.write({**cursor, "complete": True}, final=True)
    return run.report


def _unit(mapper: OcelMapper, kind: str, item: Item, where: str) -> Unit | None:
    """What one item adds to the store; None when the mapping skips it."""
    unit = Unit(where, item)
    if kind == "objects":
        if mapper.is_fx(item):
            unit.fx_rates = mapper.fx_rates(item)
            return unit
        found = mapper.object(item)
        if found is None:
            return None
        unit.objects, unit.links = [found[0]], found[1]
        return unit
    if mapper.is_sync(item):
        unit.sync_attempts = [mapper.sync_attempt(item)]
        return unit
    event = mapper.event(item)
    if event is None:
        return None
    unit.events = [event]
    return unit


def _import_items(
    run: ImportRun, mapper: OcelMapper, kind: str, items: Iterator[Item],
    log: JsonOcel | SqliteOcel, cursor: dict[str, Any], base: int,
) -> None:  # fmt: skip
    """Store one array of the log (`kind`: objects or events) in batches."""
    for number, item in enumerate(items, 1):
        cursor[kind] = number
        where = f"{kind[:-1]} {number} (id {str(item.get('id'))[:80]})"
        try:
            run.add(_unit(mapper, kind, item, where))
        except (MappingError, ValueError) as exc:
            run.refuse(where, exc, item)
        if run.due:
            run.write({**cursor, "complete": False})
            run.advance_to(base + log.position())

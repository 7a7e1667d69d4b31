"""`throughline import ocel FILE [--mapping MAP.yaml]`: an OCEL 2.0 log (JSON or SQLite).

The inverse of `store.ocel_export.write_ocel`. Objects come with their dimensions (the attributes
the mapping names under `dimensions`), other attributes (the latest value of each; those the KPIs
read, such as ``billable``, as the type they need) and their object-to-object links; events with
their activity, time, attributes and event-to-object relations. The mapping (`ocel_mapping`, every
key documented there) translates the log's names into Throughline's vocabulary; without one,
``throughline-ocel.yaml`` reads Throughline's own export, whose object ids are ``<type>:<source
system>:<source key>``, and a log whose ids are not is refused before reading.

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
from datetime import UTC
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from collectors.errors import MappingError
from foundation.business_time import DEFAULT_COUNTRIES
from store.canonical import ObjectType
from store.ocel_export import AS_OF
from throughline.importers.mapping_file import refuse
from throughline.importers.ocel_mapper import OcelMapper
from throughline.importers.ocel_mapping import OcelMapping, load_ocel_mapping
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
from throughline.importers.values import parse_time


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
    engine: Engine,
    path: Path,
    mapping: OcelMapping,
    log: JsonOcel | SqliteOcel,
    calendars: Collection[str],
    progress: bool | None,
    limits: tuple[int, float],
) -> ImportReport:
    mapper = OcelMapper(mapping, UTC if log.naive_utc else None, calendars)
    passes = 3 if mapping.object_ids == "plain" else 2
    by_bytes = isinstance(log, JsonOcel)
    name = collector_name("ocel", path)
    cursor: dict[str, Any] = {"file": path.name, "fingerprint": fingerprint(path)}
    references = References(engine, hold=True, hint=_hint)  # links may name later objects
    with import_run(
        engine,
        name,
        "ocel",
        references,
        total=log.size * (passes if by_bytes else 1),
        unit="B" if by_bytes else "items",
        progress=progress,
        batch_rows=limits[0],
        max_quarantined=limits[1],
    ) as run:
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
    run: ImportRun,
    mapper: OcelMapper,
    kind: str,
    items: Iterator[Item],
    log: JsonOcel | SqliteOcel,
    cursor: dict[str, Any],
    base: int,
) -> None:
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

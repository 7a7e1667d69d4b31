"""Property: whatever a flat log or an OCEL log holds (objects named before or after the rows
describing them, rows quarantined for bad values, columns naming objects on rows about
something else) and however it is batched, no stored event relation and no stored link names
an object that is not stored; and every row read is stored, skipped or quarantined
(SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from throughline.importers import (
    ImportRejected,
    MappingFileError,
    import_events,
    import_ocel,
    load_ocel_mapping,
)
from throughline.importers.events_mapping import EventLogMapping

COLUMNS = (
    "event_id",
    "activity",
    "occurred_at",
    "deal_id",
    "project_id",
    "work_item_id",
    "amount",
    "legal_entity",
)
ACTIVITIES = ("Won", "Created", "Logged", "Mail", "Teleport")
MAPPING = {
    "source_system": "dw",
    "activity": "activity",
    "timestamp": "occurred_at",
    "event_id": "event_id",
    "activities": {"Won": "deal.won", "Created": "project.created", "Logged": "work.logged"},
    "skip_activities": ["Mail"],
    "objects": {
        "deal": {
            "key": "deal_id",
            "dimensions": {"amount": "amount", "legal_entity": "legal_entity"},
        },
        "project": {"key": "project_id"},
        "work_item": {"key": "work_item_id", "attributes": {"project_id": "project_id"}},
    },
    "links": [
        {"from": "deal", "to": "project", "qualifier": "provisions"},
        {"from": "work_item", "to": "project", "qualifier": "part_of"},
    ],
}
DANGLING = """
SELECT (SELECT count(*) FROM event_objects eo
        WHERE NOT EXISTS (SELECT 1 FROM objects o WHERE o.id = eo.object_id))
     + (SELECT count(*) FROM object_links l
        WHERE NOT EXISTS (SELECT 1 FROM objects o WHERE o.id = l.from_object_id)
           OR NOT EXISTS (SELECT 1 FROM objects o WHERE o.id = l.to_object_id))
"""
EXAMPLES = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

keys = st.sampled_from(["", "1", "2", "3"])
rows = st.fixed_dictionaries(
    {
        "event_id": st.sampled_from(["", "E1", "E2", "E3", "E4"]),
        "activity": st.sampled_from(ACTIVITIES),
        "occurred_at": st.sampled_from(
            ["2026-01-05T10:00:00Z", "2026-01-06T11:30:00+01:00", "2026-01-07T09:00:00", ""]
        ),
        "deal_id": keys.map(lambda k: k and f"D{k}"),
        "project_id": keys.map(lambda k: k and f"P{k}"),
        "work_item_id": keys.map(lambda k: k and f"W{k}"),
        "amount": st.sampled_from(["", "100", "lots"]),
        "legal_entity": st.sampled_from(["", "US", "FR"]),
    }
)


def _clear(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in ("event_objects", "object_links", "events", "objects", "quarantine"):
            conn.exec_driver_sql(f"DELETE FROM {table}")


def _dangling(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(DANGLING)).scalar_one())


@EXAMPLES
@given(log=st.lists(rows, max_size=14), batch_rows=st.integers(1, 6), on=st.booleans())
def test_a_flat_import_never_stores_a_relation_to_a_missing_object(
    engine: Engine, tmp_path: Path, log: list[dict[str, Any]], batch_rows: int, on: bool
) -> None:
    _clear(engine)
    path = tmp_path / "log.csv"
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, COLUMNS)
        writer.writeheader()
        writer.writerows(log)
    spec = json.loads(json.dumps(MAPPING))
    if on:
        spec["objects"]["work_item"]["on"] = ["Logged"]
    mapping = EventLogMapping.model_validate(spec)

    try:
        report = import_events(engine, path, mapping, progress=False, batch_rows=batch_rows)
    except ImportRejected as exc:  # rejected after storing what it could: the same must hold
        report = exc.report
    except MappingFileError:  # its first rows have no offset: refused before reading
        times = [r["occurred_at"] for r in log if r["occurred_at"]]
        assert _dangling(engine) == 0 and not any("Z" in t or "+" in t for t in times)
        return

    assert _dangling(engine) == 0
    assert report.rows_read == len(log) and report.quarantined + report.skipped <= len(log)


def _ocel(
    draw_objects: list[tuple[str, str, str, list[str]]], events: list[tuple[str, list[str]]]
) -> dict[str, Any]:
    objects = [
        {
            "id": oid,
            "type": type_,
            "attributes": [{"name": "amount", "time": "2026-01-01T00:00:00Z", "value": amount}],
            "relationships": [{"objectId": t, "qualifier": "provisions"} for t in targets],
        }
        for oid, type_, amount, targets in draw_objects
    ]
    return {
        "objects": objects,
        "events": [
            {
                "id": f"e{n}",
                "type": activity,
                "time": "2026-01-05T10:00:00Z",
                "attributes": [],
                "relationships": [{"objectId": o, "qualifier": "of"} for o in oids],
            }
            for n, (activity, oids) in enumerate(events)
        ],
    }


ids = st.sampled_from(["d1", "d2", "p1", "p2"])
ocel_objects = st.lists(
    st.tuples(ids, st.just(""), st.sampled_from(["10", "lots"]), st.lists(ids, max_size=2)),
    max_size=6,
    unique_by=lambda o: o[0],
).map(lambda objs: [(i, "deal" if i[0] == "d" else "project", a, t) for i, _, a, t in objs])
ocel_events = st.lists(
    st.tuples(st.sampled_from(["deal.won", "project.created"]), st.lists(ids, max_size=2)),
    max_size=6,
)


@EXAMPLES
@given(objects=ocel_objects, events=ocel_events, batch_rows=st.integers(1, 4))
def test_an_ocel_import_never_stores_a_relation_to_a_missing_object(
    engine: Engine,
    tmp_path: Path,
    objects: list[tuple[str, str, str, list[str]]],
    events: list[tuple[str, list[str]]],
    batch_rows: int,
) -> None:
    _clear(engine)
    defined = {o[0] for o in objects}
    events = [(a, [o for o in oids if o in defined]) for a, oids in events]  # no unknown ids
    objects = [(i, t, a, [x for x in targets if x in defined]) for i, t, a, targets in objects]
    path = tmp_path / "log.json"
    path.write_text(json.dumps(_ocel(objects, events)))
    mapping_file = tmp_path / "map.yaml"
    mapping_file.write_text("object_ids: plain\nsource_system: pm\ndimensions: {amount: amount}\n")

    try:
        report = import_ocel(
            engine, path, load_ocel_mapping(mapping_file), progress=False, batch_rows=batch_rows
        )
    except ImportRejected as exc:
        report = exc.report

    assert _dangling(engine) == 0
    assert report.rows_read == len(objects) + len(events)

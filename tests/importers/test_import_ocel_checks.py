"""OCEL files that used to import quietly wrong, on SQLite and PostgreSQL: other formats and
versions (refused by name, nothing logged), a foreign log without a mapping, mapping names the
log does not declare, long qualifiers, naive SQLite times, links against the model, attributes
the KPIs read, entities without a calendar, and relations to objects that were quarantined.

The OCEL 1.0 and XML fixtures were written by pm4py 2.7 from `foreign.ocel.json`
(``pm4py.write_ocel_json``, ``write_ocel_xml``, ``write_ocel2_xml``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from store.tables import Event, Object, ObjectLink, Quarantine
from tests.importers.conftest import FIXTURES, counts, runs, to_ocel_sqlite
from throughline.importers import ImportFailed, MappingFileError, import_ocel, load_ocel_mapping

FOREIGN = FIXTURES / "foreign.ocel.json"
EMPTY = {"objects": 0, "events": 0, "event_objects": 0, "object_links": 0}
PLAIN = "object_ids: plain\nsource_system: pm\n"
DIMS = "dimensions: {legal_entity: legal_entity, amount: amount}\n"


def _log(path: Path, objects: list[dict[str, Any]], events: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"objects": objects, "events": events}))
    return path


def _obj(
    oid: str,
    type_: str,
    *attrs: tuple[str, Any],
    links: tuple[str, ...] = (),
    qualifier: str = "provisions",
) -> dict[str, Any]:
    return {
        "id": oid,
        "type": type_,
        "attributes": [{"name": n, "time": "2026-01-02T00:00:00Z", "value": v} for n, v in attrs],
        "relationships": [{"objectId": t, "qualifier": qualifier} for t in links],
    }


def _event(eid: str, type_: str, *oids: str, qualifier: str = "of") -> dict[str, Any]:
    return {
        "id": eid,
        "type": type_,
        "time": "2026-01-05T10:00:00Z",
        "attributes": [],
        "relationships": [{"objectId": o, "qualifier": qualifier} for o in oids],
    }


def _mapping(tmp_path: Path, text: str = PLAIN) -> Any:
    path = tmp_path / "map.yaml"
    path.write_text(text)
    return load_ocel_mapping(path)


def _reasons(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(select(Quarantine.source_key, Quarantine.reason)).all()
    return {key: reason.split(": ", 1)[1] for key, reason in rows}


@pytest.mark.parametrize(
    ("name", "says"),
    [
        (
            "ocel1.jsonocel",
            "OCEL 1.0 JSON (keys ocel:global-event …), which Throughline does not "
            "read: convert it to OCEL 2.0 JSON first, e.g. with pm4py: pm4py.write_ocel2_json("
            "pm4py.read_ocel('ocel1.jsonocel'), 'log.json')",
        ),
        (
            "ocel1.xmlocel",
            "OCEL 1.0 XML, which Throughline does not read: convert it to OCEL 2.0 "
            "JSON first, e.g. with pm4py: pm4py.write_ocel2_json(pm4py.read_ocel('ocel1.xmlocel'), "
            "'log.json')",
        ),
        (
            "ocel2.xml",
            "OCEL 2.0 XML, which Throughline does not read: convert it to OCEL 2.0 "
            "JSON first, e.g. with pm4py: pm4py.write_ocel2_json(pm4py.read_ocel2_xml('ocel2.xml'), "
            "'log.json')",
        ),
    ],
)
def test_ocel_1_0_and_xml_files_are_refused_by_name(engine: Engine, name: str, says: str) -> None:
    with pytest.raises(ImportFailed) as refused:
        import_ocel(engine, FIXTURES / name, progress=False)
    assert str(refused.value) == f"{FIXTURES / name}: {says}"
    assert runs(engine, f"import-ocel:{name}") == [] and counts(engine) == EMPTY


def test_json_that_is_not_an_ocel_2_log_is_refused(engine: Engine, tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text('{"ocelVersion": "2.0", "data": {"objects": []}}')
    with pytest.raises(
        ImportFailed,
        match=r"no `objects` or `events` \(top-level keys: "
        r"ocelVersion, data\)",
    ):
        import_ocel(engine, other, progress=False)
    listed = tmp_path / "list.json"
    listed.write_text("[]")
    with pytest.raises(ImportFailed, match=r"not an OCEL 2.0 log \(the JSON is not an object\)"):
        import_ocel(engine, listed, progress=False)
    assert counts(engine) == EMPTY


def test_a_foreign_log_without_a_mapping_is_refused_before_reading(engine: Engine) -> None:
    with pytest.raises(ImportFailed) as refused:
        import_ocel(engine, FOREIGN, progress=False)
    assert str(refused.value) == (
        f"{FOREIGN}: object ids such as 'o1' are not Throughline's own (<type>:<system>:<key>), "
        "so this log comes from another tool: import it with --mapping naming its types "
        "(`object_ids: plain`, see examples/ocel-mapping.yaml)"
    )
    assert runs(engine, "import-ocel:foreign.ocel.json") == [] and counts(engine) == EMPTY


def test_mapped_names_the_log_does_not_declare_are_refused_with_their_lines(
    engine: Engine, tmp_path: Path
) -> None:
    mapping = _mapping(
        tmp_path,
        PLAIN + "activities: {Win Oportunity: deal.won}\n"
        "object_types: {Opportunity: deal}\nskip_object_types: [Employe]\n",
    )
    with pytest.raises(MappingFileError) as refused:
        import_ocel(engine, FOREIGN, mapping, progress=False)
    assert str(refused.value).splitlines() == [
        f"{tmp_path / 'map.yaml'}: activities.Win Oportunity: the log declares no event type "
        "'Win Oportunity' (it declares: Create Project, Send Mail, Teleport, Win Opportunity) "
        "(line 3)",
        f"{tmp_path / 'map.yaml'}: skip_object_types[0]: the log declares no object type "
        "'Employe' (it declares: Employee, Opportunity, Project) (line 5)",
    ]
    assert runs(engine, "import-ocel:foreign.ocel.json") == []


def test_a_long_qualifier_names_the_mapping_key_that_fixes_it(
    engine: Engine, tmp_path: Path
) -> None:
    long = "the opportunity this event concerns most"
    path = _log(
        tmp_path / "q.json", [_obj("o1", "deal")], [_event("e1", "deal.won", "o1", qualifier=long)]
    )
    import_ocel(engine, path, _mapping(tmp_path), progress=False, max_quarantined=1.0)
    assert _reasons(engine) == {
        "event 1 (id e1)": (
            f"qualifier is longer than 32 characters: {long[:40]!r}… (set `event_qualifiers: type` "
            "in the mapping to relate by object type)"
        )
    }

    typed = _mapping(tmp_path, PLAIN + "event_qualifiers: type\n")
    assert import_ocel(engine, path, typed, progress=False).quarantined == 0
    assert counts(engine)["event_objects"] == 1


def test_naive_sqlite_times_are_utc_unless_the_mapping_names_a_timezone(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "foreign.sqlite"
    to_ocel_sqlite(FOREIGN, path)
    mapping = FIXTURES / "foreign-ocel.yaml"
    import_ocel(engine, path, load_ocel_mapping(mapping), progress=False)
    berlin = _mapping(
        tmp_path,
        mapping.read_text().replace(
            "source_system: pmtool", "source_system: berlin\ntimezone: Europe/Berlin"
        ),
    )
    import_ocel(engine, path, berlin, progress=False)

    with engine.connect() as conn:
        won = dict(
            conn.execute(
                select(Event.source_system, Event.occurred_at).where(Event.source_key == "ev1")
            ).all()
        )
    assert won == {
        "pmtool": datetime(2026, 1, 5, 10, tzinfo=UTC),
        "berlin": datetime(2026, 1, 5, 9, tzinfo=UTC),
    }  # 10:00 in Berlin (CET)


def test_a_link_against_the_model_and_an_unknown_entity_are_quarantined_with_what_names_them(
    engine: Engine, tmp_path: Path
) -> None:
    objects = [
        _obj("d1", "deal", ("legal_entity", "US")),
        _obj("p1", "project", links=("d1",)),  # a project that provisions a deal
        _obj("d2", "deal", ("legal_entity", "FR"), links=("p2",)),
        _obj("p2", "project", ("legal_entity", "US")),
        _obj("p3", "project", links=("d1",), qualifier="amends"),
    ]
    events = [
        _event("e1", "deal.won", "d1"),
        _event("e2", "project.created", "p1", "d1"),
        _event("e3", "deal.won", "d2"),
        _event("e4", "project.created", "p2"),
    ]
    path = _log(tmp_path / "links.json", objects, events)

    mapping = _mapping(tmp_path, PLAIN + DIMS)
    report = import_ocel(engine, path, mapping, progress=False, max_quarantined=1.0)

    names = "neither this log nor the store holds, so its event is not stored"
    assert _reasons(engine) == {
        "object 2 (id p1)": "provisions links deal → project, not project → deal: swap from and to",
        "object 3 (id d2)": "legal entity 'FR' has no business calendar: add it to the "
        "settings' `legal_entities` (code, name, country, currency); configured: DE, UK, US",
        "object 5 (id p3)": "amends links change_order → project, not project → deal",
        "event 2 (id e2)": f"names project 'p1' that {names} (see the project's own quarantined "
        "entry, if any)",
        "event 3 (id e3)": f"names deal 'd2' that {names} (see the deal's own quarantined entry, "
        "if any)",
    }
    assert (report.rows_read, report.quarantined) == (9, 5)
    with engine.connect() as conn:
        assert sorted(conn.execute(select(Object.source_key)).scalars()) == ["d1", "p2"]
        assert conn.execute(select(ObjectLink.qualifier)).all() == []


def test_a_link_to_a_quarantined_object_is_quarantined_and_its_object_stored(
    engine: Engine, tmp_path: Path
) -> None:
    objects = [
        _obj("d1", "deal", links=("p9",)),
        _obj("p9", "project", ("amount", "lots")),
        _obj("d2", "deal", links=("p2",)),
        _obj("p2", "project"),
    ]
    path = _log(tmp_path / "later.json", objects, [_event("e1", "deal.won", "d1")])

    report = import_ocel(
        engine, path, _mapping(tmp_path, PLAIN + DIMS), progress=False, batch_rows=1
    )

    assert _reasons(engine) == {
        "object 2 (id p9)": "amount is not a number: 'lots'",
        "object 1 (id d1)": "names project 'p9' that neither this log nor the store holds, so "
        "its links are not stored (see the project's own quarantined entry, if any)",
    }
    assert report.quarantined == 2
    with engine.connect() as conn:
        assert sorted(conn.execute(select(Object.source_key)).scalars()) == ["d1", "d2", "p2"]
        assert counts(engine)["object_links"] == 1  # d2 → p2, found though p2 came later


def test_attributes_the_kpis_read_get_their_type_or_are_refused(
    engine: Engine, tmp_path: Path
) -> None:
    objects = [
        _obj("w1", "work_item", ("billable", "true"), ("work_date", "2026-01-12")),
        _obj("w2", "work_item", ("billable", "maybe")),
        _obj("w3", "work_item", ("billable", 0), ("note", "true")),
    ]
    path = _log(tmp_path / "typed.json", objects, [])

    import_ocel(engine, path, _mapping(tmp_path), progress=False)

    with engine.connect() as conn:
        stored = dict(conn.execute(select(Object.source_key, Object.attributes)).all())
    assert stored == {
        "w1": {"billable": True, "work_date": "2026-01-12"},
        "w3": {"billable": False, "note": "true"},
    }
    assert _reasons(engine) == {"object 2 (id w2)": "billable is not a yes/no value: 'maybe'"}

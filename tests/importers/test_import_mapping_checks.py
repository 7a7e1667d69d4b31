"""A flat log's mapping is checked before any row is read: each mistake that used to import
quietly (every row quarantined, unbilled work 0, every deal stuck) is a named error with the
key and line of the YAML, and nothing is stored or logged (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine

from tests.importers.conftest import EXAMPLE_MAPPING, FIXTURES, counts, runs
from throughline.importers import MappingFileError, import_events, load_event_log_mapping

EVENTS = FIXTURES / "events.csv"


def _mapping(tmp_path: Path, *changes: tuple[str, str]) -> Path:
    """The example mapping with `changes` (old text → new text) applied, as a file."""
    text = EXAMPLE_MAPPING.read_text()
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "map.yaml"
    path.write_text(text)
    return path


def _line(path: Path, text: str) -> int:
    """The line of `path` holding `text`."""
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def _parquet_log(tmp_path: Path, columns: dict[str, Any], extra: str = "") -> tuple[Path, Path]:
    """A one-row Parquet log of `columns` (with activity and deal_id) and a mapping for it
    (`extra` YAML lines before `objects`)."""
    path = tmp_path / "log.parquet"
    pq.write_table(pa.table({"activity": ["Opportunity Won"], "deal_id": ["D1"], **columns}), path)
    mapping = tmp_path / "flat.yaml"
    mapping.write_text(
        "source_system: dw\nactivity: activity\ntimestamp: occurred_at\n"
        f"{extra}objects: {{deal: {{key: deal_id}}}}\n"
    )
    return path, mapping


def _refused(engine: Engine, csv: Path, mapping: Path, **options: object) -> str:
    """The message of an import refused before reading; asserts nothing was stored or logged."""
    with pytest.raises(MappingFileError) as refused:
        import_events(engine, csv, load_event_log_mapping(mapping), progress=False, **options)  # type: ignore[arg-type]
    assert counts(engine) == {"objects": 0, "events": 0, "event_objects": 0, "object_links": 0}
    assert runs(engine, f"import-events:{csv.name}") == []
    return str(refused.value)


def test_a_log_without_offsets_and_no_timezone_is_refused_before_reading(
    engine: Engine, tmp_path: Path
) -> None:
    naive = tmp_path / "naive.csv"
    naive.write_text(EVENTS.read_text().replace("Z,", ",").replace("+01:00,", ","))
    mapping = _mapping(tmp_path)

    message = _refused(engine, naive, mapping)

    assert message == (
        f"{mapping}: timestamp: column 'occurred_at' has no offset in its first 10 rows (e.g. "
        "'2026-01-05T10:00:00'): set `timezone` to the zone they are in (e.g. timezone: "
        f"Europe/Berlin) (line {_line(mapping, 'timestamp: occurred_at')})"
    )
    naive_times = pa.array([1_767_607_200_000_000], pa.timestamp("us"))
    parquet, flat = _parquet_log(tmp_path, {"occurred_at": naive_times})
    assert _refused(engine, parquet, flat) == (
        f"{flat}: timestamp: column 'occurred_at' holds times without a zone (timestamp[us]): "
        "set `timezone` to the zone they are in (e.g. timezone: Europe/Berlin) (line 3)"
    )


def test_billable_read_as_text_is_refused_naming_the_key_and_line(tmp_path: Path) -> None:
    mapping = _mapping(
        tmp_path, ("billable: {column: billable, type: boolean}", "billable: billable")
    )
    with pytest.raises(MappingFileError) as refused:
        load_event_log_mapping(mapping)
    assert str(refused.value) == (
        f"{mapping}: objects.work_item.attributes.billable: Throughline reads the billable of a "
        "work_item as a boolean, and a string would not count: write {column: billable, type: "
        f"boolean}} (line {_line(mapping, 'billable: billable')})"
    )


def test_a_parquet_column_of_booleans_read_as_text_is_refused(
    engine: Engine, tmp_path: Path
) -> None:
    columns = {"occurred_at": ["2026-01-05T10:00:00Z"], "rush": [True]}
    path, mapping = _parquet_log(tmp_path, columns, "event_attributes: {rush: rush}\n")

    assert _refused(engine, path, mapping) == (
        f"{mapping}: event_attributes.rush: column 'rush' holds bool values, read here as text: "
        "write {column: rush, type: boolean} (line 4)"
    )


def test_a_link_against_the_model_direction_is_refused(tmp_path: Path) -> None:
    mapping = _mapping(
        tmp_path,
        (
            "{from: deal, to: project, qualifier: provisions}",
            "{from: project, to: deal, qualifier: provisions}",
        ),
        (
            "{from: invoice, to: payment, qualifier: settled_by}",
            "{from: invoice, to: work_item, qualifier: settled_by}",
        ),
    )
    with pytest.raises(MappingFileError) as refused:
        load_event_log_mapping(mapping)
    assert str(refused.value).splitlines() == [
        f"{mapping}: links[0]: provisions links deal → project, not project → deal: swap from "
        f"and to (line {_line(mapping, 'from: project, to: deal')})",
        f"{mapping}: links[4]: settled_by links invoice → payment, not invoice → work_item "
        f"(line {_line(mapping, 'qualifier: settled_by')})",
    ]


def test_every_problem_of_a_mapping_is_named_at_once_with_its_line(tmp_path: Path) -> None:
    mapping = tmp_path / "map.yaml"
    mapping.write_text(
        "source_system: dw\n"
        "activity: activity\n"
        "timestamp: at\n"
        "timezone: Europe/Berln\n"
        "activities: {Won: deal.won, Paid: payment.received}\n"
        "skip_activities: [Won]\n"
        "objects:\n"
        "  deal:\n"
        "    key: deal_id\n"
        "    on: [Won, Teleport]\n"
        "  project: {key: project_id}\n"
        "links:\n"
        "  - {from: deal, to: invoice, qualifier: provisions}\n"
    )
    with pytest.raises(MappingFileError) as refused:
        load_event_log_mapping(mapping)
    assert str(refused.value).splitlines() == [
        f"{mapping}: timezone: 'Europe/Berln' is not a known IANA zone (e.g. Europe/Berlin, UTC) "
        "(line 4)",
        f"{mapping}: links[0].to: invoice is not one of the mapped objects (line 13)",
        f"{mapping}: links[0]: provisions links deal → project, not deal → invoice (line 13)",
        f"{mapping}: skip_activities[0]: 'Won' is also mapped under `activities` (line 6)",
        f"{mapping}: objects.deal.on[1]: 'Teleport' is neither under `activities` nor a "
        "Throughline activity (line 10)",
        f"{mapping}: activities.Paid: payment.received is about a payment, but `objects` maps "
        "none: map one, or skip 'Paid' (`skip_activities`) (line 5)",
    ]


def test_values_name_their_shape_when_malformed(tmp_path: Path) -> None:
    mapping = tmp_path / "map.yaml"
    mapping.write_text(
        "source_system: dw\nactivity: activity\ntimestamp: at\nobjects:\n"
        "  deal: {key: {column: deal_id, value: D}}\n"
        "  invoice:\n    key: [INV-]\n    dimensions: {amount: {value: 5, type: number}}\n"
    )
    with pytest.raises(MappingFileError) as refused:
        load_event_log_mapping(mapping)
    assert str(refused.value).splitlines() == [
        f"{mapping}: objects.deal.key: give one of: a column name, {{column: NAME, type: "
        'TYPE}, {value: CONSTANT} or a list of parts such as ["INV-", {column: NAME}] (line 5)',
        f"{mapping}: objects.invoice.key: built text needs a {{column: NAME}} part (else use "
        "{value: …}) (line 7)",
        f"{mapping}: objects.invoice.dimensions.amount: `type` applies to a column (line 8)",
    ]


def test_a_constant_entity_without_a_calendar_is_refused_before_reading(
    engine: Engine, tmp_path: Path
) -> None:
    mapping = _mapping(
        tmp_path,
        (
            "legal_entity: legal_entity, practice: practice,\n"
            "                 owner: owner, currency: currency",
            "legal_entity: {value: FR}, practice: practice,\n"
            "                 owner: owner, currency: currency",
        ),
    )

    assert _refused(engine, EVENTS, mapping) == (
        f"{mapping}: objects.deal.dimensions.legal_entity: legal entity 'FR' has no business "
        "calendar: add it to the settings' `legal_entities` (code, name, country, currency); "
        f"configured: DE, UK, US (line {_line(mapping, 'legal_entity: {value: FR}')})"
    )
    report = import_events(
        engine, EVENTS, load_event_log_mapping(mapping), progress=False, calendars=["US", "FR"]
    )
    assert report.quarantined == 0


def test_yes_no_and_on_are_words_not_booleans_in_a_mapping(tmp_path: Path) -> None:
    mapping = _mapping(
        tmp_path, ("    on: [Payment Received]", "    on: [Payment Received]\n    qualifier: no")
    )
    loaded = load_event_log_mapping(mapping)
    assert loaded.objects["payment"].qualifier == "no"  # type: ignore[index]
    assert loaded.objects["payment"].on == ["Payment Received"]  # type: ignore[index]

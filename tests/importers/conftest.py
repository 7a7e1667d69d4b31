"""Helpers for the import tests: fixture files, the example mapping, store counts, the run log,
and an OCEL JSON log rewritten in the OCEL 2.0 SQLite layout."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from store.tables import CollectorRun, CollectorState, Event, EventObject, Object, ObjectLink
from throughline.importers import load_event_log_mapping
from throughline.importers.events import EventLogMapping

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).with_name("fixtures")
EXAMPLE_MAPPING = ROOT / "examples" / "event-log-mapping.yaml"


@pytest.fixture
def mapping() -> EventLogMapping:
    """The example mapping shipped under examples/ (the fixture files follow it)."""
    return load_event_log_mapping(EXAMPLE_MAPPING)


def counts(engine: Engine) -> dict[str, int]:
    """Rows in the event-log tables."""
    with engine.connect() as conn:
        return {
            model.__tablename__: int(
                conn.execute(select(func.count()).select_from(model)).scalar_one()
            )
            for model in (Object, Event, EventObject, ObjectLink)
        }


def runs(engine: Engine, collector: str) -> list[dict[str, Any]]:
    """The run-log entries of one import, oldest first."""
    r = CollectorRun
    query = (
        select(r.kind, r.status, r.rows_in, r.rows_quarantined, r.cursor_after, r.error)
        .where(r.collector == collector)
        .order_by(r.id)
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def cursor(engine: Engine, collector: str, stream: str) -> dict[str, Any] | None:
    """The saved cursor of an import."""
    s = CollectorState
    query = select(s.cursor).where(s.collector == collector, s.stream == stream)
    with engine.connect() as conn:
        value: dict[str, Any] | None = conn.execute(query).scalar_one_or_none()
        return value


def pg_env(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> str:
    """The engine's URL for the CLI (on PostgreSQL, its test schema through PGOPTIONS)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
        monkeypatch.setenv("PGOPTIONS", f"-c search_path={schema}")
    return engine.url.render_as_string(hide_password=False)


def to_ocel_sqlite(source: Path, target: Path) -> None:
    """The JSON log written in the OCEL 2.0 SQLite layout (times as UTC text, no offset)."""
    log = json.loads(source.read_text())

    def utc(value: str) -> str:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
        at = at.astimezone(UTC) if at.tzinfo else at
        return at.strftime("%Y-%m-%d %H:%M:%S")

    db = sqlite3.connect(target)
    db.executescript(
        "CREATE TABLE event (ocel_id TEXT, ocel_type TEXT);"
        "CREATE TABLE object (ocel_id TEXT, ocel_type TEXT);"
        "CREATE TABLE event_object (ocel_event_id TEXT, ocel_object_id TEXT, ocel_qualifier TEXT);"
        "CREATE TABLE object_object (ocel_source_id TEXT, ocel_target_id TEXT, ocel_qualifier TEXT);"
        "CREATE TABLE event_map_type (ocel_type TEXT, ocel_type_map TEXT);"
        "CREATE TABLE object_map_type (ocel_type TEXT, ocel_type_map TEXT);"
    )
    for kind in ("event", "object"):
        for t in log[f"{kind}Types"]:
            mapped = t["name"].replace(" ", "")
            db.execute(f"INSERT INTO {kind}_map_type VALUES (?, ?)", (t["name"], mapped))
            attrs = "".join(f', "{a["name"]}"' for a in t["attributes"])
            extra = ", ocel_changed_field TEXT" if kind == "object" else ""
            db.execute(
                f'CREATE TABLE "{kind}_{mapped}" (ocel_id TEXT, ocel_time TEXT{extra}{attrs})'
            )
    for o in log["objects"]:
        db.execute("INSERT INTO object VALUES (?, ?)", (o["id"], o["type"]))
        table = f'"object_{o["type"].replace(" ", "")}"'
        for a in o["attributes"]:
            column = f'"{a["name"]}"'
            try:
                db.execute(
                    f"INSERT INTO {table} (ocel_id, ocel_time, ocel_changed_field, {column}) "
                    "VALUES (?, ?, ?, ?)",
                    (o["id"], utc(a["time"]), a["name"], a["value"]),
                )
            except sqlite3.OperationalError:  # `stage` is not declared in objectTypes
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
                db.execute(
                    f"INSERT INTO {table} (ocel_id, ocel_time, ocel_changed_field, {column}) "
                    "VALUES (?, ?, ?, ?)",
                    (o["id"], utc(a["time"]), a["name"], a["value"]),
                )
        for r in o["relationships"]:
            db.execute(
                "INSERT INTO object_object VALUES (?, ?, ?)",
                (o["id"], r["objectId"], r["qualifier"]),
            )
    for e in log["events"]:
        db.execute("INSERT INTO event VALUES (?, ?)", (e["id"], e["type"]))
        names = [a["name"] for a in e["attributes"]]
        columns = "".join(f', "{n}"' for n in names)
        marks = "".join(", ?" for _ in names)
        db.execute(
            f'INSERT INTO "event_{e["type"].replace(" ", "")}" (ocel_id, ocel_time{columns}) '
            f"VALUES (?, ?{marks})",
            (e["id"], utc(e["time"]), *(a["value"] for a in e["attributes"])),
        )
        for r in e["relationships"]:
            db.execute(
                "INSERT INTO event_object VALUES (?, ?, ?)",
                (e["id"], r["objectId"], r["qualifier"]),
            )
    db.commit()
    db.close()

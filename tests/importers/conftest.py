"""Helpers for the import tests: fixture files, the example mapping, store counts, the run log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from metrics.models import CollectorRun, CollectorState, Event, EventObject, Object, ObjectLink
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

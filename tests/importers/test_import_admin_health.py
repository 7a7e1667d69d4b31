"""Imports on the collectors page: listed with their last run, rows and quarantined input, but a
one-off import never goes stale (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from collectors.runner import RunReport, finish_run, start_run
from metrics.views.admin import collector_health, runnable
from metrics.views.common import ViewConfig
from tests.importers.conftest import FIXTURES
from throughline.importers import ImportFailed, import_events, import_ocel
from throughline.importers.events import EventLogMapping


def test_an_import_shows_its_rows_and_quarantine_and_never_goes_stale(
    engine: Engine, mapping: EventLogMapping, tmp_path: Path
) -> None:
    # 5 of its 7 rows are bad: accepted here (this test is about the page, not the limit)
    report = import_events(
        engine, FIXTURES / "bad_rows.csv", mapping, progress=False, max_quarantined=1.0
    )
    broken = tmp_path / "broken.json"  # breaks after its first object: fails mid-import
    broken.write_text('{"objects": [{"id": "deal:crm:1", "type": "deal"}, {"id": ')
    with pytest.raises(ImportFailed):
        import_ocel(engine, broken, progress=False)
    run_id = start_run(engine, "demo_crm", "collect", datetime.now(UTC))
    finish_run(engine, RunReport("demo_crm", "success", run_id))

    two_days_on = datetime.now(UTC) + timedelta(days=2)
    config = ViewConfig(collectors={"demo_crm": ("crm", 300)})
    health = collector_health(engine, config, two_days_on).set_index("collector")

    assert list(health.index) == [
        "demo_crm",
        "import-events:bad_rows.csv",
        "import-ocel:broken.json",
    ]
    assert (report.written.total, report.quarantined) == (8, 5)
    imported = health.loc["import-events:bad_rows.csv"]
    assert (imported["health"], imported["kind"], imported["status"]) == (
        "imported",
        "import",
        "success",
    )
    assert (imported["rows_written"], imported["quarantined"]) == (8, 5)
    assert pd.notna(imported["last_run"]) and pd.notna(imported["last_success"])
    assert pd.isna(imported["lag_minutes"])
    failed = health.loc["import-ocel:broken.json"]
    assert (failed["health"], failed["rows_written"]) == ("import failed", 0)
    assert failed["last_error"].startswith("ImportFailed: ") and pd.isna(failed["lag_minutes"])
    assert runnable(health.reset_index()) == ["demo_crm"]  # "run now" never offers an import
    # a collector that last ran as long ago is stale
    assert health.loc["demo_crm", "health"] == "stale"
    assert health.loc["demo_crm", "lag_minutes"] == pytest.approx(2 * 24 * 60, abs=1)

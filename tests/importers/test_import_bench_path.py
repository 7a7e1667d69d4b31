"""The memory benchmark's path at small scale (bench/import_memory.py): a generated event log of
200 deals × 13 events imports completely, in batches, and a second import adds nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from bench.import_memory import _measure, generate
from metrics.fx import FxTable
from metrics.kpis.setup_latency import load_handoffs, setup_latency
from store.db import make_engine
from tests.importers.conftest import counts
from throughline.importers import import_events
from throughline.importers.events import EventLogMapping

DEALS = 200
# per deal: 8 objects (deal, project, 4 work items, invoice, payment); 25 event-object
# relations; 7 links (provisions, 4 × part_of, bills, settled_by)
STORE = {
    "objects": 8 * DEALS,
    "events": 13 * DEALS,
    "event_objects": 25 * DEALS,
    "object_links": 7 * DEALS,
}


def test_a_generated_log_imports_in_batches_on_both_databases(
    engine: Engine, mapping: EventLogMapping, tmp_path: Path
) -> None:
    path = tmp_path / "events.csv"
    assert generate(path, 13 * DEALS) == 13 * DEALS
    report = import_events(engine, path, mapping, progress=False, batch_rows=1_000)

    assert counts(engine) == STORE and report.quarantined == 0
    setup = setup_latency(
        load_handoffs(engine), datetime(2026, 6, 1, tzinfo=UTC), fx=FxTable([], "USD")
    )
    assert setup.stats.cases == DEALS and setup.touchless_share == 1.0 and setup.stuck.empty
    assert import_events(engine, path, mapping, progress=False).written.total == 0
    assert counts(engine) == STORE


def test_the_benchmark_measures_each_import_in_its_own_process(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    generate(path, 13 * DEALS)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    first, again = _measure(path, url), _measure(path, url)

    assert (first["rows"], first["quarantined"]) == (13 * DEALS, 0) and first["written"] > 0
    assert again["written"] == 0 and again["rows"] == 13 * DEALS
    assert 30 < first["peak_rss_mb"] < 2_000
    engine = make_engine(url)
    try:
        assert counts(engine) == STORE
    finally:
        engine.dispose()

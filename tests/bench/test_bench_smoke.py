"""The benchmark's agreement check as CI's smoke test: at 10 k deals, on SQLite and PostgreSQL,
Throughline's KPI report (case facts rebuilt from the event log) equals DuckDB's computation of
the same KPIs from the same rows exported to Parquet. No timing is asserted here: the timed
runs are `make bench` (bench/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from bench.duck import duckdb_report, export_parquet
from bench.firm import CUT
from bench.generate import Scale, batches, rows_in
from metrics.facts import rebuild_case_facts, write_and_refresh
from metrics.report import differences, kpi_report
from store.canonical import Batch
from store.db import make_engine
from store.migrate import upgrade
from store.write import CursorUpdate, write_batch
from tests.conftest import postgres_schema
from tests.test_kpis_command import EXPECTED, golden_firm

SMOKE_DEALS = 10_000
DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module")
def log() -> list[tuple[Batch, CursorUpdate]]:
    """The 10 k-deal base log, generated once for both databases."""
    return list(batches(Scale(SMOKE_DEALS), "base"))


@pytest.fixture
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty store of the requested kind."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path}/bench.db")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    with postgres_schema("b", migrated=True) as engine:
        yield engine


def _load_then_rebuild(engine: Engine, log: list[tuple[Batch, CursorUpdate]]) -> None:
    """The rows through the collectors' write path, the case facts rebuilt once at the end
    (what a backfill does; the incremental refresh is checked against it elsewhere)."""
    for batch, cursor in log:
        write_batch(engine, batch, cursor)
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    rebuild_case_facts(engine)


@pytest.mark.slow
@pytest.mark.parametrize("store", DATABASES, indirect=True)
def test_kpis_at_10k_deals_equal_duckdb_on_the_same_rows(
    store: Engine, log: list[tuple[Batch, CursorUpdate]], tmp_path: Path
) -> None:
    _load_then_rebuild(store, log)
    mine = kpi_report(store, CUT)
    counts = export_parquet(store, tmp_path / "parquet")
    theirs = duckdb_report(tmp_path / "parquet", CUT)
    assert counts["events"] == sum(len(b.events) for b, _ in log)
    assert sum(
        counts[t]
        for t in ("objects", "events", "event_objects", "object_links", "sync_attempts", "fx_rates")
    ) == sum(rows_in(b) for b, _ in log)
    assert differences(mine, theirs) == []
    figures: dict[str, Any] = {k: v["figures"] for k, v in mine["kpis"].items()}
    # the log exercises every path, so agreement is not agreement on zeros
    assert figures["setup_latency"]["cases"] > 7_000
    assert figures["stuck_handoffs"]["deals"] > 0
    assert figures["stuck_handoffs"]["excluded_no_project"] > 0
    assert figures["stuck_handoffs"]["excluded_reopened_lost"] > 0
    assert figures["invoice_correction_rate"]["corrections"] > 0
    assert figures["invoice_correction_rate"]["credit_notes"] > 0
    assert figures["unbilled_wip"]["items"] > 0
    assert figures["unbilled_wip"]["write_offs"]["items"] > 0
    assert figures["unbilled_wip"]["holds"]["items"] > 0
    assert figures["sync_open_exceptions"]["records"] > 0
    assert figures["sync_spikes"]["flow_days"] > 0


@pytest.mark.parametrize("store", DATABASES, indirect=True)
def test_duckdb_baseline_gives_the_hand_computed_numbers(store: Engine, tmp_path: Path) -> None:
    write_and_refresh(store, golden_firm())
    export_parquet(store, tmp_path / "parquet")
    from tests.metrics.builders import at

    theirs = duckdb_report(tmp_path / "parquet", at(2026, 3, 2))
    assert differences(theirs, EXPECTED) == []


def test_the_generator_is_deterministic_and_appends_about_one_percent() -> None:
    scale = Scale(300)
    first = [rows_in(b) for b, _ in batches(scale, "base", 5_000)]
    again = [rows_in(b) for b, _ in batches(scale, "base", 5_000)]
    assert first == again
    base = sum(len(b.events) for b, _ in batches(scale, "base"))
    extra = sum(len(b.events) for b, _ in batches(scale, "append"))
    assert 0.003 < extra / base < 0.03
    everything = sum(len(b.events) for b, _ in batches(scale, "all"))
    assert base + extra == everything


@pytest.mark.parametrize("store", DATABASES, indirect=True)
def test_the_pages_read_the_slo_board_the_worker_stored(
    store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.phases.page_draw import _store_slo_board, page_calls
    from metrics.slo import service

    write_and_refresh(
        store, golden_firm(), CursorUpdate("erp", "events", {"since": "2026-03-02T00:00:00+00:00"})
    )
    stored = _store_slo_board(store)
    assert stored["rows"] >= 4 and stored["seconds"] > 0

    def refuse(*_args: object) -> None:
        raise AssertionError("a page evaluated the SLO board")

    monkeypatch.setattr(service, "slo_inputs", refuse)  # what an evaluation reads first
    draws = page_calls(store)
    draws["overview"]()
    draws["slos"]()

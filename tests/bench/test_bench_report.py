"""`bench/RESULTS.md` says when each column was measured, and which phases `--only` measured
again later on the store a full run left; re-delivered batches keep the stored cursor."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from bench.generate import cursor
from bench.phases.ingest import saved_cursor
from bench.results import markdown
from bench.run import _remeasure
from metrics.facts import write_and_refresh
from store.canonical import Batch
from store.clock import reporting_time


def test_a_remeasured_phase_is_named_with_its_time_in_the_report() -> None:
    results = {
        "machine": {"cpus": 2},
        "scales": {
            "1m": {
                "deals": 1_000_000,
                "command": "make bench SCALES=1m",
                "sqlite": {"measured_at": "T0"},
                "postgresql": {
                    "measured_at": "T1",
                    "remeasured": {"pages": {"at": "T2", "load_average": [0, 0, 0]}},
                    "pages": {"overview": {"first_seconds": 0.5}},
                },
            },
        },
    }
    report = markdown(results)
    assert "Measured: 1m sqlite T0; 1m postgresql T1 (pages again T2)." in report
    assert "| page draw: overview (s, cold) | — | 0.50 ✅ |" in report


def test_remeasuring_needs_an_earlier_full_run() -> None:
    opts = argparse.Namespace(only=["pages"])
    with pytest.raises(SystemExit, match="earlier full run of 1m on postgresql"):
        _remeasure({"scales": {}}, "1m", "postgresql", 1_000_000, opts, "T")


def test_a_redelivered_batch_keeps_the_stream_s_cursor_and_the_reporting_clock(
    engine: Engine,
) -> None:
    late, early = datetime(2026, 1, 8, tzinfo=UTC), datetime(2023, 8, 2, tzinfo=UTC)
    assert saved_cursor(engine, cursor(early)) == cursor(early)  # nothing stored yet
    write_and_refresh(engine, Batch(), cursor(late))
    again = saved_cursor(engine, cursor(early))
    assert again == cursor(late)
    write_and_refresh(engine, Batch(), again)
    assert reporting_time(engine, now=datetime(2026, 11, 24, tzinfo=UTC)) == late

"""`bench/RESULTS.md` says when each column was measured, and which phases `--only` measured
again later on the store a full run left."""

from __future__ import annotations

import argparse

import pytest

from bench.run import _remeasure, markdown


def test_a_remeasured_phase_is_named_with_its_time_in_the_report() -> None:
    results = {
        "machine": {"cpus": 2},
        "scales": {
            "1m": {"deals": 1_000_000, "command": "make bench SCALES=1m",
                   "sqlite": {"measured_at": "T0"},
                   "postgresql": {"measured_at": "T1",
                                  "remeasured": {"pages": {"at": "T2", "load_average": [0, 0, 0]}},
                                  "pages": {"overview": {"first_seconds": 0.5}}}},
        },
    }  # fmt: skip
    report = markdown(results)
    assert "Measured: 1m sqlite T0; 1m postgresql T1 (pages again T2)." in report
    assert "| page draw: overview (s, cold) | — | 0.50 ✅ |" in report


def test_remeasuring_needs_an_earlier_full_run() -> None:
    opts = argparse.Namespace(only=["pages"])
    with pytest.raises(SystemExit, match="earlier full run of 1m on postgresql"):
        _remeasure({"scales": {}}, "1m", "postgresql", 1_000_000, opts, "T")

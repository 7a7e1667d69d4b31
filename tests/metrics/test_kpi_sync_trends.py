"""Sync error trends: hand-computed counters, classes, signatures, spikes, open exceptions and
time to resolve, from attempts written through the store."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import Engine

from metrics.facts import write_and_refresh
from metrics.kpis.common import Filters
from metrics.kpis.sync_trends import SyncErrorTrends, load_sync, sync_error_trends
from store.canonical import Batch, ErrorClass
from tests.metrics.builders import at, attempt, deal

AS_OF = at(2026, 3, 4, 13)
MARCH = Filters(date(2026, 3, 1), date(2026, 4, 1))
ERP = "erp-crm/invoice_status"


@pytest.fixture(scope="module")
def store(module_engine: Engine) -> Engine:
    e = module_engine
    write_and_refresh(e, deal("D1", "UK"))
    provisioning = [
        attempt("a1", "T1", 1, at(2026, 3, 2, 10), failed=True, deal_key="D1"),
        attempt("a2", "T1", 2, at(2026, 3, 2, 12), deal_key="D1"),
        attempt("a3", "T2", 1, at(2026, 3, 2, 10, 30)),
        attempt(
            "a4",
            "T3",
            1,
            at(2026, 3, 2, 11),
            failed=True,
            error_class=ErrorClass.TIMEOUT,
            signature="T",
        ),
        attempt(
            "a5",
            "T3",
            2,
            at(2026, 3, 2, 11, 30),
            failed=True,
            error_class=ErrorClass.TIMEOUT,
            signature="T",
        ),
    ]
    write_and_refresh(e, Batch(sync_attempts=provisioning))
    later = [
        attempt("a6", "T3", 3, at(2026, 3, 3, 9)),
        attempt("a7", "T4", 1, at(2026, 3, 2, 13), failed=True),
    ]
    write_and_refresh(e, Batch(sync_attempts=later))
    # erp-crm: one failure a day through February, then eight on 1 March (a spike)
    baseline = (
        [
            attempt(
                f"b{i}",
                f"B{i}",
                1,
                at(2026, 2, 1, 9) + timedelta(days=i),
                failed=True,
                flow=ERP,
                error_class=ErrorClass.CONNECTION,
                signature="503",
            )
            for i in range(28)
        ]
        + [
            attempt(
                f"s{i}",
                f"S{i}",
                1,
                at(2026, 3, 1, 9, i),
                failed=True,
                flow=ERP,
                error_class=ErrorClass.CONNECTION,
                signature="503",
            )
            for i in range(8)
        ]
        + [attempt(f"s{i}b", f"S{i}", 2, at(2026, 3, 1, 10, i), flow=ERP) for i in range(8)]
        + [
            attempt(f"b{i}b", f"B{i}", 2, at(2026, 2, 1, 10) + timedelta(days=i), flow=ERP)
            for i in range(28)
        ]
    )
    write_and_refresh(e, Batch(sync_attempts=baseline))
    return e


def trends(store: Engine, filters: Filters = MARCH) -> SyncErrorTrends:
    return sync_error_trends(load_sync(store, filters), AS_OF, filters=filters)


def test_counters_of_one_flow_and_day(store: Engine) -> None:
    daily = trends(store).daily.set_index(["integration", "day"])
    mar2 = daily.loc[("crm-psa", date(2026, 3, 2))]
    assert (mar2["attempts"], mar2["first_attempts"], mar2["failed_first_attempts"]) == (6, 4, 3)
    assert (mar2["retries"], mar2["failed_retries"], mar2["failing_records"]) == (2, 1, 3)
    assert mar2["first_attempt_error_rate"] == pytest.approx(0.75)
    mar3 = daily.loc[("crm-psa", date(2026, 3, 3))]
    assert (mar3["attempts"], mar3["first_attempts"], mar3["retries"]) == (1, 0, 1)


def test_totals_count_retries_apart(store: Engine) -> None:
    only = Filters(date(2026, 3, 2), date(2026, 4, 1))
    t = trends(store, only).totals
    assert (t.attempts, t.first_attempts, t.failed_first_attempts) == (7, 4, 3)
    assert (t.retries, t.failed_retries, t.failing_records) == (3, 1, 3)
    assert t.first_attempt_error_rate == pytest.approx(0.75)


def test_error_classes_and_top_signatures(store: Engine) -> None:
    r = trends(store, Filters(date(2026, 3, 2), date(2026, 4, 1)))
    classes = r.error_classes.set_index("error_class")
    assert classes.loc["validation", "failed_attempts"] == 2
    assert classes.loc["validation", "failing_records"] == 2
    assert classes.loc["timeout", "failed_attempts"] == 2
    assert classes.loc["timeout", "failing_records"] == 1
    top = r.top_signatures
    assert list(top["error_signature"]) == ["X <id>", "T"]
    assert list(top["failures"]) == [2, 2] and list(top["failing_records"]) == [2, 1]


def test_a_spike_against_the_trailing_baseline(store: Engine) -> None:
    spikes = trends(store).spikes
    assert list(zip(spikes["integration"], spikes["day"], strict=True)) == [
        ("erp-crm", date(2026, 3, 1))
    ]
    assert spikes.loc[0, "baseline"] == 1.0 and spikes.loc[0, "threshold"] == 4.0


def test_open_exceptions_and_time_to_resolve(store: Engine) -> None:
    r = trends(store)
    assert list(r.open_exceptions["trace_key"]) == ["T4"]
    assert r.open_exceptions.loc[0, "age_hours"] == pytest.approx(48)
    ttr = r.time_to_resolve  # T1: 2 h, T3: 22 h, and the eight erp-crm records: 1 h each
    assert ttr.resolved == 10
    assert ttr.p50_hours == pytest.approx(1.0)
    assert ttr.p90_hours == pytest.approx(2 + 0.1 * 20)


def test_dimension_filters_follow_the_record(store: Engine) -> None:
    uk = trends(store, Filters(date(2026, 3, 2), date(2026, 4, 1), legal_entities=("UK",)))
    assert (uk.totals.attempts, uk.totals.first_attempts, uk.totals.failing_records) == (2, 1, 1)

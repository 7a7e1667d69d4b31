"""Unbilled work aging: hand-computed as-of snapshots, FX from the daily table with a missing
day, a voided and re-issued invoice, work split across two invoices, write-offs and holds."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from sqlalchemy import Engine

from metrics.facts import write_and_refresh
from metrics.fx import FxIssue, load_fx
from metrics.kpis.common import ALL, Filters
from metrics.kpis.unbilled import (
    LABELS,
    UnbilledAging,
    load_work_items,
    unbilled_aging,
    wip_over_time,
)
from tests.metrics.builders import at, invoice, merge, project, rate, work

D = date
APRIL_1 = at(2026, 4, 1)
MARCH_11 = at(2026, 3, 11)


@pytest.fixture(scope="module")
def store(module_engine: Engine) -> Engine:
    e = module_engine
    write_and_refresh(
        e,
        merge(
            project("PU", None, at(2025, 10, 1), "UK", currency="GBP", customer="Umbrella"),
            project("PE", None, at(2025, 10, 1), "DE", currency="EUR", practice="Data"),
            project("PUS", None, at(2025, 10, 1), "US"),
        ),
    )
    write_and_refresh(
        e,
        merge(
            work("U1", "PU", "100", "GBP", D(2026, 3, 30), approved=at(2026, 3, 31, 10)),
            work("U2", "PU", "200", "GBP", D(2026, 1, 15), approved=at(2026, 1, 20, 10)),
            work("U3", "PU", "50", "GBP", D(2025, 11, 1), approved=at(2025, 11, 5, 10)),
            work("E1", "PE", "300", "EUR", D(2026, 2, 20), approved=at(2026, 2, 23, 10)),
            work(
                "E2", "PE", "400", "EUR", D(2026, 3, 1), approved=at(2026, 3, 2, 10), invoice="IE"
            ),
            invoice(
                "IE",
                "PE",
                "400",
                created=at(2026, 3, 20, 9),
                posted=at(2026, 3, 20, 10),
                currency="EUR",
                entity="DE",
            ),
            # S1: on IV1 (posted 10 Mar, voided 12 Mar), then moved to its re-issue IV2 (posted 2 Apr)
            work(
                "S1",
                "PUS",
                "1000",
                "USD",
                D(2026, 3, 2),
                approved=at(2026, 3, 3, 10),
                invoice="IV1",
                updated=at(2026, 3, 9),
            ),
            invoice(
                "IV1",
                "PUS",
                "1000",
                created=at(2026, 3, 9, 9),
                posted=at(2026, 3, 10, 9),
                voided=at(2026, 3, 12, 9),
            ),
            work(
                "S2",
                "PUS",
                "700",
                "USD",
                D(2026, 2, 2),
                approved=at(2026, 2, 2, 12),
                written_off=at(2026, 2, 20, 12),
            ),
            work(
                "S3",
                "PUS",
                "250",
                "USD",
                D(2026, 3, 15),
                logged=at(2026, 3, 15, 12),
                status="on_hold",
            ),
            work(
                "S4",
                "PUS",
                "999",
                "USD",
                D(2026, 3, 2),
                approved=at(2026, 3, 3, 10),
                billable=False,
            ),
            work("S5", "PUS", "120", "USD", D(2026, 4, 3), approved=at(2026, 4, 5, 10)),
            # work split across two invoices
            work(
                "S6", "PUS", "300", "USD", D(2026, 3, 2), approved=at(2026, 3, 2, 12), invoice="IV3"
            ),
            work(
                "S7",
                "PUS",
                "400",
                "USD",
                D(2026, 3, 9),
                approved=at(2026, 3, 10, 12),
                invoice="IV4",
            ),
            invoice("IV3", "PUS", "300", created=at(2026, 3, 5, 9), posted=at(2026, 3, 5, 10)),
            invoice("IV4", "PUS", "400", created=at(2026, 4, 10, 9), posted=at(2026, 4, 10, 10)),
            # FX: no GBP rate on 1 April (the day with no rate)
            rate(D(2026, 3, 9), "GBP", "1.20"),
            rate(D(2026, 3, 9), "EUR", "1.05"),
            rate(D(2026, 3, 30), "GBP", "1.25"),
            rate(D(2026, 3, 31), "GBP", "1.30"),
            rate(D(2026, 3, 31), "EUR", "1.10"),
            rate(D(2026, 4, 1), "EUR", "1.12"),
        ),
    )
    write_and_refresh(
        e,
        merge(
            work(
                "S1",
                "PUS",
                "1000",
                "USD",
                D(2026, 3, 2),
                approved=at(2026, 3, 3, 10),
                invoice="IV2",
                updated=at(2026, 3, 13),
            ),
            invoice(
                "IV2",
                "PUS",
                "1000",
                created=at(2026, 3, 13, 9),
                posted=at(2026, 4, 2, 9),
                replaces="IV1",
            ),
        ),
    )
    return e


def aging(store: Engine, when: object, filters: Filters = ALL, **kw: object) -> UnbilledAging:
    fx = load_fx(store, "USD")
    return unbilled_aging(load_work_items(store, filters), when, fx=fx, **kw)  # type: ignore[arg-type]


def amounts(frame: pd.DataFrame, column: str = "amount_rc") -> dict[str, float]:
    return dict(zip(frame["bucket"].astype(str), frame[column], strict=True))


def test_buckets_in_the_reporting_currency_with_the_missing_day_reported(store: Engine) -> None:
    r = aging(store, APRIL_1)
    assert sorted(r.items["work_item_key"]) == ["E1", "S1", "S7", "U1", "U2", "U3"]
    assert amounts(r.buckets) == pytest.approx(
        {"0-30": 130 + 1000 + 400, "31-60": 336, "61-90": 260, "91-120": 0, "120+": 65}
    )
    assert list(r.buckets["items"]) == [3, 1, 1, 0, 1]
    assert (r.total.items, r.total.amount_rc) == (6, pytest.approx(2191))
    assert r.fx_issues == [FxIssue("GBP", D(2026, 4, 1), D(2026, 3, 31))]
    assert r.unconverted == 0


def test_amounts_in_their_own_currency(store: Engine) -> None:
    by_currency = aging(store, APRIL_1).by_currency
    own = {
        (c, str(b)): a
        for c, b, a in by_currency[["currency", "bucket", "amount"]].itertuples(index=False)
    }
    assert own[("GBP", "0-30")] == 100 and own[("GBP", "61-90")] == 200
    assert own[("GBP", "120+")] == 50 and own[("EUR", "31-60")] == 300
    assert own[("USD", "0-30")] == 1400


def test_write_offs_and_holds_are_shown_apart(store: Engine) -> None:
    r = aging(store, APRIL_1)
    assert (r.write_offs.items, r.write_offs.amount_rc) == (1, pytest.approx(700))
    assert (r.holds.items, r.holds.amount_rc) == (1, pytest.approx(250))


def test_an_earlier_snapshot_sees_the_voided_invoice_as_posted(store: Engine) -> None:
    r = aging(store, MARCH_11)
    assert sorted(r.items["work_item_key"]) == ["E1", "E2", "S7", "U2", "U3"]
    assert amounts(r.buckets) == pytest.approx(
        {"0-30": 315 + 420 + 400, "31-60": 240, "61-90": 0, "91-120": 0, "120+": 60}
    )
    assert {i.currency for i in r.fx_issues} == {"GBP", "EUR"}  # both used 9 March's rate


def test_the_reissue_bills_the_work_once_posted(store: Engine) -> None:
    assert "S1" not in set(aging(store, at(2026, 4, 3)).items["work_item_key"])
    assert "S1" in set(aging(store, at(2026, 3, 12, 10)).items["work_item_key"])


def test_aging_from_the_approval_date(store: Engine) -> None:
    r = aging(store, APRIL_1, age_from="approval")
    ages = dict(zip(r.items["work_item_key"], r.items["age_days"], strict=True))
    assert ages == {"U1": 1, "U2": 71, "U3": 147, "E1": 37, "S1": 29, "S7": 22}


def test_grouping_and_filters(store: Engine) -> None:
    r = aging(store, APRIL_1, by=("legal_entity",))
    assert set(r.buckets["legal_entity"]) == {"UK", "DE", "US"}
    assert len(r.buckets) == 3 * len(LABELS)
    us = r.buckets[r.buckets["legal_entity"] == "US"]
    assert amounts(us)["0-30"] == pytest.approx(1400)
    data = aging(store, APRIL_1, Filters(practices=("Data",)))
    assert list(data.items["work_item_key"]) == ["E1"]


def test_wip_over_time_is_a_series_of_snapshots(store: Engine) -> None:
    fx = load_fx(store, "USD")
    series = wip_over_time(load_work_items(store), [D(2026, 3, 11), D(2026, 4, 1)], fx=fx)
    assert list(series["amount_rc"]) == [pytest.approx(1435), pytest.approx(2191)]
    assert list(series["items"]) == [5, 6]


def test_a_currency_with_no_rate_is_reported_never_zero(store: Engine) -> None:
    r = aging(store, at(2026, 2, 1))  # no GBP rate within a week before 1 February
    assert sorted(r.items["work_item_key"]) == ["U2", "U3"]
    assert r.unconverted == 2 and r.items["amount_rc"].isna().all()
    assert r.fx_issues == [FxIssue("GBP", D(2026, 2, 1), None)]
    assert r.total.items == 2 and pd.isna(r.total.amount_rc)
    buckets = amounts(r.buckets)  # U2 is 17 days old, U3 92
    assert pd.isna(buckets["0-30"]) and pd.isna(buckets["91-120"]) and buckets["31-60"] == 0.0

"""Business calendars per legal entity and FX conversion from the daily rates table."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from foundation.business_time import business_days, calendar_hours, is_business_day
from metrics.fx import FxCsvError, FxIssue, FxTable, import_fx_csv, read_fx_csv
from store.tables import FxRate
from tests.metrics.builders import at

D = date


@pytest.mark.parametrize(
    ("country", "expected"),
    [("US", 3.0), ("GB", 2.0), ("DE", 1.0), (None, 3.0)],
)
def test_public_holidays_inside_an_interval_depend_on_the_country(
    country: str | None, expected: float
) -> None:
    # Thu 2 Apr 2026 12:00 → Tue 7 Apr 12:00 over Good Friday and Easter Monday
    assert business_days(at(2026, 4, 2, 12), at(2026, 4, 7, 12), country) == expected


def test_partial_days_weekends_and_reversed_intervals() -> None:
    assert business_days(at(2026, 1, 2, 16), at(2026, 1, 5, 10), "US") == pytest.approx(0.75)
    assert business_days(at(2026, 1, 5, 10), at(2026, 1, 2, 16), "US") == pytest.approx(-0.75)
    assert business_days(at(2026, 1, 3, 1), at(2026, 1, 4, 23), "US") == 0.0
    assert business_days(at(2026, 12, 24, 12), at(2026, 12, 29, 12), "GB") == pytest.approx(1.0)
    assert calendar_hours(at(2026, 1, 2, 16), at(2026, 1, 5, 10)) == 66
    assert not is_business_day(D(2026, 1, 19), "US") and is_business_day(D(2026, 1, 19), "GB")


moments = st.datetimes(
    min_value=at(2025, 1, 1).replace(tzinfo=None), max_value=at(2027, 12, 31).replace(tzinfo=None)
).map(lambda d: d.replace(tzinfo=at(2026, 1, 1).tzinfo))


@given(moments, moments, moments, st.sampled_from(["US", "GB", "DE"]))
def test_business_days_add_up_and_never_exceed_calendar_days(a, b, c, country) -> None:  # type: ignore[no-untyped-def]
    lo, mid, hi = sorted((a, b, c))
    whole = business_days(lo, hi, country)
    assert whole == pytest.approx(business_days(lo, mid, country) + business_days(mid, hi, country))
    assert 0 <= whole <= calendar_hours(lo, hi) / 24 + 1e-9


def test_a_missing_day_uses_the_latest_earlier_rate_and_says_so() -> None:
    fx = FxTable([(D(2026, 3, 31), "GBP", "USD", Decimal("1.30"))], "USD")
    assert fx.rate("GBP", D(2026, 4, 1)) == (1.30, FxIssue("GBP", D(2026, 4, 1), D(2026, 3, 31)))
    rate, issue = fx.rate("GBP", D(2026, 4, 9))  # more than a week later
    assert np.isnan(rate) and issue == FxIssue("GBP", D(2026, 4, 9), None)
    assert "left unconverted" in str(issue)
    values, issues = fx.convert([10.0, 5.0, 7.0], ["GBP", "USD", "CHF"], [D(2026, 3, 31)] * 3)
    assert values[:2].tolist() == [13.0, 5.0] and np.isnan(values[2])
    assert issues == [FxIssue("CHF", D(2026, 3, 31), None)]


def test_inverse_and_cross_rates() -> None:
    day = D(2026, 3, 2)
    inverse = FxTable([(day, "EUR", "GBP", 0.8)], "EUR")
    assert inverse.rate("GBP", day)[0] == pytest.approx(1.25)
    cross = FxTable([(day, "GBP", "USD", 1.25), (day, "EUR", "USD", 1.10)], "EUR")
    assert cross.rate("GBP", day)[0] == pytest.approx(1.25 / 1.10)


def test_rates_are_imported_from_csv(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "rates.csv"
    path.write_text("day,base,quote,rate\n2026-03-02,gbp,USD,1.27\n2026-03-02,EUR,USD,1.08\n")
    assert import_fx_csv(engine, path) == 2
    with engine.connect() as conn:
        rows = conn.execute(select(FxRate.base, FxRate.rate).order_by(FxRate.base)).all()
    assert [(b, Decimal(str(r))) for b, r in rows] == [
        ("EUR", Decimal("1.08")),
        ("GBP", Decimal("1.27")),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("day,base,rate\n", "lacks quote"),
        ("day,base,quote,rate\n2026-03-02,GBP,USD,abc\n", "line 2"),
        ("day,base,quote,rate\n2026-03-02,GBP,USD,1\n2026-03-03,GBP,USD,-1\n", "line 3"),
    ],
)
def test_a_bad_rates_file_names_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "rates.csv"
    path.write_text(text)
    with pytest.raises(FxCsvError, match=message):
        read_fx_csv(path)

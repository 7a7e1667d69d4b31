"""Invoice cycle time and days to pay: hand-computed cases on the US calendar (Memorial Day
25 May 2026), written through the store."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine

from metrics.facts import write_and_refresh
from metrics.kpis.common import ALL, Filters
from metrics.kpis.invoice_cycle import InvoiceCycle, invoice_cycle, load_invoices
from tests.metrics.builders import at, invoice, merge, milestone, payment, project, work

AS_OF = at(2026, 7, 1)


@pytest.fixture(scope="module")
def store(module_engine: Engine) -> Engine:
    e = module_engine
    write_and_refresh(
        e, merge(project("PX", None, at(2025, 12, 1)), project("PF", None, at(2025, 12, 1)))
    )
    # I1 (T&M, January): the late approval (Mon 2 Feb 10:00) is the trigger, not the period end
    # (Sun 1 Feb 00:00); posted Wed 16:00 → 54 h = 2.25 days; sent 17:00, paid 30 days later.
    write_and_refresh(
        e,
        merge(
            work(
                "W1",
                "PX",
                "600",
                "USD",
                date(2026, 1, 26),
                approved=at(2026, 1, 30, 15),
                invoice="I1",
            ),
            work(
                "W2",
                "PX",
                "400",
                "USD",
                date(2026, 1, 30),
                approved=at(2026, 2, 2, 10),
                invoice="I1",
            ),
            invoice(
                "I1",
                "PX",
                "1000",
                created=at(2026, 2, 3, 9),
                posted=at(2026, 2, 4, 16),
                sent=at(2026, 2, 4, 17),
                period_end=date(2026, 1, 31),
            ),
            payment("PAY1", "I1", "1000", at(2026, 3, 6, 17)),
        ),
    )
    # I2 (T&M, February, the other half of the work): the period end (Sun 1 Mar 00:00) is the
    # trigger; posted Tue 12:00 → 36 business hours = 1.5 days, 60 calendar hours.
    write_and_refresh(
        e,
        merge(
            work(
                "W5",
                "PX",
                "500",
                "USD",
                date(2026, 2, 23),
                approved=at(2026, 2, 27, 12),
                invoice="I2",
            ),
            invoice(
                "I2",
                "PX",
                "500",
                created=at(2026, 3, 2, 9),
                posted=at(2026, 3, 3, 12),
                period_end=date(2026, 2, 28),
            ),
            invoice(
                "CN1",
                "PX",
                "-100",
                created=at(2026, 3, 10, 9),
                posted=at(2026, 3, 10, 10),
                credits="I1",
            ),
        ),
    )
    # I3 voided and re-issued as I4; the work item moves from I3 to I4 (the old link stays).
    write_and_refresh(
        e,
        merge(
            work(
                "W6",
                "PX",
                "800",
                "USD",
                date(2026, 3, 30),
                approved=at(2026, 3, 31, 10),
                invoice="I3",
                updated=at(2026, 4, 2, 9),
            ),
            invoice(
                "I3",
                "PX",
                "800",
                created=at(2026, 4, 2, 9),
                posted=at(2026, 4, 2, 12),
                voided=at(2026, 4, 6, 10),
                period_end=date(2026, 3, 31),
            ),
        ),
    )
    # I4: trigger Wed 1 Apr 00:00 → posted Tue 7 Apr 12:00 = 4.5 days (Good Friday is no US holiday)
    write_and_refresh(
        e,
        merge(
            work(
                "W6",
                "PX",
                "800",
                "USD",
                date(2026, 3, 30),
                approved=at(2026, 3, 31, 10),
                invoice="I4",
                updated=at(2026, 4, 6, 13),
            ),
            invoice(
                "I4",
                "PX",
                "800",
                created=at(2026, 4, 6, 12),
                posted=at(2026, 4, 7, 12),
                period_end=date(2026, 3, 31),
                replaces="I3",
            ),
        ),
    )
    # I5 fixed fee: milestone accepted Mon 18 May 15:00 → posted Wed 27 May 15:00 = 6.0 days
    # (Memorial Day skipped), 216 hours; paid 30 days after sending.
    write_and_refresh(
        e,
        merge(
            invoice(
                "I5",
                "PF",
                "2000",
                created=at(2026, 5, 27, 9),
                posted=at(2026, 5, 27, 15),
                sent=at(2026, 5, 27, 15),
                milestone="M1",
            ),
            payment("PAY5", "I5", "2000", at(2026, 6, 26, 15)),
        ),
    )
    write_and_refresh(e, milestone("M1", "PF", at(2026, 5, 18, 15)))  # arrives after its invoice
    return e


def report(store: Engine, filters: Filters = ALL, **kwargs: object) -> InvoiceCycle:
    return invoice_cycle(load_invoices(store, filters), AS_OF, filters=filters, **kwargs)  # type: ignore[arg-type]


def test_billing_triggers_and_cycle_times(store: Engine) -> None:
    cases = report(store).cases.set_index("invoice_key")
    assert sorted(cases.index) == ["I1", "I2", "I4", "I5"]
    expected = {"I1": (2.25, 54), "I2": (1.5, 60), "I4": (4.5, 156), "I5": (6.0, 216)}
    for key, (days, hrs) in expected.items():
        assert cases.loc[key, "business_days"] == pytest.approx(days), key
        assert cases.loc[key, "calendar_hours"] == pytest.approx(hrs), key
    assert cases.loc["I1", "trigger_at"] == at(2026, 2, 2, 10)
    assert cases.loc["I2", "trigger_at"] == at(2026, 3, 1)


def test_percentiles_corrections_voids_and_credit_notes(store: Engine) -> None:
    r = report(store)
    assert r.stats.cases == 4
    assert r.stats.p50_days == pytest.approx(3.375)
    assert r.stats.p90_days == pytest.approx(5.55)
    assert r.stats.within_target == pytest.approx(0.5)
    assert (r.corrections, r.correction_rate) == (1, pytest.approx(0.25))
    assert (r.voided, r.credit_notes) == (1, 1)


def test_days_to_pay(store: Engine) -> None:
    r = report(store)
    assert (r.days_to_pay.paid, r.days_to_pay.unpaid) == (2, 2)
    assert r.days_to_pay.p50_days == pytest.approx(30.0)


def test_the_end_event_is_configurable(store: Engine) -> None:
    r = report(store, end_event="sent")
    assert sorted(r.cases["invoice_key"]) == ["I1", "I5"]
    assert r.cases.set_index("invoice_key").loc["I1", "calendar_hours"] == pytest.approx(55)


def test_as_of_and_period(store: Engine) -> None:
    before_void = invoice_cycle(load_invoices(store), at(2026, 4, 5))
    assert "I3" in set(before_void.cases["invoice_key"])  # not voided yet at that time
    assert before_void.cases.set_index("invoice_key").loc["I3", "business_days"] == pytest.approx(
        1.5  # Wed 1 Apr 00:00 → Thu 2 Apr 12:00
    )
    assert before_void.corrections == 0 and before_void.waiting.empty
    waiting = invoice_cycle(load_invoices(store), at(2026, 4, 6, 12, 30))
    assert list(waiting.waiting["invoice_key"]) == ["I4"]
    march = report(store, Filters(date(2026, 3, 1), date(2026, 4, 1)))
    assert list(march.cases["invoice_key"]) == ["I2"]

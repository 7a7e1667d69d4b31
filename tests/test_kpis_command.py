"""`throughline kpis --as-of DATE [--json]`: every registry KPI, checked against hand-computed
numbers on a small firm written through the store (SQLite and PostgreSQL).

As of Monday 2 March 2026 00:00 UTC, all US calendar (Presidents' Day, 16 Feb 2026, is a
holiday) except one GBP time entry converted at 1.25:

- handoffs: D1 Mon 5 Jan 10:00 → P1 Wed 7 Jan 16:00 = 2.25 business days, 54 h (touchless);
  D2 Fri 9 Jan 15:00 → P2 Mon 12 Jan 09:00 = 0.75 business days, 66 h; D3 won Mon 23 Feb 09:00,
  no project: stuck 4.625 business days, 159 h; D4 needs no project; D5 reopened then lost.
- invoices: I1 T&M, period ending Sat 31 Jan (trigger Sun 1 Feb 00:00) → posted Wed 4 Feb
  12:00 = 2.5 days, 84 h, paid 10 days after sending; I2 fixed fee, milestone accepted Mon 9 Feb
  09:00 → posted Mon 16 Feb 09:00 = 4.625 days (the holiday), 168 h, unpaid; I3 voided, re-issued
  as I4: period ending Sun 8 Feb (trigger Mon 9 Feb 00:00) → posted Fri 13 Feb 12:00 = 4.5 days,
  108 h, paid 9 days after sending.
- unbilled: W2 500 GBP worked 19 Feb (11 days, 625 USD), W3 2 000 USD worked 1 Dec (91 days);
  W1 is billed on I1; W4 written off (300); W5 on hold (100).
- sync: T1 fails then succeeds 4 h later; T2 fails twice (open since Fri 20 Feb 08:00, 232 h);
  T3 succeeds first time.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import Engine, text

from metrics.facts import write_and_refresh
from metrics.registry import KPIS
from metrics.report import differences, kpi_report
from store.canonical import Activity, Batch
from store.write import CursorUpdate
from tests.metrics.builders import (
    at,
    attempt,
    deal,
    invoice,
    merge,
    milestone,
    payment,
    project,
    rate,
    stage,
    work,
)
from tests.test_cli import run

AS_OF = "2026-03-02"
WON, LOST, REOPENED = Activity.DEAL_WON, Activity.DEAL_LOST, Activity.DEAL_REOPENED


def golden_firm() -> Batch:
    """The small firm of the module docstring."""
    return merge(
        deal("D1"),
        stage("D1", WON, at(2026, 1, 5, 10)),
        project("P1", "D1", at(2026, 1, 7, 16), touchless=True),
        deal("D2"),
        stage("D2", WON, at(2026, 1, 9, 15)),
        project("P2", "D2", at(2026, 1, 12, 9)),
        deal("D3"),
        stage("D3", WON, at(2026, 2, 23, 9)),
        deal("D4", no_project=True),
        stage("D4", WON, at(2026, 1, 12, 10)),
        deal("D5"),
        stage("D5", WON, at(2026, 1, 13, 10)),
        stage("D5", REOPENED, at(2026, 1, 14, 9)),
        stage("D5", LOST, at(2026, 1, 15, 9)),
        work(
            "W1", "P1", "1000", "USD", date(2026, 1, 26), approved=at(2026, 1, 27, 10), invoice="I1"
        ),
        work("W2", "P1", "500", "GBP", date(2026, 2, 19), approved=at(2026, 2, 20, 10)),
        work("W3", "P2", "2000", "USD", date(2025, 12, 1), approved=at(2025, 12, 15, 10)),
        work(
            "W4",
            "P2",
            "300",
            "USD",
            date(2026, 1, 19),
            approved=at(2026, 1, 20, 10),
            written_off=at(2026, 1, 25, 10),
        ),
        work(
            "W5",
            "P2",
            "100",
            "USD",
            date(2026, 2, 24),
            logged=at(2026, 2, 25, 10),
            status="on_hold",
        ),
        invoice(
            "I1",
            "P1",
            "1000",
            created=at(2026, 2, 2, 9),
            posted=at(2026, 2, 4, 12),
            sent=at(2026, 2, 4, 12),
            period_end=date(2026, 1, 31),
        ),
        payment("PAY1", "I1", "1000", at(2026, 2, 14, 12)),
        milestone("M1", "P2", at(2026, 2, 9, 9)),
        invoice(
            "I2",
            "P2",
            "2400",
            created=at(2026, 2, 16, 8),
            posted=at(2026, 2, 16, 9),
            milestone="M1",
        ),
        invoice(
            "I3",
            "P2",
            "1200",
            created=at(2026, 2, 10, 9),
            posted=at(2026, 2, 11, 9),
            voided=at(2026, 2, 12, 9),
            period_end=date(2026, 2, 8),
        ),
        invoice(
            "I4",
            "P2",
            "1200",
            created=at(2026, 2, 13, 9),
            posted=at(2026, 2, 13, 12),
            sent=at(2026, 2, 14, 12),
            period_end=date(2026, 2, 8),
            replaces="I3",
        ),
        payment("PAY4", "I4", "1200", at(2026, 2, 23, 12)),
        rate(date(2026, 2, 27), "GBP", "1.25"),
        Batch(
            sync_attempts=[
                attempt("a1", "T1", 1, at(2026, 2, 10, 10), failed=True, deal_key="D1"),
                attempt("a2", "T1", 2, at(2026, 2, 10, 14), deal_key="D1"),
                attempt("b1", "T2", 1, at(2026, 2, 20, 8), failed=True, deal_key="D2"),
                attempt("b2", "T2", 2, at(2026, 2, 21, 8), failed=True, deal_key="D2"),
                attempt("c1", "T3", 1, at(2026, 2, 11, 9), deal_key="D3"),
            ]
        ),
    )


EXPECTED = {
    "setup_latency": {
        "cases": 2,
        "p50_business_days": 1.5,
        "p90_business_days": 2.1,
        "within_target": 0.5,
        "p50_hours": 60.0,
        "p90_hours": 64.8,
        "target_days": 2.0,
    },
    "stuck_handoffs": {
        "deals": 1,
        "p50_age_business_days": 4.625,
        "max_age_business_days": 4.625,
        "excluded_no_project": 1,
        "excluded_reopened_lost": 1,
    },
    "touchless_share": {"touchless": 1, "handoffs": 2, "share": 0.5},
    "invoice_cycle": {
        "cases": 3,
        "p50_business_days": 4.5,
        "p90_business_days": 4.6,
        "within_target": 1 / 3,
        "p50_hours": 108.0,
        "p90_hours": 156.0,
        "target_days": 3.0,
    },
    "invoice_correction_rate": {
        "corrections": 1,
        "invoices": 3,
        "rate": 1 / 3,
        "voided": 1,
        "credit_notes": 0,
    },
    "days_to_pay": {"paid": 2, "unpaid": 1, "p50_days": 9.5, "p90_days": 9.9},
    "unbilled_wip": {
        "items": 2,
        "amount_rc": 2625.0,
        "buckets": {
            "0-30": {"items": 1, "amount_rc": 625.0},
            "31-60": {"items": 0, "amount_rc": 0.0},
            "61-90": {"items": 0, "amount_rc": 0.0},
            "91-120": {"items": 1, "amount_rc": 2000.0},
            "120+": {"items": 0, "amount_rc": 0.0},
        },
        "write_offs": {"items": 1, "amount_rc": 300.0},
        "holds": {"items": 1, "amount_rc": 100.0},
        "unconverted": 0,
    },
    "sync_error_rate": {
        "attempts": 5,
        "first_attempts": 3,
        "failed_first_attempts": 2,
        "rate": 2 / 3,
        "retries": 2,
        "failed_retries": 1,
    },
    "sync_failing_records": {"records": 2},
    "sync_spikes": {"flow_days": 0},
    "sync_open_exceptions": {"records": 1, "max_hours_open": 232.0},
    "sync_time_to_resolve": {"resolved": 1, "p50_hours": 4.0, "p90_hours": 4.0},
    "cash_impact": {
        # 1 000 × 159 h / 24; invoices 1 000 × 3.5 + 2 400 × 7 + 1 200 × 4.5 days;
        # unbilled 625 × 11 + 2 000 × 91 days
        "total_money_days": 6625.0 + 25700.0 + 188875.0,
        "stuck_handoffs": 6625.0,
        "invoicing_delay": 25700.0,
        "unbilled_work": 188875.0,
        "unconverted": 0,
    },
}


@pytest.fixture
def firm(engine: Engine) -> Engine:
    """The golden firm in the store, in two collector batches (case facts kept incrementally)."""
    batch = golden_firm()
    half = len(batch.events) // 2
    write_and_refresh(
        engine, Batch(objects=batch.objects, events=batch.events[:half], fx_rates=batch.fx_rates)
    )
    write_and_refresh(
        engine,
        Batch(events=batch.events[half:], links=batch.links, sync_attempts=batch.sync_attempts),
    )
    return engine


def kpis_command(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, str]:
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        monkeypatch.setenv("PGOPTIONS", f"-c search_path={schema}")
    capsys.readouterr()
    status = run(monkeypatch, url, "kpis", *argv)
    return status, capsys.readouterr().out


def test_kpis_json_reports_every_registry_kpi_with_the_hand_computed_numbers(
    firm: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = kpis_command(firm, monkeypatch, capsys, "--as-of", AS_OF, "--json")
    assert status == 0
    report = json.loads(out)
    assert report["as_of"] == "2026-03-02T00:00:00+00:00"
    assert report["reporting_currency"] == "USD"
    assert list(report["kpis"]) == [k.name for k in KPIS]
    for kpi in KPIS:
        assert report["kpis"][kpi.name]["title"] == kpi.title
    assert differences(report, EXPECTED) == []


def test_kpis_without_a_date_report_at_the_sources_clock(
    firm: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_and_refresh(
        firm, Batch(), CursorUpdate("crm", "deals", {"since": "2026-03-02T00:00:00+00:00"})
    )
    status, out = kpis_command(firm, monkeypatch, capsys, "--json")
    assert status == 0
    report = json.loads(out)
    assert report["as_of"] == "2026-03-02T00:00:00+00:00"
    assert differences(report, EXPECTED) == []


def test_kpis_as_of_an_earlier_date_sees_only_what_had_happened(firm: Engine) -> None:
    report = kpi_report(firm, at(2026, 2, 10))
    figures = {name: k["figures"] for name, k in report["kpis"].items()}
    # by 10 Feb only I1 had posted; D3 was not yet won; I4's re-issue had not happened
    assert figures["invoice_cycle"]["cases"] == 1
    assert figures["invoice_cycle"]["p50_business_days"] == pytest.approx(2.5)
    assert figures["invoice_correction_rate"]["corrections"] == 0
    assert figures["stuck_handoffs"]["deals"] == 0
    assert figures["sync_error_rate"]["attempts"] == 2


def test_kpis_text_output_names_each_kpi_on_its_own_line(
    firm: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = kpis_command(firm, monkeypatch, capsys, "--as-of", AS_OF)
    assert status == 0
    lines = out.strip().splitlines()
    assert lines[0] == "KPIs as of 2026-03-02T00:00:00+00:00 (USD)"
    assert len(lines) == 1 + len(KPIS)
    assert "Project setup latency (setup_latency): cases 2; p50_business_days 1.5;" in lines[1]
    assert any(
        line.startswith("Cash impact (cash_impact): total_money_days 221,200") for line in lines
    )


def test_kpis_refuses_a_date_it_cannot_read(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    assert run(monkeypatch, url, "kpis", "--as-of", "last tuesday") == 2
    assert "is not an ISO date" in capsys.readouterr().err


def test_differences_lists_every_mismatch_and_tolerates_rounding() -> None:
    mine = {"kpis": {"a": {"figures": {"x": 1.0, "y": 2, "z": None}}}}
    assert differences(mine, {"a": {"x": 1.0 + 1e-12, "y": 2, "z": None}}) == []
    assert differences(mine, {"a": {"x": 1.5, "y": 3}}) == [
        "a.x: 1.0 ≠ 1.5",
        "a.y: 2 ≠ 3",
        "a.z: None ≠ 'missing'",
    ]

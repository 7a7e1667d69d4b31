"""Cash impact (hand-computed), the KPI registry against the README, and the OCEL export."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from metrics import registry
from metrics.facts import write_and_refresh
from metrics.fx import FxTable
from metrics.kpis.cash_impact import cash_impact
from metrics.kpis.invoice_cycle import invoice_cycle
from metrics.kpis.setup_latency import setup_latency
from metrics.kpis.unbilled import WorkItems, unbilled_aging
from tests.metrics.builders import at, deal, merge, project, stage
from tests.test_cli import run

AS_OF = at(2026, 1, 11)
FX = FxTable([(date(2026, 1, 11), "EUR", "USD", 1.1)], "USD")
DIMS = {"legal_entity": "US", "practice": "Cloud", "customer": "Acme"}


def test_cash_impact_is_money_times_days_of_delay() -> None:
    handoffs = pd.DataFrame(
        [
            {
                **DIMS,
                "deal_key": "D1",
                "owner": "Sam",
                "currency": "USD",
                "amount": Decimal("1000"),
                "won_at": at(2026, 1, 1),
                "wins": 1,
                "excluded": None,
                "project_key": None,
                "project_created_at": None,
                "projects": 0,
                "touchless": None,
            }
        ]
    )
    invoices = pd.DataFrame(
        [
            {
                **DIMS,
                "invoice_key": "I1",
                "kind": "invoice",
                "billing_type": "T&M",
                "currency": "USD",
                "amount": Decimal("500"),
                "reissue_of": None,
                "work_items": 1,
                "trigger_at": at(2026, 1, 2),
                "created_at": at(2026, 1, 5),
                "posted_at": at(2026, 1, 6),
                "sent_at": None,
                "voided_at": None,
                "paid_at": None,
            }
        ]
    )
    items = pd.DataFrame(
        [
            {
                **DIMS,
                "work_item_id": 1,
                "work_item_key": "W1",
                "kind": "time",
                "currency": "EUR",
                "amount": Decimal("200"),
                "status": "approved",
                "work_date": date(2025, 12, 12),
                "logged_at": at(2025, 12, 12),
                "approved_at": at(2025, 12, 15),
                "written_off_at": None,
                "billed_at": None,
            }
        ]
    )
    billing = pd.DataFrame(columns=["work_item_id", "posted_at", "voided_at"])
    impact = cash_impact(
        setup_latency(handoffs, AS_OF, fx=FX),
        invoice_cycle(invoices, AS_OF, fx=FX),
        unbilled_aging(WorkItems(items, billing), AS_OF, fx=FX),
    )
    # 1000 × 10 days + 500 × 4 days + 220 × 30 days
    assert impact.parts == pytest.approx(
        {"stuck_handoffs": 10_000, "invoicing_delay": 2_000, "unbilled_work": 6_600}
    )
    assert impact.total_money_days == pytest.approx(18_600) and impact.unconverted == 0


def test_the_readme_kpi_table_is_the_registry() -> None:
    text = registry.README.read_text(encoding="utf-8")
    assert registry.readme_section(text) == registry.markdown_table(), (
        "README KPI table is stale: run `python -m metrics.registry`"
    )


def test_every_registered_kpi_resolves_to_a_function_with_as_of() -> None:
    names = [k.name for k in registry.KPIS]
    assert len(names) == len(set(names))
    for kpi in registry.KPIS:
        assert kpi.title and kpi.unit and kpi.audience and kpi.definition
        fn = kpi.resolve()
        assert callable(fn)
    assert registry.by_name("invoice_cycle").target == "≤ 3 business days"
    with pytest.raises(KeyError, match="known"):
        registry.by_name("nope")


def test_export_ocel_writes_the_event_log_as_ocel_2(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write_and_refresh(
        engine,
        merge(
            deal("D1"),
            stage("D1", "deal.won", at(2026, 1, 5, 10)),  # type: ignore[arg-type]
            project("P1", "D1", at(2026, 1, 7, 16), touchless=True),
        ),
    )
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
        monkeypatch.setenv("PGOPTIONS", f"-c search_path={schema}")
    out = tmp_path / "log.json"
    assert run(monkeypatch, url, "export", "ocel", "--output", str(out)) == 0
    log = json.loads(out.read_text())
    assert {t["name"] for t in log["objectTypes"]} == {"deal", "project"}
    assert sorted(e["type"] for e in log["events"]) == ["deal.won", "project.created"]
    created = next(e for e in log["events"] if e["type"] == "project.created")
    assert created["time"] == "2026-01-07T16:00:00Z"
    assert {r["qualifier"] for r in created["relationships"]} == {"deal", "project"}
    assert {a["name"] for a in created["attributes"]} >= {"source_system", "source_key"}
    d1 = next(o for o in log["objects"] if o["id"] == "deal:crm:D1")
    # the PSA asserts the link (the CRM deal id on the project): its system travels with it
    assert d1["relationships"] == [
        {"objectId": "project:psa:P1", "qualifier": "provisions", "sourceSystem": "psa"}
    ]
    attrs = {a["name"]: a["value"] for a in d1["attributes"]}
    assert attrs["legal_entity"] == "US" and attrs["amount"] == 1000.0


def test_fx_import_command_loads_a_csv_and_names_a_bad_line(
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
        monkeypatch.setenv("PGOPTIONS", f"-c search_path={schema}")
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text("day,base,quote,rate\n2026-03-02,GBP,USD,1.27\n")
    bad.write_text("day,base,quote,rate\n2026-03-02,GBP,USD,0\n")
    assert run(monkeypatch, url, "fx", "import", str(good)) == 0
    assert "1 exchange rates imported" in capsys.readouterr().out
    assert run(monkeypatch, url, "fx", "import", str(bad)) == 1
    assert "line 2" in capsys.readouterr().err

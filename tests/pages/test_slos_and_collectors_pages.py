"""The SLO and collectors pages on the demo year; "run now" goes through the worker's job."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from collectors.demo_estate.clock import SimClock
from collectors.demo_estate.server import DemoEstateServer
from collectors.demo_estate.simulate import simulate
from foundation import settings as settings_module
from foundation.settings import Settings
from metrics.facts import write_and_refresh
from metrics.slo.service import burn_history
from metrics.views.access import ANONYMOUS as ADMIN
from metrics.views.admin import collector_health
from store.canonical import Batch, QuarantineRow
from store.tables import CollectorRun, RunRequest
from tests.collectors.conftest import TOKEN
from tests.pages.conftest import (
    Store,
    no_errors,
    open_app,
    open_page,
    select_row,
    table,
    table_starting,
)
from throughline.worker import run_requests_job

SLOS = "pages/slos.py"
COLLECTORS_PAGE = "pages/collectors.py"


def test_the_slo_page_lists_every_slo_worst_budget_first(demo: Store) -> None:
    at = open_page(SLOS)
    no_errors(at)
    board = demo.slo_board()
    shown = table(at, "board")
    assert list(zip(shown["display_name"], shown["scope"], strict=True)) == list(
        zip(board["display_name"], board["scope"], strict=True)
    )
    assert list(shown["budget_remaining"]) == list(board["budget_remaining"])
    assert shown["budget_remaining"].is_monotonic_increasing
    assert shown["status"].iloc[0] == "🔴 breached"
    weekly = table_starting(at, "period", "attainment")
    first = str(board["slo"].iloc[0])
    expected = burn_history(demo.engine, Settings(), first, demo.as_of, demo.config.collectors)
    assert len(weekly) == len(expected)
    assert "No alert has fired yet." in [i.value for i in at.info]


def test_choosing_an_slo_row_shows_its_history_and_a_budget_bar_links_here(demo: Store) -> None:
    board = demo.slo_board()
    at = open_page(SLOS)
    row = int(
        board.reset_index(drop=True).index[board["slo"].to_numpy() == "invoice-cycle-time"][0]
    )
    select_row(at, "board", row)
    no_errors(at)
    assert at.query_params["slo"] == "invoice-cycle-time"
    at = open_app()
    at.session_state["budgets"] = {
        "selection": {
            "points": [{"customdata": "unbilled-work-aging", "x": -1.0}],
            "point_indices": [0],
            "box": [],
            "lasso": [],
        }
    }
    at.run()
    assert at.title[0].value == "SLOs"
    assert at.query_params["slo"] == "unbilled-work-aging"


def test_the_collectors_page_shows_health_lag_and_the_store(demo: Store) -> None:
    at = open_page(COLLECTORS_PAGE)
    no_errors(at)
    health = table_starting(at, "collector", "source", "health")
    expected = collector_health(demo.engine, demo.config)
    assert list(health["collector"]) == list(expected["collector"])
    assert list(health["rows_written"]) == list(expected["rows_written"])
    assert set(health["status"]) == {"success"}
    assert "Nothing is in quarantine" in at.success[0].value
    assert at.metric[0].label == "Sync attempts" and at.metric[0].value == "6,702"


def test_run_now_queues_a_request_that_the_worker_job_runs(
    writable_demo: Store, monkeypatch: object
) -> None:
    store = writable_demo
    at = open_page(COLLECTORS_PAGE)
    at.selectbox[0].select("demo_erp")
    at.button(key="FormSubmitter:run_now-▶️ Run now").click().run()
    no_errors(at)
    with store.engine.connect() as conn:
        (request,) = conn.execute(select(RunRequest)).all()
    assert (request.collector, request.status, request.requested_by) == (
        "demo_erp",
        "pending",
        "demo visitor",
    )
    assert table_starting(at, "id", "collector", "status")["status"].tolist() == ["pending"]

    estate = simulate(seed=7)
    with DemoEstateServer(estate, TOKEN, clock=SimClock(estate.history_end), rate_limit=None) as s:
        mp = monkeypatch
        mp.setenv("THROUGHLINE_DEMO_TOKEN", TOKEN)  # type: ignore[attr-defined]
        mp.setenv("THROUGHLINE_COLLECTORS__DEMO_ERP__BASE_URL", s.base_url)  # type: ignore[attr-defined]
        settings_module.get_settings.cache_clear()
        assert run_requests_job() == 1
        assert run_requests_job() == 0
    with store.engine.connect() as conn:
        done = conn.execute(select(RunRequest)).one()
        run = conn.execute(select(CollectorRun).where(CollectorRun.id == done.run_id)).one()
    assert (done.status, run.collector, run.kind, run.status) == (
        "done",
        "demo_erp",
        "manual",
        "success",
    )
    assert done.outcome == "success: 0 rows written"
    assert done.started_at is not None and done.finished_at is not None


def test_a_request_for_an_unknown_collector_fails_with_its_reason(writable_demo: Store) -> None:
    from metrics.views.admin import recent_requests, request_run

    request_run(ADMIN, writable_demo.engine, "no_such_collector")
    assert request_run(ADMIN, writable_demo.engine, "no_such_collector") == int(
        recent_requests(writable_demo.engine)["id"].iloc[0]
    ), "a second click while one waits does not queue another"
    assert run_requests_job() == 1
    last = recent_requests(writable_demo.engine).iloc[0]
    assert (last["status"], last["outcome"]) == ("failed", "no collector named 'no_such_collector'")


def test_quarantined_records_are_listed_with_their_masked_raw_record(writable_demo: Store) -> None:
    raw = {"Id": "006X", "Amount": "abc", "tax_id": "DE123456789"}
    row = QuarantineRow("demo_crm", "opportunities", "Amount is not a number: 'abc'", raw, "006X")
    write_and_refresh(writable_demo.engine, Batch(quarantined=[row]), now=datetime.now(UTC))
    at = open_page(COLLECTORS_PAGE)
    no_errors(at)
    quarantine = table(at, "quarantine")
    assert quarantine[["collector", "source_key", "reason"]].values.tolist() == [
        ["demo_crm", "006X", "Amount is not a number: 'abc'"]
    ]
    assert "raw" not in quarantine.columns
    select_row(at, "quarantine", 0)
    shown = at.code[0].value
    assert "DE123456789" not in shown and '"tax_id": "***"' in shown

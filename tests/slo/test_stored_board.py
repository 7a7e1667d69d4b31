"""The SLO board and weekly histories stored for the pages: the same as evaluated, served only
while their key holds, forgotten when the case facts change, kept current by the worker."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from slo_demo import DemoYear
from sqlalchemy import Engine, delete, func, select, update

from metrics.facts import rebuild_case_facts, refresh_pending
from metrics.slo import service
from metrics.slo.service import burn_history, configured_slos, context, current_views, slo_board
from metrics.slo.stored_board import BOARD_MAX_AGE, BoardKey, board_key, load_board, save_board
from store import pending
from store.affected import Affected
from store.clock import reporting_time
from store.tables import CollectorRun, StoredSloBoard
from throughline import worker

AT = datetime(2026, 6, 23, 14, tzinfo=UTC)
BOARD = [
    {
        "slo": "a",
        "attainment": 0.975,
        "cases": 40,
        "budget_remaining": -math.inf,
        "burn_long": math.nan,
        "paused_by": "",
        "status": None,
    },
    {
        "slo": "b",
        "attainment": None,
        "cases": 0,
        "budget_remaining": 1.0,
        "burn_long": 0.0,
        "paused_by": "erp",
        "status": "ok",
    },
]
DOCUMENT = {"board": BOARD, "histories": {"a": [{"period": "2026-06-01T00:00:00+00:00"}]}}


class _SameDocument:
    """Equal to DOCUMENT read back (its NaN included, which `==` on dicts would refuse)."""

    def __eq__(self, other: object) -> bool:
        return json.dumps(other, sort_keys=True) == json.dumps(DOCUMENT, sort_keys=True)


SAME = _SameDocument()


def stored_boards(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(StoredSloBoard)).scalar_one())


def forbid_evaluation(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object) -> None:
        raise AssertionError("the SLOs' inputs were read: the board was evaluated, not read")

    monkeypatch.setattr(service, "slo_inputs", refuse)


@pytest.fixture
def demo(demo_year: DemoYear) -> DemoYear:
    """The demo year with no board stored by an earlier test."""
    with demo_year.engine.begin() as conn:
        conn.execute(delete(StoredSloBoard))
    return demo_year


def test_a_document_round_trips_with_non_finite_floats_and_replaces_the_previous_one(
    engine: Engine,
) -> None:
    key = BoardKey("c" * 64, AT, "7|2026-06-23")
    save_board(engine, key, DOCUMENT, 1.5)
    back = load_board(engine, key)
    assert back is not None and back["histories"] == DOCUMENT["histories"]
    first, second = back["board"]
    assert second == BOARD[1] and first["cases"] == 40 and first["status"] is None
    assert first["budget_remaining"] == -math.inf and math.isnan(first["burn_long"])
    later = BoardKey(key.config, AT + timedelta(hours=1), key.data_version)
    save_board(engine, later, {"board": BOARD[1:]}, 2.0)
    assert stored_boards(engine) == 1
    assert load_board(engine, key) is None  # the clock moved: the old one is gone
    assert load_board(engine, later) == {"board": BOARD[1:]}


def test_a_board_is_served_only_at_its_clock_data_version_and_configuration(
    engine: Engine,
) -> None:
    key = BoardKey("c" * 64, AT, "7|x")
    save_board(engine, key, DOCUMENT, 1.0)
    for other in (
        BoardKey("d" * 64, AT, "7|x"),
        BoardKey(key.config, AT + timedelta(seconds=1), "7|x"),
        BoardKey(key.config, AT, "8|x"),
    ):
        assert load_board(engine, other) is None
    assert load_board(engine, key) is not None


def test_a_page_takes_a_recent_board_after_the_data_moved_and_the_worker_does_not(
    engine: Engine,
) -> None:
    key = BoardKey("c" * 64, AT, "7|x")
    save_board(engine, key, DOCUMENT, 1.0)
    moved = BoardKey(key.config, AT + timedelta(minutes=1), "8|x")
    assert load_board(engine, moved) is None  # the worker evaluates again
    assert load_board(engine, moved, BOARD_MAX_AGE) == SAME  # a page shows it meanwhile
    other = BoardKey("d" * 64, AT, "7|x")
    assert load_board(engine, other, BOARD_MAX_AGE) is None  # never another configuration's
    with engine.begin() as conn:
        conn.execute(update(StoredSloBoard).values(evaluated_at=datetime.now(UTC) - BOARD_MAX_AGE))
    assert load_board(engine, moved, BOARD_MAX_AGE) is None  # too old even for a page


@pytest.mark.parametrize("change", ["refresh", "rebuild"])
def test_a_change_of_the_case_facts_marks_the_stored_board_out_of_date(
    engine: Engine, change: str
) -> None:
    key = BoardKey("c" * 64, AT, "v")
    save_board(engine, key, DOCUMENT, 1.0)
    if change == "refresh":
        with engine.begin() as conn:
            pending.mark(conn, Affected(deals={123}))
        assert refresh_pending(engine).cases == 1
    else:
        rebuild_case_facts(engine)
    assert load_board(engine, key) is None
    assert load_board(engine, key, BOARD_MAX_AGE) == SAME


def test_an_empty_refresh_keeps_the_stored_board_current(engine: Engine) -> None:
    key = BoardKey("c" * 64, AT, "v")
    save_board(engine, key, DOCUMENT, 1.0)
    assert refresh_pending(engine).cases == 0
    assert load_board(engine, key) == SAME


def test_the_stored_views_are_the_evaluated_ones_and_are_read_not_evaluated_again(
    demo: DemoYear, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, settings, sources = demo.engine, demo.settings, demo.sources()
    live = slo_board(engine, settings, AT, sources)
    histories = {
        s.name: burn_history(engine, settings, s.name, AT, sources)
        for s in configured_slos(settings)
    }
    first = current_views(engine, settings, AT, sources)
    assert stored_boards(engine) == 1
    forbid_evaluation(monkeypatch)
    for views in (first, current_views(engine, settings, AT, sources)):
        pd.testing.assert_frame_equal(views.board, live)
        assert views.histories.keys() == histories.keys()
        for name, weekly in histories.items():
            pd.testing.assert_frame_equal(views.histories[name], weekly)
    assert list(live["budget_remaining"]) == sorted(live["budget_remaining"])
    assert len(live) > 4  # overall rows and groups
    weekly = histories["invoice-cycle-time"]
    assert len(weekly) >= 12 and weekly["attainment"].dropna().between(0, 1).all()
    assert weekly["period"].dt.tz is not None


def test_the_board_is_evaluated_again_when_a_collector_run_or_the_configuration_moves(
    demo: DemoYear,
) -> None:
    engine, settings, sources = demo.engine, demo.settings, demo.sources()
    current_views(engine, settings, AT, sources)
    slos, ctx = configured_slos(settings), context(settings)
    stale = board_key(engine, slos, ctx, sources, AT)
    with engine.begin() as conn:  # a run starts: the data version moves
        conn.execute(
            CollectorRun.__table__.insert().values(
                collector="demo_crm",
                kind="collect",
                started_at=AT,
                status="running",
            )
        )
    try:
        moved = board_key(engine, slos, ctx, sources, AT)
        assert moved.data_version != stale.data_version
        assert load_board(engine, moved) is None
        current_views(engine, settings, AT, sources)
        assert load_board(engine, moved) is not None
        euro = settings.model_copy(update={"reporting_currency": "GBP"})
        current_views(engine, euro, AT, sources)
        assert stored_boards(engine) == 2  # one per configuration
    finally:
        with engine.begin() as conn:
            conn.execute(delete(CollectorRun).where(CollectorRun.status == "running"))


def test_the_worker_stores_the_board_and_histories_at_the_reporting_clock(
    demo: DemoYear, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker, "get_settings", lambda: demo.settings)
    monkeypatch.setattr(worker, "collector_sources", lambda _s: demo.sources())
    assert worker.board_job() is True
    engine = demo.engine
    as_of = reporting_time(engine)
    key = board_key(
        engine, configured_slos(demo.settings), context(demo.settings), demo.sources(), as_of
    )
    stored = load_board(engine, key)
    names = {s.name for s in configured_slos(demo.settings)}
    assert stored is not None and {r["slo"] for r in stored["board"]} == names
    assert set(stored["histories"]) == names
    forbid_evaluation(monkeypatch)
    assert worker.board_job() is True  # current: a lookup
    job = worker.build_scheduler(demo.settings).get_job("slo-board")
    assert job is not None and job.trigger.interval == timedelta(seconds=worker.BOARD_POLL_SECONDS)

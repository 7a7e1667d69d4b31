"""How long each page takes to draw on the demo year, server-side: its metrics call (cold) and
its AppTest run (first visit in the session and again, cached). Figures go to
``test-artifacts/page-times.txt``: a record for the closing notes, not a timing assertion
(speed targets are held in the benchmarks under ``bench/``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import streamlit as st

from metrics.views.access import ANONYMOUS as ADMIN
from metrics.views.admin import collectors_view
from metrics.views.handoffs import handoff_view
from metrics.views.invoices import invoice_view
from metrics.views.overview import board
from metrics.views.sync import sync_view
from metrics.views.trace import case_trace
from metrics.views.unbilled import unbilled_view
from tests.pages.conftest import Store, no_errors, open_app

pytestmark = pytest.mark.slow
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CASE = "project:PRJ-00349"


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def test_every_page_draws_on_the_demo_year_and_its_times_are_recorded(demo: Store) -> None:
    e, c, f, t = demo.engine, demo.config, demo.filters(), demo.as_of
    slos = demo.slo_board()
    calls: dict[str, Callable[[], Any]] = {
        "overview": lambda: board(ADMIN, e, c, f, t, slos),
        "invoice_cycle": lambda: invoice_view(ADMIN, e, c, f, t),
        "handoffs": lambda: handoff_view(ADMIN, e, c, f, t),
        "unbilled": lambda: unbilled_view(ADMIN, e, c, f, t),
        "sync_errors": lambda: sync_view(ADMIN, e, c, f, t),
        "case_trace": lambda: case_trace(ADMIN, e, c, "project", "PRJ-00349", t),
        "slos": lambda: None,  # the SLO board, timed on its own below
        "collectors": lambda: collectors_view(ADMIN, e, c),
    }
    started = time.perf_counter()
    at = open_app()  # the server process's first script run: imports, then the overview
    opened = time.perf_counter() - started
    st.cache_data.clear()  # every page draws cold once (the SLO board with the overview)
    lines = [f"{'page':14} {'metrics call':>12} {'first draw':>11} {'cached draw':>12}"]
    for page, call in calls.items():
        metrics_s = timed(call)
        at.switch_page(f"pages/{page}.py")
        at.query_params = {"case": CASE} if page == "case_trace" else {}
        first = timed(at.run)
        no_errors(at)
        again = timed(at.run)
        lines.append(f"{page:14} {metrics_s:11.2f}s {first:10.2f}s {again:11.2f}s")
    from foundation.settings import Settings
    from metrics.slo.service import slo_board

    slo_s = timed(lambda: slo_board(e, Settings(), t, c.collectors))
    lines.append(f"(the overview's first draw includes the SLO board: {slo_s:.2f}s alone, then")
    lines.append(" cached for 5 minutes and shared with the SLOs page)")
    lines.append(f"(a new server process's first script run, imports included: {opened:.2f}s)")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "page-times.txt").write_text("\n".join(lines) + "\n")
    print("\n" + "\n".join(lines))
    assert len(lines) == len(calls) + 4  # every page drew (no_errors above) and was timed

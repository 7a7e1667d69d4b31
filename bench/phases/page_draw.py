"""The `pages` phase: the SLO board evaluated and stored as the worker does, then every
dashboard page's server-side work, cold."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from bench.stores import open_store
from metrics.views.access import ANONYMOUS


def _view_config() -> Any:
    """The pages' configuration in the bench: the default settings, one collector."""
    from foundation.settings import Settings
    from metrics.views.common import ViewConfig

    return ViewConfig(Settings(), collectors={"bench": ("bench", 300)})


def page_calls(engine: Any) -> dict[str, Callable[[], Any]]:
    """Each page's server-side work: what it asks `metrics` for on a cold draw (as the admin,
    who sees everything unmasked)."""
    who = ANONYMOUS
    from metrics.slo.service import configured_slos, current_views
    from metrics.slo.stored_board import BOARD_MAX_AGE
    from metrics.views.admin import collectors_view
    from metrics.views.common import dimensions, freshness, period_bounds, period_filters
    from metrics.views.handoffs import handoff_view
    from metrics.views.invoices import invoice_view
    from metrics.views.overview import board
    from metrics.views.slos import alert_history
    from metrics.views.sync import sync_view
    from metrics.views.trace import case_trace, find_cases
    from metrics.views.unbilled import unbilled_view
    from store.clock import data_version, reporting_time

    config = _view_config()
    as_of = reporting_time(engine)
    filters = period_filters(*period_bounds("13w", as_of))
    slo = configured_slos(config.settings)[0].name

    def common() -> None:
        reporting_time(engine)
        freshness(engine)
        data_version(engine)
        dimensions(who, engine)

    def slos() -> Any:  # as stored by the worker's board job (`phase_pages` runs it first)
        return current_views(engine, config.settings, as_of, config.collectors, BOARD_MAX_AGE)

    return {
        "overview": lambda: (
            common(),
            board(who, engine, config, filters, as_of, slos().board, top=200),
        ),
        "invoice_cycle": lambda: (common(), invoice_view(who, engine, config, filters, as_of)),
        "unbilled": lambda: (
            common(),
            unbilled_view(who, engine, config, filters, as_of, "customer"),
        ),
        "slos": lambda: (common(), slos().histories[slo], alert_history(who, engine)),
        "handoffs": lambda: (common(), handoff_view(who, engine, config, filters, as_of)),
        "sync_errors": lambda: (common(), sync_view(who, engine, config, filters, as_of)),
        "case_trace": lambda: (
            common(),
            find_cases(who, engine, "D0000012"),
            case_trace(who, engine, config, "deal", "D00000123", as_of),
        ),
        "collectors": lambda: (common(), collectors_view(who, engine, config)),
    }


def phase_pages(db: str, deals: int, opts: argparse.Namespace) -> dict[str, Any]:
    from bench.generate import label

    engine = open_store(db, label(deals), out=opts.out, pg_url=opts.postgres_url)
    stored = _store_slo_board(engine)
    out: dict[str, Any] = {}
    for page, draw in page_calls(engine).items():
        started = time.perf_counter()
        draw()
        first = time.perf_counter() - started
        again = []
        for _ in range(1):
            started = time.perf_counter()
            draw()
            again.append(time.perf_counter() - started)
        out[page] = {"first_seconds": first, "repeat_seconds": min(again)}
    engine.dispose()
    return {"pages": out, "slo_board_stored": stored}


def _store_slo_board(engine: Any) -> dict[str, Any]:
    """What the worker's board job does after the data moved (`throughline.worker.board_job`):
    the SLO board and the SLOs' weekly histories evaluated at the reporting clock and stored
    for the pages, timed."""
    from metrics.slo.service import current_views
    from store.clock import reporting_time
    from store.tables import StoredSloBoard

    config = _view_config()
    with engine.begin() as conn:
        conn.execute(StoredSloBoard.__table__.delete())  # evaluated here, not found stored
    started = time.perf_counter()
    views = current_views(engine, config.settings, reporting_time(engine), config.collectors)
    return {"seconds": time.perf_counter() - started, "rows": len(views.board)}

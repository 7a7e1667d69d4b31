"""Fixtures for the dashboard tests: the demo year collected once into a SQLite file, apps on it.

The demo estate's year is collected by the real collectors once per test run (under xdist, the
workers share one file behind a lock) and copied for tests that write. Each app runs through
the entry point (`app.py`) with Streamlit's AppTest.
"""

from __future__ import annotations

import fcntl
import functools
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, text
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from collectors.demo_estate.clock import SimClock
from collectors.demo_estate.server import DemoEstateServer
from collectors.demo_estate.simulate import simulate
from collectors.registry import COLLECTORS, build_collector
from collectors.runner import run_collector
from foundation import settings as settings_module
from foundation.settings import Settings
from metrics.facts import refresh_pending
from metrics.slo.service import slo_board
from metrics.views.common import ViewConfig, period_bounds, period_filters
from store.clock import reporting_time
from store.db import make_engine
from store.migrate import upgrade
from tests.collectors.conftest import TOKEN, settings_for

APP = Path(__file__).resolve().parents[2] / "app.py"
TIMEOUT = 90
DEMO = [name for name in COLLECTORS if name.startswith("demo_")]


def build_demo_year(path: Path) -> None:
    """Collect the demo estate's year (seed 7, clock at the end of history) into `path`."""
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    estate = simulate(seed=7)
    clock = SimClock(estate.history_end)
    with DemoEstateServer(estate, TOKEN, clock=clock, rate_limit=None) as server:
        for name in DEMO:
            report = run_collector(
                engine, build_collector(name, settings_for(server)), refresh=refresh_pending
            )
            assert report.status == "success", report.error
    engine.dispose()


@pytest.fixture(scope="session")
def demo_year_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The collected demo year, built once per run (shared by xdist workers)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    target = shared / "demo-year.db"
    with (shared / "demo-year.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            building = shared / "demo-year.building.db"
            building.unlink(missing_ok=True)
            build_demo_year(building)
            make_engine(f"sqlite:///{building}").dispose()
            building.rename(target)
    return target


def copy_db(source: Path, target: Path) -> str:
    """A private copy of a SQLite store (for tests that write); returns its URL."""
    shutil.copyfile(source, target)
    return f"sqlite:///{target}"


@dataclass
class Store:
    """The database an app under test reads."""

    url: str
    engine: Engine

    @property
    def config(self) -> ViewConfig:
        return ViewConfig(collectors={n: (COLLECTORS[n].path, 300) for n in DEMO})

    @property
    def as_of(self) -> datetime:
        return reporting_time(self.engine)

    def slo_board(self) -> pd.DataFrame:
        """The SLO board at `as_of` (evaluated once per store: it takes seconds)."""
        return _slo_board(self.url, self.as_of)

    def filters_values(self, dimension: str) -> tuple[str, ...]:
        """The values a sidebar filter offers (every practice, say)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT value FROM case_dimensions WHERE dimension = :d ORDER BY value"),
                {"d": dimension},
            )
            return tuple(str(v) for v in rows.scalars())

    def filters(self, preset: str = "13w", **dims: tuple[str, ...]) -> Any:
        first, last = period_bounds(preset, self.as_of)
        return period_filters(first, last, **dims)


@pytest.fixture(autouse=True)
def navigation_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every app in `st.navigation` mode, as a live server does once it has run `app.py`.

    With a ``pages/`` folder beside the entry point Streamlit starts in its old multipage mode
    and switches for good on the first ``st.navigation`` call; AppTest resets that switch
    before *every* run, so each run of a non-default page would take the start-up path (see
    `ui.ensure_entrypoint`, tested on its own in test_app_shell.py).
    """
    original = PagesManager.__init__

    def init(self: PagesManager, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


@functools.lru_cache(maxsize=8)
def _slo_board(url: str, as_of: datetime) -> pd.DataFrame:
    store = Store(url, make_engine(url))
    try:
        return slo_board(store.engine, Settings(), as_of, store.config.collectors)
    finally:
        store.engine.dispose()


def use_database(url: str, monkeypatch: pytest.MonkeyPatch) -> Store:
    """Point the app (its settings) at `url`; Streamlit's caches are keyed by the URL."""
    monkeypatch.setenv("THROUGHLINE_DATABASE_URL", url)
    monkeypatch.setenv("THROUGHLINE_AUTH__ALLOW_ANONYMOUS", "true")  # no sign-in (test_access)
    for name in [k for k in os.environ if k.startswith("THROUGHLINE_COLLECTORS__")]:
        monkeypatch.delenv(name)
    settings_module.get_settings.cache_clear()
    return Store(url, make_engine(url))


@pytest.fixture
def demo(demo_year_file: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """The app on the shared demo year: tests using it must not write (see `writable_demo`)."""
    store = use_database(f"sqlite:///{demo_year_file}", monkeypatch)
    yield store
    store.engine.dispose()
    settings_module.get_settings.cache_clear()


@pytest.fixture(scope="module")
def module_copy(demo_year_file: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A private copy of the demo year for one test module (its tests may write to it)."""
    return copy_db(demo_year_file, tmp_path_factory.mktemp("pages") / "demo.db")


@pytest.fixture
def writable_demo(module_copy: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """The app on the module's private copy of the demo year (for tests that write)."""
    store = use_database(module_copy, monkeypatch)
    yield store
    store.engine.dispose()
    settings_module.get_settings.cache_clear()


@pytest.fixture
def empty_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """The app pointed at a migrated database with nothing collected."""
    url = f"sqlite:///{tmp_path}/empty.db"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    store = use_database(url, monkeypatch)
    yield store
    store.engine.dispose()
    settings_module.get_settings.cache_clear()


def open_app(query: dict[str, Any] | None = None) -> AppTest:
    """The app as a visitor opening its root URL (with `query` parameters)."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    if query:
        at.query_params = dict(query)
    at.run()
    return at


def open_page(page: str, query: dict[str, Any] | None = None) -> AppTest:
    """The app on `page` (``pages/….py``) as a visitor opening a link with `query`: AppTest
    starts on the default page, so the session first opens that with the same parameters."""
    at = open_app(query)
    at.switch_page(page)
    if query:
        at.query_params = dict(query)
    at.run()
    return at


def table(at: AppTest, key: str) -> pd.DataFrame:
    """The data of the selectable table drawn with `key` (read-only tables carry no key in
    AppTest: find those with `table_starting`)."""
    for frame in at.dataframe:
        if frame.key == key:
            return frame.value
    raise AssertionError(f"no table {key!r}; tables: {[f.key for f in at.dataframe]}")


def table_starting(at: AppTest, *columns: str) -> pd.DataFrame:
    """The first table whose leading columns are `columns`."""
    for frame in at.dataframe:
        value = frame.value
        if list(value.columns[: len(columns)]) == list(columns):
            return value
    found = [list(f.value.columns[:3]) for f in at.dataframe]
    raise AssertionError(f"no table starting with {columns}; tables start with {found}")


def metrics(at: AppTest) -> dict[str, str]:
    """Metric label → shown value."""
    return {m.label: m.value for m in at.metric}


def select_row(at: AppTest, key: str, row: int) -> AppTest:
    """Click row `row` of a selectable table and rerun."""
    at.session_state[key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    return at.run()


def click_point(at: AppTest, key: str, **point: Any) -> AppTest:
    """Click a point of a Plotly chart (its fields, e.g. ``x=…, customdata=…``) and rerun."""
    at.session_state[key] = {
        "selection": {"points": [point], "point_indices": [0], "box": [], "lasso": []}
    }
    return at.run()


def plain(markdown: str) -> str:
    """Markdown source as the reader sees it (backslash escapes removed)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def no_errors(at: AppTest) -> None:
    """The run raised nothing and showed no error box."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]

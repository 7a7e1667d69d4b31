"""Fixtures for the SLO tests: the demo year collected once into a SQLite store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slo_demo import DemoYear, collect_demo_year
from sqlalchemy import Engine

from foundation.settings import Settings


@pytest.fixture(scope="session")
def demo_year(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoYear]:
    """The demo year collected once (per session and xdist worker) into a SQLite store."""
    year = collect_demo_year(tmp_path_factory.mktemp("slo") / "demo.db")
    yield year
    year.engine.dispose()


@pytest.fixture
def demo_store(demo_year: DemoYear) -> tuple[Engine, Settings]:
    """The collected demo year's store and the settings that point at it."""
    return demo_year.engine, demo_year.settings

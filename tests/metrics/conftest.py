"""Fixtures for KPI tests: a migrated store per test module, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from store.db import make_engine
from store.migrate import upgrade
from tests.conftest import postgres_schema


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def module_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A migrated, empty store shared by the tests of one module (one per database kind)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("store") / "throughline.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    with postgres_schema("m", migrated=True) as engine:
        yield engine

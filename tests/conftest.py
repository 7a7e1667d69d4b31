"""Shared fixtures: an empty migrated store on SQLite and on PostgreSQL.

PostgreSQL comes from `THROUGHLINE_TEST_POSTGRES_URL` (default: the local server,
`postgresql+psycopg://postgres@127.0.0.1:5432/test`). Each test gets its own schema. When the
server is unreachable the PostgreSQL variants are skipped locally but **fail** with `CI=true`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, text

from store.db import make_engine
from store.migrate import upgrade

POSTGRES_URL = os.environ.get(
    "THROUGHLINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
_pg_error: str | None = None
_pg_checked = False


def postgres_unavailable() -> str | None:
    """Why PostgreSQL cannot be used, or None when it can (checked once per session)."""
    global _pg_checked, _pg_error
    if not _pg_checked:
        _pg_checked = True
        probe = make_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        try:
            with probe.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # any failure means: not usable here
            _pg_error = f"PostgreSQL at {POSTGRES_URL} is unreachable: {exc.__class__.__name__}"
        finally:
            probe.dispose()
    return _pg_error


def require_postgres() -> None:
    """Skip (locally) or fail (in CI) when PostgreSQL is missing."""
    reason = postgres_unavailable()
    if reason is None:
        return
    if IN_CI:
        pytest.fail(f"{reason}; CI=true requires it (start it, see .ci/run)", pytrace=False)
    pytest.skip(reason)


@contextmanager
def postgres_schema(prefix: str = "t", *, migrated: bool = False) -> Iterator[Engine]:
    """An engine on a fresh PostgreSQL schema of its own, dropped afterwards (skips locally,
    fails in CI, when PostgreSQL is missing)."""
    require_postgres()
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(POSTGRES_URL, connect_args={"options": f"-c search_path={schema}"})
    try:
        if migrated:
            upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_schema_engine() -> Iterator[Engine]:
    """An engine on a fresh, empty PostgreSQL schema of its own (not migrated)."""
    with postgres_schema() as engine:
        yield engine


@pytest.fixture
def sqlite_engine(tmp_path: object) -> Iterator[Engine]:
    """An engine on a new, empty SQLite file (not migrated)."""
    engine = make_engine(f"sqlite:///{tmp_path}/throughline.db")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_engine(request: pytest.FixtureRequest) -> Engine:
    """An empty database of each kind."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_schema_engine"
    engine: Engine = request.getfixturevalue(name)
    return engine


@pytest.fixture
def engine(empty_engine: Engine) -> Engine:
    """A migrated, empty store on SQLite and on PostgreSQL."""
    upgrade(empty_engine)
    return empty_engine

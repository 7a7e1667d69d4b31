"""Fixtures for the resilience tests: the demo estate and its APIs (shared with the collector
tests), the vendors run here (HubSpot and n8n fakes, a real trytond) behind one router, and the
store a fault-schedule test names (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from collectors.demo_estate.clock import SimClock
from collectors.demo_estate.model import Estate
from collectors.demo_estate.server import DemoEstateServer
from collectors.demo_estate.simulate import simulate
from store.migrate import upgrade
from tests.collectors.conftest import TOKEN, demo_server, estate
from tests.resilience.vendor_router import VendorRouter, forward_to, hubspot_api, n8n_api
from tests.tryton.conftest import TrytonServer, tryton_server

__all__ = ["demo_server", "estate", "tryton_server"]


# --- the fault-schedule and crash tests (tests/resilience/test_fault_schedules.py, …crash…) ----


@pytest.fixture(scope="session")
def small_estate() -> Estate:
    """A two-month firm (seed 3): one clean collection of it takes about a second."""
    return simulate(seed=3, months=2, horizon_months=0)


@pytest.fixture(scope="session")
def small_server(small_estate: Estate) -> Iterator[DemoEstateServer]:
    """The small firm's APIs, clock fixed at the end of its history (read-only: never changed)."""
    clock = SimClock(small_estate.history_end)
    with DemoEstateServer(small_estate, TOKEN, clock=clock, rate_limit=None) as server:
        yield server


@pytest.fixture(scope="session")
def vendors(tryton_server: TrytonServer) -> Iterator[VendorRouter]:
    """HubSpot and n8n (recorded fakes) and a real trytond behind one loopback router."""
    routes = {
        "/crm/": hubspot_api().handle,
        "/api/v1/": n8n_api().handle,
        f"/{tryton_server.database}/": forward_to(tryton_server.server_url),
    }
    with VendorRouter(routes) as router:
        yield router


@pytest.fixture
def store(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An empty migrated store of the kind the test names ("sqlite" or "postgresql")."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_schema_engine"
    engine: Engine = request.getfixturevalue(name)
    upgrade(engine)
    yield engine


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """What the fault-schedule and crash tests did (in this process), when they ran."""
    from tests.resilience.store_rows import TALLY

    if TALLY.schedules or TALLY.crash_points:
        terminalreporter.write_sep("-", "resilience")
        for line in TALLY.lines():
            terminalreporter.write_line(line)

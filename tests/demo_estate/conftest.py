"""Fixtures for the demo estate: one default estate per session, servers per test."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from estate_walk import TOKEN, authed

from collectors.demo_estate import DemoEstateServer, Estate, SimClock, simulate


@pytest.fixture(scope="session")
def timed_estate() -> tuple[Estate, float]:
    """The default estate (seed 7, 12 months + 3 months horizon), built once, and its build time."""
    started = time.perf_counter()
    built = simulate()
    return built, time.perf_counter() - started


@pytest.fixture(scope="session")
def estate(timed_estate: tuple[Estate, float]) -> Estate:
    """The default estate."""
    return timed_estate[0]


@pytest.fixture(scope="session")
def small_estate() -> Estate:
    """A quick two-month estate with a one-month horizon."""
    return simulate(seed=3, months=2, horizon_months=1)


@pytest.fixture(scope="session")
def shared_server(estate: Estate) -> Iterator[DemoEstateServer]:
    """A read-only server on the default estate, no rate limit (tests must not change it)."""
    with DemoEstateServer(estate, TOKEN, rate_limit=None) as server:
        yield server


@pytest.fixture
def make_server(estate: Estate) -> Iterator[Callable[..., DemoEstateServer]]:
    """Start servers with their own options; stopped (and corruptions undone) after the test."""
    started: list[DemoEstateServer] = []

    def make(target: Estate | None = None, **options: Any) -> DemoEstateServer:
        options.setdefault("rate_limit", None)
        target = target or estate
        options.setdefault("clock", SimClock(target.history_end))
        server = DemoEstateServer(target, TOKEN, **options).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
    estate.clear_corruptions()


@pytest.fixture
def client(shared_server: DemoEstateServer) -> Iterator[httpx.Client]:
    """An authenticated client on the shared server."""
    with authed(shared_server) as c:
        yield c

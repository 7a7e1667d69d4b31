"""Fixtures for the resilience tests: the demo estate and its APIs, shared with the collector
tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from collectors.demo_estate.clock import SimClock
from collectors.demo_estate.model import Estate
from collectors.demo_estate.server import DemoEstateServer
from collectors.demo_estate.simulate import simulate
from tests.collectors.conftest import TOKEN, demo_server, estate

__all__ = ["demo_server", "estate"]


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


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """What the fault-schedule and crash tests did (in this process), when they ran."""
    from tests.resilience.store_rows import TALLY

    if TALLY.schedules or TALLY.crash_points:
        terminalreporter.write_sep("-", "resilience")
        for line in TALLY.lines():
            terminalreporter.write_line(line)

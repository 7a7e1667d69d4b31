"""Fixtures for collector tests: the demo estate served on loopback and settings pointing at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from collectors.demo_estate.clock import SimClock
from collectors.demo_estate.model import Estate
from collectors.demo_estate.server import DemoEstateServer
from collectors.demo_estate.simulate import simulate
from collectors.registry import COLLECTORS
from foundation.settings import CollectorSettings, Settings

TOKEN = "test-token-not-a-secret"


@pytest.fixture(scope="session")
def estate() -> Estate:
    """The default demo estate (seed 7), generated once per test session."""
    return simulate(seed=7)


@pytest.fixture
def demo_server(estate: Estate) -> Iterator[DemoEstateServer]:
    """The estate's APIs on a free loopback port, clock fixed at the end of history."""
    with DemoEstateServer(estate, TOKEN, clock=SimClock(estate.history_end), rate_limit=None) as s:
        yield s


def settings_for(server: DemoEstateServer, token: str = TOKEN, url: str = "sqlite://") -> Settings:
    """Settings whose registered collectors all point at `server`."""
    return Settings(
        database_url=url,
        demo_token=SecretStr(token),
        collectors={name: CollectorSettings(base_url=server.base_url) for name in COLLECTORS},
    )

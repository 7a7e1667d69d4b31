"""The demo year for the SLO tests: the simulated estate and the store it was collected into."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import Engine

from collectors.demo_estate.model import Estate
from collectors.demo_estate.server import DemoEstateServer
from collectors.demo_estate.simulate import simulate
from collectors.registry import COLLECTORS, build_collector, collector_sources
from collectors.runner import run_collector
from foundation.settings import CollectorSettings, Settings
from metrics.facts import refresh_pending
from store.db import make_engine
from store.migrate import upgrade

TOKEN = "slo-test-token"


@dataclass(frozen=True)
class DemoYear:
    """The simulated estate (seed 7) and the store its year was collected into."""

    estate: Estate
    engine: Engine
    settings: Settings

    def sources(self) -> dict[str, tuple[str, int]]:
        """The demo collectors, with intervals so long that no source is ever stale."""
        return {
            name: (system, 10**7) for name, (system, _) in collector_sources(self.settings).items()
        }


def collect_demo_year(path: Path) -> DemoYear:
    """Simulate the default estate and collect its year into a SQLite store at ``path``."""
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    estate = simulate()
    with DemoEstateServer(estate, TOKEN, rate_limit=None) as server:
        settings = Settings(
            database_url=url,
            demo_token=SecretStr(TOKEN),
            collectors={n: CollectorSettings(base_url=server.base_url) for n in COLLECTORS},
        )
        for name in (n for n in COLLECTORS if n.startswith("demo_")):
            assert (
                run_collector(
                    engine, build_collector(name, settings), refresh=refresh_pending
                ).status
                == "success"
            )
    return DemoYear(estate, engine, settings)

"""Which collectors pause an SLO: only configured ones gone stale, by the same rule the
collectors page and the dashboard's "data as of" line use; a file import never does, and `slo check` names the collector."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, insert

from collectors.registry import COLLECTORS, build_collector
from foundation import settings as settings_module
from foundation.settings import CollectorSettings, Settings
from metrics.freshness import is_stale, stale_after
from metrics.slo.adapter import KPI_SOURCES, feeds, freshness
from metrics.slo.service import configured_slos
from metrics.views.admin import collector_health
from metrics.views.common import ViewConfig
from metrics.views.common import freshness as view_freshness
from store.migrate import upgrade
from store.tables import CollectorRun
from tests.collectors.sources import SAAS, saas_settings
from throughline.cli import main

AS_OF = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
N8N = {"n8n": ("n8n", 300)}


def run(
    engine: Engine, collector: str, kind: str, finished: datetime, status: str = "success"
) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(CollectorRun).values(
                collector=collector,
                kind=kind,
                started_at=finished - timedelta(minutes=1),
                finished_at=finished,
                status=status,
                rows_in=10,
                rows_quarantined=0,
            )
        )


def test_an_import_is_never_a_collector_s_success_nor_stale(engine: Engine) -> None:
    run(engine, "import-events:history.csv", "import", AS_OF - timedelta(days=3))
    run(engine, "n8n", "import", AS_OF - timedelta(minutes=1))  # an import under its name
    (n8n,) = freshness(engine, N8N)
    assert n8n.last_success is None and n8n.is_stale(AS_OF)
    run(engine, "n8n", "collect", AS_OF - timedelta(minutes=5))
    (n8n,) = freshness(engine, N8N)
    assert n8n.last_success == AS_OF - timedelta(minutes=5) and not n8n.is_stale(AS_OF)
    health = collector_health(engine, ViewConfig(collectors=N8N), AS_OF).set_index("collector")
    assert health.loc["import-events:history.csv", "health"] == "imported"
    assert list(health.index) == ["import-events:history.csv", "n8n"]


@pytest.mark.parametrize(
    ("interval", "age", "stale"),
    [
        (60, timedelta(minutes=14, seconds=59), False),
        (60, timedelta(minutes=15, seconds=1), True),
        (600, timedelta(minutes=29), False),
        (600, timedelta(minutes=31), True),
        (3600, timedelta(hours=2, minutes=59), False),
        (3600, timedelta(hours=3, minutes=1), True),
    ],
)
def test_the_collectors_page_and_the_slos_share_one_staleness_rule(
    sqlite_engine: Engine, interval: int, age: timedelta, stale: bool
) -> None:
    upgrade(sqlite_engine)
    run(sqlite_engine, "n8n", "collect", AS_OF - age)
    config = {"n8n": ("n8n", interval)}
    health = collector_health(sqlite_engine, ViewConfig(collectors=config), AS_OF)
    (source,) = freshness(sqlite_engine, config)
    assert (health.loc[0, "health"] == "stale") is stale is source.is_stale(AS_OF)
    assert is_stale(AS_OF - age, interval, AS_OF) is stale
    assert source.stale_after == stale_after(interval)
    banner = view_freshness(sqlite_engine, AS_OF, collectors=config)  # the "data as of" line
    assert banner.stale == (("n8n",) if stale else ())


def test_every_registered_collector_feeds_the_slos_of_its_kpis() -> None:
    """A collector whose source system no KPI reads could never pause an SLO."""
    systems = set().union(*KPI_SOURCES.values())
    built = {
        name: build_collector(name, saas_settings(name), options={name: SAAS[name]["options"]})
        for name in SAAS
    }
    built["logfiles"] = build_collector(
        "logfiles",
        Settings(database_url="sqlite://"),
        options={
            "logfiles": {
                "files": [
                    {
                        "name": "m",
                        "path": "/var/log/m.jsonl",
                        "format": "jsonl",
                        "fields": {
                            "integration": "a",
                            "flow": "b",
                            "status": "c",
                            "started_at": "d",
                        },
                    }
                ]
            }
        },
    )
    tryton = Settings(
        database_url="sqlite://",
        collectors={"tryton": CollectorSettings(base_url="https://erp.test/firm/")},
        secrets={"tryton_password": SecretStr("x")},
    )
    built["tryton"] = build_collector("tryton", tryton, options={})
    for name in COLLECTORS:
        source = built[name] if name in built else build_collector(name, Settings())
        assert source.source_system in systems, name
    slos = configured_slos(Settings(database_url="sqlite://"))
    assert feeds(slos, {"n8n": ("n8n", 300)})["n8n"] == {"sync-first-attempts"}
    assert feeds(slos, {"tryton": ("tryton", 300)})["tryton"] == {
        "invoice-cycle-time",
        "project-setup-latency",
        "unbilled-work-aging",
    }


def slo_check(monkeypatch: pytest.MonkeyPatch, engine: Engine, **env: str) -> int:
    monkeypatch.setenv("THROUGHLINE_DATABASE_URL", engine.url.render_as_string(False))
    for demo in (n for n in COLLECTORS if n.startswith("demo_")):  # a production install
        monkeypatch.setenv(f"THROUGHLINE_COLLECTORS__{demo.upper()}__ENABLED", "false")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings_module.get_settings.cache_clear()
    try:
        code = main(["slo", "check", "--as-of", AS_OF.isoformat()])
    finally:
        settings_module.get_settings.cache_clear()
    return code


def test_slo_check_names_the_stale_collector_and_ignores_imports_and_the_unconfigured(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    upgrade(sqlite_engine)
    run(sqlite_engine, "import-events:history.csv", "import", AS_OF - timedelta(days=3))

    assert slo_check(monkeypatch, sqlite_engine) == 0  # nothing configured: an imported store
    out = capsys.readouterr().out
    assert "paused" not in out and "4 SLOs as of 2026-06-01 12:00 UTC; 0 breached\n" in out

    n8n = {
        "THROUGHLINE_COLLECTORS__N8N__BASE_URL": "https://n8n.example.com/api/v1",
        "THROUGHLINE_SECRETS__N8N_API_KEY": "n8n-key",
    }
    slo_check(monkeypatch, sqlite_engine, **n8n)  # configured, never run
    lines = capsys.readouterr().out.splitlines()
    paused = [line for line in lines if line.startswith("paused")]
    assert len(paused) == 1 and "sync-first-attempts" in paused[0]
    assert paused[0].endswith("; paused by n8n")
    assert (
        "collector n8n has never succeeded, stale after 15 min: the SLOs it feeds are paused"
        " until it runs again"
    ) in lines
    assert lines[-1] == "4 SLOs as of 2026-06-01 12:00 UTC; 0 breached, 1 paused"

    run(sqlite_engine, "n8n", "collect", AS_OF - timedelta(hours=2))
    slo_check(monkeypatch, sqlite_engine, **n8n)
    lines = capsys.readouterr().out.splitlines()
    assert (
        "collector n8n last succeeded 2026-06-01 10:00 UTC, stale after 15 min: the SLOs it"
        " feeds are paused until it runs again"
    ) in lines

    run(sqlite_engine, "n8n", "collect", AS_OF - timedelta(minutes=3))
    slo_check(monkeypatch, sqlite_engine, **n8n)
    assert "paused" not in capsys.readouterr().out

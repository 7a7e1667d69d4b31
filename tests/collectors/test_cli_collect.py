"""`throughline collect` and `throughline backfill` against the live demo estate."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from collectors.demo_estate.server import DemoEstateServer
from collectors.registry import COLLECTORS
from foundation import settings as settings_module
from store.db import make_engine
from tests.collectors.conftest import TOKEN
from tests.collectors.fixture_api import FixtureApi
from tests.collectors.loopback import serving
from tests.collectors.store_truth import store_summary
from throughline.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli_env(demo_server: DemoEstateServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("THROUGHLINE_DATABASE_URL", url)
    monkeypatch.setenv("THROUGHLINE_DEMO_TOKEN", TOKEN)
    for name in COLLECTORS:
        monkeypatch.setenv(
            f"THROUGHLINE_COLLECTORS__{name.upper()}__BASE_URL", demo_server.base_url
        )
    settings_module.get_settings.cache_clear()
    yield url
    settings_module.get_settings.cache_clear()


def test_collect_runs_one_collector_and_reports_what_it_stored(
    cli_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["collect", "demo_psa"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("demo_psa: success;") and "rows written, 0 quarantined" in out
    assert main(["collect", "demo_psa"]) == 0
    assert "0 rows written" in capsys.readouterr().out


def test_backfill_rereads_history_without_adding_rows(
    cli_env: str, capsys: pytest.CaptureFixture[str], demo_server: DemoEstateServer
) -> None:
    assert main(["collect", "demo_ipaas"]) == 0
    capsys.readouterr()
    assert main(["backfill", "demo_ipaas", "--since", "2025-11-01"]) == 0
    out = capsys.readouterr().out
    assert "demo_ipaas: success;" in out and "0 rows written" in out
    from store.db import make_engine

    engine = make_engine(cli_env)
    assert store_summary(engine)["sync_attempts"] == demo_server.truth().sync_attempts
    engine.dispose()


def test_an_unknown_collector_is_named_and_refused(
    cli_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["collect", "salesforce_prod"]) == 2
    assert capsys.readouterr().err == (
        "throughline collect: there is no collector named 'salesforce_prod'; "
        "did you mean 'salesforce'?\n"
    )


def test_a_source_refusing_the_token_makes_collect_fail(
    cli_env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THROUGHLINE_DEMO_TOKEN", "wrong")
    settings_module.get_settings.cache_clear()
    assert main(["collect", "demo_erp"]) == 1
    out = capsys.readouterr().out
    assert "demo_erp: failed;" in out and "401" in out and "wrong" not in out.replace("wrong-", "")


def production_env(tmp_path: Path, **variables: str) -> dict[str, str]:
    """A cron job's environment: no demo, a fresh home and data directory, these settings."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("THROUGHLINE_")}
    env.update(
        {
            "HOME": str(tmp_path / "home"),
            "XDG_DATA_HOME": str(tmp_path / "data"),
            "THROUGHLINE_DATABASE_URL": f"sqlite:///{tmp_path}/prod.db",
            **variables,
        }
    )
    return env


def collect_process(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "throughline", "collect"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_a_production_collect_runs_the_configured_connector_alone_and_exits_0(
    tmp_path: Path,
) -> None:
    """Cron's `throughline collect` with one real connector configured (n8n, served on loopback
    in its documented shape): it runs that one, never a demo collector, and succeeds."""
    fake = FixtureApi("n8n")
    with serving(fake) as url:
        done = collect_process(
            production_env(
                tmp_path,
                THROUGHLINE_COLLECTORS__N8N__BASE_URL=url,
                THROUGHLINE_SECRETS__N8N_API_KEY=fake.auth.api_key,
            )
        )
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    assert line.startswith("n8n: success; ") and line.endswith(" 0 quarantined"), line
    assert "demo" not in done.stdout + done.stderr
    assert fake.statuses() and set(fake.statuses()) == {200}
    engine = make_engine(f"sqlite:///{tmp_path}/prod.db")
    assert store_summary(engine)["sync_attempts"] == len(fake.tables["executions"])
    engine.dispose()


def test_a_collect_with_nothing_configured_does_nothing_and_exits_0(tmp_path: Path) -> None:
    done = collect_process(production_env(tmp_path))
    assert (done.returncode, done.stdout) == (0, "")
    assert done.stderr.startswith("throughline collect: no collector is configured, nothing to do")
    assert not (tmp_path / "prod.db").exists(), "no database is opened for nothing"

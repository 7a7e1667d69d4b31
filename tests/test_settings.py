"""Settings: environment over file over defaults; secrets only from the environment, masked."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from foundation import settings as settings_module
from foundation.environment import unknown_variables
from foundation.rundir import DEMO_KIND, claim, grant_demo_mode, release
from foundation.settings import Settings, default_database_url, mask_url_password
from foundation.urls import has_password
from throughline.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [n for n in os.environ if n.upper().startswith("THROUGHLINE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    settings_module.get_settings.cache_clear()


def run_config(capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`throughline config` on the environment as it is now: status, output, errors."""
    settings_module.get_settings.cache_clear()
    try:
        code = main(["config"])
    finally:
        settings_module.get_settings.cache_clear()
    out, err = capsys.readouterr()
    return code, out, err


def test_the_default_database_is_a_sqlite_file_in_the_user_data_directory(tmp_path: Path) -> None:
    settings = Settings()
    assert settings.database_url == default_database_url()
    assert settings.database_url == f"sqlite:///{tmp_path}/data/throughline/throughline.db"
    assert [(e.code, e.country, e.currency) for e in settings.legal_entities] == [
        ("US", "US", "USD"),
        ("UK", "GB", "GBP"),
        ("DE", "DE", "EUR"),
    ]


def test_environment_overrides_the_settings_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    file = tmp_path / "throughline.toml"
    file.write_text(
        'reporting_currency = "eur"\ndatabase_url = "sqlite:///from-file.db"\n'
        "[collectors.demo_crm]\ninterval_seconds = 60\n"
    )
    monkeypatch.setenv("THROUGHLINE_SETTINGS_FILE", str(file))
    monkeypatch.setenv("THROUGHLINE_DATABASE_URL", "sqlite:///from-env.db")
    settings = Settings()
    assert settings.database_url == "sqlite:///from-env.db"
    assert settings.reporting_currency == "EUR"
    assert settings.collector("demo_crm").interval_seconds == 60
    assert settings.collector("other").interval_seconds == 300


def test_a_secret_in_the_settings_file_is_refused_naming_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    file = tmp_path / "throughline.toml"
    file.write_text('demo_token = "hunter2"\n')
    monkeypatch.setenv("THROUGHLINE_SETTINGS_FILE", str(file))
    with pytest.raises(ValueError, match=r"throughline\.toml: demo_token is a secret"):
        Settings()


def test_config_prints_the_effective_settings_with_secrets_masked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("THROUGHLINE_DATABASE_URL", "postgresql://app:s3cret@db:5432/tl")
    monkeypatch.setenv("THROUGHLINE_DEMO_TOKEN", "tok-123")
    monkeypatch.setenv("THROUGHLINE_SECRETS__SALESFORCE_CLIENT_SECRET", "sf-secret")

    code, out, _ = run_config(capsys)
    assert code == 0
    shown = json.loads(out)
    assert shown["database_url"] == "postgresql://app:***@db:5432/tl"
    assert shown["demo_token"] == "***"
    assert shown["secrets"] == {"salesforce_client_secret": "***"}
    assert "s3cret" not in out and "tok-123" not in out and "sf-secret" not in out


def test_url_passwords_are_masked() -> None:
    assert mask_url_password("sqlite:///x.db") == "sqlite:///x.db"
    assert mask_url_password("postgresql://u@h/db") == "postgresql://u@h/db"
    assert mask_url_password("postgresql://u:p@ss@h/db") == "postgresql://u:***@h/db"


def test_the_demo_faster_than_real_time_accepts_records_ahead_of_our_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from collectors.runner import future_tolerance
    from throughline.demo import demo_environment

    settings = settings_module.Settings()
    assert "THROUGHLINE_FUTURE_TOLERANCE_DAYS" not in demo_environment(settings, "http://x", "t")
    fast = demo_environment(settings, "http://x", "t", live_speed=3600)
    monkeypatch.setenv(
        "THROUGHLINE_FUTURE_TOLERANCE_DAYS", fast["THROUGHLINE_FUTURE_TOLERANCE_DAYS"]
    )
    settings_module.get_settings.cache_clear()
    try:
        assert future_tolerance().days == 36_500  # what the demo's worker checks records with
    finally:
        monkeypatch.undo()
        settings_module.get_settings.cache_clear()
    assert future_tolerance().days == 1


# --- passwords in URLs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app:s3cret@db:5432/tl", "postgresql://app:***@db:5432/tl"),
        (
            "postgresql://app@db/tl?password=s3cret&sslmode=require",
            "postgresql://app@db/tl?password=***&sslmode=require",
        ),
        (
            "postgresql://app@db/tl?sslmode=require&PWD=s3cret",
            "postgresql://app@db/tl?sslmode=require&PWD=***",
        ),
        (
            "https://erp.example.com/api?pass=s3cret#frag",
            "https://erp.example.com/api?pass=***#frag",
        ),
        (
            "https://erp.example.com/api?api_key=s3cret;x=1",
            "https://erp.example.com/api?api_key=***;x=1",
        ),
        ("https://bot:s3cr@t/x@erp.example.com/tl", "https://bot:***@erp.example.com/tl"),
        (
            "https://erp.example.com/tl?owner=ann@firm.example",
            "https://erp.example.com/tl?owner=ann@firm.example",
        ),
        ("sqlite:////srv/a:b@c/store.db", "sqlite:////srv/a:b@c/store.db"),
    ],
)
def test_a_password_in_a_url_is_masked_wherever_it_sits(url: str, shown: str) -> None:
    assert mask_url_password(url) == shown
    assert has_password(url) == (shown != url)


def test_config_masks_the_password_of_every_url_it_shows(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("THROUGHLINE_DATABASE_URL", "postgresql://app@db/tl?password=pg-pw-1")
    monkeypatch.setenv("THROUGHLINE_COLLECTORS__TRYTON__BASE_URL", "https://bot:tr-pw-2@erp/tl/")
    monkeypatch.setenv(
        "THROUGHLINE_AUTH__SERVER_METADATA_URL", "https://idp/.well-known/x?client_secret=cs-3"
    )
    code, out, _ = run_config(capsys)
    assert code == 0
    shown = json.loads(out)
    assert shown["database_url"] == "postgresql://app@db/tl?password=***"
    assert shown["collectors"]["tryton"]["base_url"] == "https://bot:***@erp/tl/"
    assert shown["auth"]["server_metadata_url"] == "https://idp/.well-known/x?client_secret=***"
    assert not {"pg-pw-1", "tr-pw-2", "cs-3"} & set(re.findall(r"[\w-]+", out))


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('database_url = "postgresql://app:s3cret@db/tl"\n', "database_url"),
        ('database_url = "postgresql://app@db/tl?password=s3cret"\n', "database_url"),
        (
            '[collectors.n8n]\nbase_url = "https://n8n.example.com/?api_key=s3cret"\n',
            "collectors.n8n.base_url",
        ),
        (
            '[auth]\nserver_metadata_url = "https://u:s3cret@idp.example/.well-known"\n',
            "auth.server_metadata_url",
        ),
    ],
)
def test_a_settings_file_with_a_password_in_a_url_is_refused_naming_the_file_and_key(
    toml: str,
    key: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    file = tmp_path / "throughline.toml"
    file.write_text(toml)
    monkeypatch.setenv("THROUGHLINE_SETTINGS_FILE", str(file))
    code, out, err = run_config(capsys)
    assert code == 2
    variable = "THROUGHLINE_" + key.replace(".", "__").upper()
    assert err == (
        f"throughline: configuration error: {file}: {key} holds a password in its URL; secrets "
        f"are only read from the environment: set {variable} there instead\n"
    )
    assert "s3cret" not in out + err


def test_the_environment_may_hold_a_password_in_the_database_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("THROUGHLINE_DATABASE_URL", "postgresql://app:s3cret@db/tl")
    assert Settings().database_url == "postgresql://app:s3cret@db/tl"


def test_a_collector_url_that_is_not_http_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("THROUGHLINE_COLLECTORS__N8N__BASE_URL", "n8n.example.com")
    code, _, err = run_config(capsys)
    assert code == 2
    assert (
        "collectors.n8n.base_url: must be an http:// or https:// URL, e.g. https://erp."
        "example.com (THROUGHLINE_COLLECTORS__N8N__BASE_URL)" in err
    )


# --- variables that name no setting --------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "guess"),
    [
        ("THROUGHLINE_DATABASE_ULR", "THROUGHLINE_DATABASE_URL"),
        ("THROUGHLINE_REPORTING_CURENCY", "THROUGHLINE_REPORTING_CURRENCY"),
        ("throughline_dashboard_prot", "THROUGHLINE_DASHBOARD_PORT"),
        ("THROUGHLINE_AUTH__CLIENTID", "THROUGHLINE_AUTH__CLIENT_ID"),
        ("THROUGHLINE_COLLECTORS__TRYTON__BASEURL", "THROUGHLINE_COLLECTORS__TRYTON__BASE_URL"),
        ("THROUGHLINE_SECRET__HUBSPOT_TOKEN", "THROUGHLINE_SECRETS__HUBSPOT_TOKEN"),
        ("THROUGHLINE_CONNECTOR_FILE", "THROUGHLINE_CONNECTORS_FILE"),
    ],
)
def test_a_misspelt_variable_is_refused_with_the_closest_known_name(
    variable: str, guess: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(variable, "x")
    assert main(["config"]) == 2
    assert capsys.readouterr().err == (
        f"throughline: configuration error: {variable} is not a Throughline setting; did you "
        f"mean {guess}?\n"
    )


def test_every_documented_and_nested_variable_is_known() -> None:
    """Each setting, a key under a mapping, a nested model's field and the tools' variables."""
    known = {
        "THROUGHLINE_DATABASE_URL": "x",
        "THROUGHLINE_LEGAL_ENTITIES": "[]",
        "THROUGHLINE_COLLECTORS": "{}",
        "THROUGHLINE_COLLECTORS__ANY_NAME": "{}",
        "THROUGHLINE_COLLECTORS__N8N__INTERVAL_SECONDS": "60",
        "THROUGHLINE_SECRETS__WHATEVER": "s",
        "THROUGHLINE_AUTH__ROLES__FINANCE": "cfo",
        "THROUGHLINE_ALERT_WEBHOOKS__OPS": "slack",
        "THROUGHLINE_SETTINGS_FILE": "f",
        "THROUGHLINE_CONNECTORS_FILE": "f",
        "THROUGHLINE_DEMO_PASS": "p",
        "THROUGHLINE_TEST_POSTGRES_URL": "x",
        "THROUGHLINE_BENCH_POSTGRES_URL": "x",
        "PATH": "/bin",
    }
    assert unknown_variables(known, Settings) == []
    assert unknown_variables({"THROUGHLINE_AUTH__ROLES__A__B": "x"}, Settings) == [
        "THROUGHLINE_AUTH__ROLES__A__B is not a Throughline setting; did you mean "
        "THROUGHLINE_AUTH__ROLES__A?"
    ]
    assert unknown_variables({"THROUGHLINE_QQQ": "x"}, Settings) == [
        "THROUGHLINE_QQQ is not a Throughline setting (see the README's Configuration)"
    ]


# --- demo mode -----------------------------------------------------------------------------------


def test_demo_mode_from_the_environment_or_the_settings_file_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("THROUGHLINE_DEMO_MODE", "true")
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "throughline: configuration error: THROUGHLINE_DEMO_MODE is not a setting"
    )
    assert "THROUGHLINE_AUTH__ALLOW_ANONYMOUS=true" in err
    monkeypatch.delenv("THROUGHLINE_DEMO_MODE")
    file = tmp_path / "throughline.toml"
    file.write_text("demo_mode = true\n")
    monkeypatch.setenv("THROUGHLINE_SETTINGS_FILE", str(file))
    assert main(["serve"]) == 2
    assert f"{file}: demo_mode is not a setting" in capsys.readouterr().err


def config_in_child(
    env: dict[str, str], *, through_shell: bool = False
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "throughline", "config"]
    command = ["/bin/sh", "-c", " ".join(argv) + "; exit $?"] if through_shell else argv
    return subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT, timeout=60)


def test_demo_mode_holds_only_in_a_process_the_demo_started_with_its_pass() -> None:
    """This test plays `throughline demo`: its pass works in its own child, not in a child of
    that child (an inherited environment) nor in a process it did not start, nor forged."""
    private = claim(DEMO_KIND)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("THROUGHLINE_")}
        env.update(grant_demo_mode(private))
        child = config_in_child(env)
        assert child.returncode == 0, child.stderr
        assert json.loads(child.stdout)["demo_mode"] is True
        grandchild = config_in_child(env, through_shell=True)
        assert grandchild.returncode == 2
        assert "THROUGHLINE_DEMO_PASS is set, but only `throughline demo` gives it" in (
            grandchild.stderr
        )
        assert config_in_child({**env, "THROUGHLINE_DEMO_PASS": "guess"}).returncode == 2
    finally:
        release(private)
    assert config_in_child(env).returncode == 2  # the demo's directory is gone: no pass
    plain = {k: v for k, v in env.items() if k != "THROUGHLINE_DEMO_PASS"}
    assert json.loads(config_in_child(plain).stdout)["demo_mode"] is False

"""Settings: environment over file over defaults; secrets only from the environment, masked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from throughline import settings as settings_module
from throughline.cli import main
from throughline.settings import Settings, default_database_url, mask_url_password


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("THROUGHLINE_DATABASE_URL", "THROUGHLINE_SETTINGS_FILE", "THROUGHLINE_DEMO_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


def test_the_default_database_is_a_sqlite_file_in_the_user_data_directory(tmp_path: Path) -> None:
    settings = Settings()
    assert settings.database_url == default_database_url()
    assert settings.database_url == f"sqlite:///{tmp_path}/data/throughline/throughline.db"
    assert [(e.code, e.country, e.currency) for e in settings.legal_entities] == [
        ("US", "US", "USD"), ("UK", "GB", "GBP"), ("DE", "DE", "EUR"),
    ]  # fmt: skip


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

    settings_module.get_settings.cache_clear()
    try:
        assert main(["config"]) == 0
    finally:
        settings_module.get_settings.cache_clear()
    out = capsys.readouterr().out
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

"""The `throughline` command line."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, inspect, text

from metrics.migrate import head_revision
from metrics.models import Base
from throughline import settings as settings_module
from throughline.cli import main


def run(monkeypatch: pytest.MonkeyPatch, url: str, *argv: str) -> int:
    monkeypatch.setenv("THROUGHLINE_DATABASE_URL", url)
    settings_module.get_settings.cache_clear()
    try:
        return main(list(argv))
    finally:
        settings_module.get_settings.cache_clear()


def test_db_upgrade_creates_every_table_on_an_empty_database(
    empty_engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = empty_engine.url.render_as_string(hide_password=False)
    if empty_engine.dialect.name == "postgresql":
        with empty_engine.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        monkeypatch.setenv("PGOPTIONS", f"-c search_path={schema}")
    head = head_revision(empty_engine)
    assert run(monkeypatch, url, "db", "upgrade") == 0
    assert f"upgraded from an empty database to {head}" in capsys.readouterr().out
    assert set(Base.metadata.tables) <= set(inspect(empty_engine).get_table_names())
    assert run(monkeypatch, url, "db", "upgrade") == 0
    assert f"already at revision {head}" in capsys.readouterr().out

"""The `throughline` command line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text

from foundation import settings as settings_module
from store.migrate import head_revision
from store.tables import Base
from throughline.cli import main

ROOT = Path(__file__).resolve().parent.parent


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


# --- configuration errors: one sentence, exit 2, from every subcommand ----------------------------

EVERY_COMMAND = [
    ["config"],
    ["collect"],
    ["collect", "n8n"],
    ["backfill", "--since", "2026-01-01"],
    ["worker"],
    ["serve"],
    ["demo", "--no-browser"],
    ["slo", "check"],
    ["kpis"],
    ["export", "ocel"],
    ["db", "upgrade"],
    ["db", "rebuild-facts"],
    ["fx", "import", "x.csv"],
    ["import", "ocel", "x.json"],
    ["import", "events", "x.csv", "--mapping", "m.yaml"],
]
STORE_COMMANDS = [c for c in EVERY_COMMAND if c[0] not in {"config", "collect", "backfill"}]
COLLECTOR_COMMANDS = [
    ["collect"],
    ["backfill", "--since", "2026-01-01"],
    ["worker"],
    ["slo", "check"],
    ["demo", "--no-browser"],
]


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No THROUGHLINE_ variable, a private data directory, unusual ports (nothing may start)."""
    for name in [n for n in os.environ if n.upper().startswith("THROUGHLINE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("THROUGHLINE_DASHBOARD_PORT", "18931")
    monkeypatch.setenv("THROUGHLINE_DEMO_PORT", "18932")
    monkeypatch.setenv("THROUGHLINE_AUTH__ALLOW_ANONYMOUS", "true")
    monkeypatch.chdir(tmp_path)
    settings_module.get_settings.cache_clear()
    yield tmp_path
    settings_module.get_settings.cache_clear()


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run `throughline argv`: it must exit 2 with one line on standard error and nothing on
    standard output; that line."""
    settings_module.get_settings.cache_clear()
    assert main(argv) == 2, argv
    out, err = capsys.readouterr()
    assert out == "" and err.endswith("\n") and "Traceback" not in err, (argv, out, err)
    return err


@pytest.mark.parametrize("argv", EVERY_COMMAND, ids=" ".join)
def test_a_malformed_settings_file_is_named_by_every_command(
    argv: list[str],
    fresh: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    file = fresh / "throughline.toml"
    file.write_text('reporting_currency = "EUR\n')
    monkeypatch.setenv("THROUGHLINE_SETTINGS_FILE", str(file))
    err = refused(argv, capsys)
    assert err.startswith(f"throughline: configuration error: {file}: not valid TOML: ")


@pytest.mark.parametrize("argv", EVERY_COMMAND, ids=" ".join)
def test_a_misspelt_variable_stops_every_command(
    argv: list[str],
    fresh: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("THROUGHLINE_DATABASE_ULR", "sqlite:///elsewhere.db")
    assert refused(argv, capsys) == (
        "throughline: configuration error: THROUGHLINE_DATABASE_ULR is not a Throughline "
        "setting; did you mean THROUGHLINE_DATABASE_URL?\n"
    )
    assert not (fresh / "data").exists(), "nothing was created"


@pytest.mark.parametrize("argv", EVERY_COMMAND, ids=" ".join)
def test_a_database_url_of_another_kind_is_refused_by_every_command(
    argv: list[str],
    fresh: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("THROUGHLINE_DATABASE_URL", "mysql://app:pw@db/tl")
    err = refused(argv, capsys)
    assert "database_url: must be a SQLAlchemy URL of SQLite or PostgreSQL" in err
    assert "(THROUGHLINE_DATABASE_URL)" in err and ":pw@" not in err


@pytest.mark.parametrize("argv", STORE_COMMANDS, ids=" ".join)
def test_a_file_that_is_not_a_database_is_named_by_every_command_that_opens_the_store(
    argv: list[str],
    fresh: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = fresh / "notes.db"
    store.write_bytes(b"These are my notes, not a database.\n" * 200)
    monkeypatch.setenv("THROUGHLINE_DATABASE_URL", f"sqlite:///{store}")
    assert refused(argv, capsys) == (
        f"throughline {' '.join(argv[:2] if argv[0] in {'db', 'fx', 'import', 'slo'} else argv[:1])}"
        f": cannot open the database at THROUGHLINE_DATABASE_URL (sqlite:///{store}): "
        "file is not a database\n"
    )


@pytest.mark.postgres
def test_an_unreachable_postgresql_is_named_with_its_password_masked(
    fresh: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("THROUGHLINE_DATABASE_URL", f"postgresql://app:pg-pw@127.0.0.1:{port}/tl")
    err = refused(["kpis"], capsys)
    assert err.startswith(
        "throughline kpis: cannot open the database at THROUGHLINE_DATABASE_URL "
        f"(postgresql://app:***@127.0.0.1:{port}/tl): "
    )
    assert "pg-pw" not in err


@pytest.mark.parametrize("argv", COLLECTOR_COMMANDS, ids=" ".join)
@pytest.mark.parametrize(
    ("connectors", "reason"),
    [
        ("n8n: [unclosed\n", "not valid YAML"),
        ("- a list\n", "expected one mapping of options per connector name"),
        ("n8m:\n  limit: 5\n", "n8m is not a connector (did you mean n8n?)"),
        (
            "logfiles:\n  files: [{name: x, path: /tmp/x.log, format: jsonl, colour: red,\n"
            "    fields: {integration: a, flow: b, status: c, started_at: d}}]\n",
            "logfiles.files[0].colour is not an option",
        ),
    ],
    ids=["yaml", "shape", "unknown-section", "unknown-option"],
)
def test_a_bad_connectors_file_is_named_by_every_command_that_runs_collectors(
    argv: list[str],
    connectors: str,
    reason: str,
    fresh: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    file = fresh / "connectors.yaml"
    file.write_text(connectors)
    monkeypatch.setenv("THROUGHLINE_CONNECTORS_FILE", str(file))
    err = refused(argv, capsys)
    assert err.startswith(f"throughline {' '.join(argv[:2] if argv[0] == 'slo' else argv[:1])}: ")
    assert reason in err, err
    assert not (fresh / "data" / "throughline" / "throughline.db").exists() or argv[0] == "demo"


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (
            ["collect", "tryton"],
            {"THROUGHLINE_COLLECTORS__TRYTON__BASE_URL": "http://127.0.0.1:9/tl/"},
            "tryton has no credentials: set THROUGHLINE_SECRETS__TRYTON_PASSWORD",
        ),
        (
            ["collect"],
            {"THROUGHLINE_COLLECTORS__HUBSPOT__BASE_URL": "https://api.hubapi.com"},
            "hubspot has no credentials: set THROUGHLINE_SECRETS__HUBSPOT_TOKEN",
        ),
        (
            ["worker"],
            {"THROUGHLINE_COLLECTORS__N8N__BASE_URL": "http://127.0.0.1:9"},
            "n8n has no credentials: set THROUGHLINE_SECRETS__N8N_API_KEY",
        ),
        (
            ["collect", "demo_crm"],
            {"THROUGHLINE_COLLECTORS__DEMO_CRM__BASE_URL": "http://127.0.0.1:9"},
            "demo_crm reads the demo estate: set THROUGHLINE_DEMO_TOKEN",
        ),
        (
            ["collect", "salesforse"],
            {},
            "there is no collector named 'salesforse'; did you mean 'salesforce'?",
        ),
        (
            ["collect"],
            {"THROUGHLINE_COLLECTORS__HUBSPOTT__BASE_URL": "https://api.hubapi.com"},
            "the settings (THROUGHLINE_COLLECTORS__<NAME>__…) name no collector named 'hubspott'; "
            "did you mean 'hubspot'?",
        ),
        (
            ["backfill", "--since", "last week"],
            {},
            "--since 'last week' is not an ISO date or time",
        ),
        (["slo", "check", "--as-of", "yesterday"], {}, "--as-of 'yesterday' is not an ISO date"),
        (
            ["serve"],
            {"THROUGHLINE_AUTH__ALLOW_ANONYMOUS": "false"},
            "refusing to serve finance data without sign-in",
        ),
        (
            ["serve"],
            {
                "THROUGHLINE_AUTH__SERVER_METADATA_URL": "https://idp.example/.well-known/x",
                "THROUGHLINE_AUTH__CLIENT_ID": "tl",
            },
            "sign-in is configured but the client secret is missing: set "
            "THROUGHLINE_SECRETS__OIDC_CLIENT_SECRET",
        ),
    ],
    ids=[
        "missing-password",
        "missing-token",
        "worker-missing-key",
        "demo-token",
        "unknown-name",
        "unknown-settings-name",
        "since",
        "as-of",
        "no-sign-in",
        "no-client-secret",
    ],
)
def test_a_missing_secret_or_a_wrong_name_is_one_sentence_naming_what_to_set(
    argv: list[str],
    env: dict[str, str],
    message: str,
    fresh: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    err = refused(argv, capsys)
    assert message in err, err
    assert err.count("\n") == 1


def test_a_configuration_error_in_a_real_process_prints_one_line_and_no_traceback(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THROUGHLINE_")}
    env.update(
        {
            "XDG_DATA_HOME": str(tmp_path),
            "THROUGHLINE_SECRETS__TRYTON_LOGIN": "admin",
            "THROUGHLINE_COLLECTORS__TRYTON__BASE_URL": "http://127.0.0.1:9/tl/",
        }
    )
    done = subprocess.run(
        [sys.executable, "-m", "throughline", "collect", "tryton"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "throughline collect: tryton has no credentials: set THROUGHLINE_SECRETS__TRYTON_PASSWORD\n"
    )


# --- start-up -------------------------------------------------------------------------------------

HEAVY = (
    "pandas",
    "streamlit",
    "duckdb",
    "pyarrow",
    "numpy",
    "sqlalchemy",
    "alembic",
    "store.tables",
    "pydantic",
    "httpx",
)


def imported_after(statement: str, env: dict[str, str] | None = None) -> set[str]:
    """The heavy modules a fresh interpreter holds after running `statement`."""
    probe = f"import sys\n{statement}\nprint(' '.join(sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT, env=env
    )
    loaded = set(done.stdout.split())
    return {name for name in HEAVY if name in loaded}


def test_the_command_line_imports_nothing_heavy_until_a_command_needs_it() -> None:
    assert imported_after("import throughline.cli") == set()
    help_text = "from throughline.cli import build_parser; build_parser().format_help()"
    assert imported_after(help_text) == set()


def test_a_collect_with_nothing_to_do_imports_neither_pandas_nor_the_store(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THROUGHLINE_")}
    env["XDG_DATA_HOME"] = str(tmp_path)
    run = "from throughline.cli import main\nassert main(['collect']) == 0"
    assert imported_after(run, env) <= {"pydantic", "httpx"}

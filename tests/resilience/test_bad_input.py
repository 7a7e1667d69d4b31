"""Bad input of every format Throughline accepts ends in a quarantined record with its reason
(data) or in a clear error naming the file, line or field (configuration), never in a crash,
lost good records or garbage in the store; and the collector's next run is unaffected.

The corpus is data: `tests/resilience/bad_input/<format>/cases.yaml` (see its README), one
case per kind of damage, each with the outcome it must have. Every case goes through the real
product path: the API formats through the registry's collector, its HTTP client and the runner
against a fake vendor API serving the corpus's bytes (`bad_input/harness.py`); log files
through the tailer; FX rates through `throughline fx import`; SLO files through `throughline
slo check` and the loader; settings through `throughline config`. For data, the bad record X
sits between good records A and B: A and B are stored (exactly those rows), X is quarantined
with its reason or stored as it should be; a second run adds and quarantines nothing, and a
good record C added afterwards is collected. A representative subset runs on PostgreSQL too.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from collectors.registry import build_collector
from collectors.runner import RunReport, run_collector
from foundation import settings as settings_module
from foundation.settings import Settings
from metrics.facts import refresh_pending
from metrics.slo.service import KPI_NAMES
from metrics.slo.spec import load_slos
from store.db import make_engine
from store.migrate import upgrade
from store.tables import Base, FxRate, Quarantine
from tests.conftest import postgres_schema
from tests.resilience.bad_input.harness import (
    NOW,
    TIMES,
    Case,
    StreamSpec,
    expand_str,
    expand_text,
    load_cases,
    load_format,
    merged,
    removed,
    to_json,
    vendor,
)
from throughline.cli import main

API_FORMATS = ("salesforce", "hubspot", "netsuite", "tryton", "n8n", "psa", "ipaas_jobs")
LOG_FORMATS = ("logs_jsonl", "logs_csv")
API_CASES = [c for f in API_FORMATS for c in load_cases(f)]
LOG_CASES = [c for f in LOG_FORMATS for c in load_cases(f)]
TABLES = ("objects", "events", "event_objects", "object_links", "sync_attempts", "fx_rates")


def params(cases: list[Case], *, pg_only: bool = False) -> list[Any]:
    return [pytest.param(c, id=c.id) for c in cases if c.pg or not pg_only]


# --- stores ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each case (migrating once is what keeps this fast)."""
    path = tmp_path_factory.mktemp("bad-input") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture
def store(template_db: Path, tmp_path: Path) -> Iterator[Engine]:
    """An empty, migrated SQLite store of this case's own."""
    path = tmp_path / "throughline.db"
    shutil.copy(template_db, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def pg_schema() -> Iterator[Engine]:
    """One migrated PostgreSQL schema for this module (emptied before each case)."""
    with postgres_schema("t_bad", migrated=True) as engine:
        yield engine


@pytest.fixture
def pg_store(pg_schema: Engine) -> Engine:
    """The module's PostgreSQL store, empty."""
    names = ", ".join(t for t in Base.metadata.tables)
    with pg_schema.begin() as conn:
        conn.execute(text(f"TRUNCATE {names}"))
    return pg_schema


# --- what the store holds ----------------------------------------------------------------------


def keys(engine: Engine, sql: str) -> set[str]:
    with engine.connect() as conn:
        return {str(k) for (k,) in conn.execute(text(sql))}


def quarantined(engine: Engine) -> list[Quarantine]:
    with Session(engine) as session:
        return list(session.scalars(select(Quarantine).order_by(Quarantine.id)))


def summary(engine: Engine) -> dict[str, Any]:
    """Rows per table and the quarantine's ids: what a run that adds nothing leaves alone."""
    with engine.connect() as conn:
        counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}
        ids = sorted(conn.execute(select(Quarantine.id)).scalars())
    return {**counts, "quarantine": ids}


def column_value(engine: Engine, spec: str, key: str) -> Any:
    """`table.column[.json.path]` of the row whose source_key is `key`."""
    table, column, *path = spec.split(".")
    col = Base.metadata.tables[table].c[column]
    where = Base.metadata.tables[table].c.source_key == key
    with engine.connect() as conn:
        (value,) = conn.execute(select(col).where(where)).scalars().all() or [None]
    for name in path:
        value = json.loads(value) if isinstance(value, str) else value
        value = value.get(name) if isinstance(value, dict) else None
    return value


def same(actual: Any, expected: Any) -> bool:
    """Compare a stored value with the corpus's expectation (text, number, time or null)."""
    if expected is None or actual is None:
        return actual is expected
    if isinstance(actual, datetime):
        return actual == datetime.fromisoformat(str(expected))
    if isinstance(actual, Decimal | int | float) and not isinstance(actual, bool):
        return Decimal(str(actual)) == Decimal(str(expected))
    return bool(actual == (expand_str(expected) if isinstance(expected, str) else expected))


def check_stored(engine: Engine, case: Case, key: str) -> None:
    for spec, expected in (case.data.get("check") or {}).items():
        actual = column_value(engine, spec, key)
        shown = repr(actual)[:80]
        assert same(actual, expected), f"{case.id}: {spec} is {shown}, expected {expected!r:.80}"


# --- data: the API formats ---------------------------------------------------------------------


def api_run(engine: Engine, case: Case) -> None:
    v = vendor(case.format)
    stream: StreamSpec = v.streams[case.data.get("stream") or next(iter(v.streams))]
    api = v.fake()
    api.bom = bool(case.data.get("bom"))
    bad = stream.bad(case)
    api.records[stream.table] = [stream.good("A"), bad, stream.good("B")]

    def run() -> RunReport:
        return run_collector(engine, v.build(api.transport()), now=NOW, refresh=refresh_pending)

    good = {str(stream.keys["A"]), str(stream.keys["B"])}
    first = run()
    if case.expect == "error":
        errors = [s.error or "" for s in first.streams if s.name == stream.name]
        assert case.reason_contains in errors[0], (case.id, errors)
        assert keys(engine, stream.stored) == set()
    else:
        assert first.status == "success", (case.id, first.error)
        rows = quarantined(engine)
        if case.expect == "quarantine":
            assert keys(engine, stream.stored) == good, case.id
            assert first.quarantined == 1, case.id
            assert [(q.stream, case.reason_contains in q.reason) for q in rows] == [
                (stream.name, True)
            ], (case.id, [q.reason for q in rows])
            if bad.key is not None:
                assert rows[0].source_key == str(bad.key)[:200]
            assert rows[0].raw  # the record as read (masked), for the admin page
        else:
            assert rows == [], (case.id, [q.reason for q in rows])
            key = str(bad.key)
            assert keys(engine, stream.stored) == good | {key}, case.id
            check_stored(engine, case, key)
    before, stored = summary(engine), keys(engine, stream.stored)
    second = run()
    assert second.rows_written == 0 and summary(engine) == before, case.id
    api.records[stream.table].append(stream.good("C"))
    third = run()
    added = set() if case.expect == "error" else {str(stream.keys["C"])}
    assert keys(engine, stream.stored) == stored | added, (case.id, third.error)
    assert sorted(q.id for q in quarantined(engine)) == before["quarantine"], case.id


@pytest.mark.parametrize("case", params(API_CASES))
def test_api_input(store: Engine, case: Case) -> None:
    api_run(store, case)


@pytest.mark.postgres
@pytest.mark.parametrize("case", params(API_CASES + LOG_CASES, pg_only=True))
def test_data_input_on_postgresql(pg_store: Engine, case: Case, tmp_path: Path) -> None:
    if case.format in LOG_FORMATS:
        log_run(pg_store, case, tmp_path)
    else:
        api_run(pg_store, case)


# --- data: integration log files ---------------------------------------------------------------


def log_lines(case: Case) -> tuple[bytes, dict[str, bytes], dict[str, Any]]:
    """The file's header (CSV), the lines A, X, B, C and the connector's options."""
    spec = load_format(case.format)
    keys_ = spec["keys"]
    if case.format == "logs_jsonl":

        def line(label: str, change: dict[str, Any] | None = None) -> bytes:
            record = {
                **spec["template"],
                spec["key"]: keys_[label],
                spec["cursor"]: TIMES[label].strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            if change is not None:
                record = removed(merged(record, change), case.data.get("remove", []))
            return to_json(record) + b"\n"

        header = b""
    else:

        def line(label: str, change: dict[str, Any] | None = None) -> bytes:
            row = {
                **spec["template"],
                spec["key"]: keys_[label],
                spec["cursor"]: TIMES[label].strftime("%Y-%m-%d %H:%M:%S"),
            }
            row = merged(row, change or {})
            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerow(row.get(c, "") for c in spec["columns"])
            return expand_text(out.getvalue())

        header = expand_text(case.data.get("header", ",".join(spec["columns"])) + "\n")
    bad = (
        expand_text(case.data["line"]) + b"\n"
        if "line" in case.data
        else line("X", case.data.get("input") or {})
    )
    lines = {"A": line("A"), "X": bad, "B": line("B"), "C": line("C")}
    return header, lines, spec["options"]


def log_run(engine: Engine, case: Case, tmp_path: Path) -> None:
    header, lines, options = log_lines(case)
    path = tmp_path / ("sync.jsonl" if case.format == "logs_jsonl" else "sync.csv")
    bom = b"\xef\xbb\xbf" if case.data.get("bom") else b""
    path.write_bytes(bom + header + lines["A"] + lines["X"] + lines["B"])
    settings = Settings(database_url="sqlite://")
    files = [{**options, "name": "sync", "path": str(path)}]
    collector = build_collector("logfiles", settings, options={"logfiles": {"files": files}})
    spec = load_format(case.format)
    good = {spec["keys"]["A"], spec["keys"]["B"]}
    stored = "SELECT source_key FROM sync_attempts"
    first = run_collector(engine, collector, now=NOW, refresh=refresh_pending)
    if case.expect == "error":
        assert case.reason_contains in (first.error or ""), first.error
        assert keys(engine, stored) == set()
    else:
        assert first.status == "success", (case.id, first.error)
        rows = quarantined(engine)
        if case.expect == "quarantine":
            assert keys(engine, stored) == good, case.id
            assert [case.reason_contains in q.reason for q in rows] == [True], (
                case.id,
                [q.reason for q in rows],
            )
            assert rows[0].reason.startswith("line "), rows[0].reason  # where it is in the file
        else:
            assert rows == [], (case.id, [q.reason for q in rows])
            key = spec["keys"]["X"]
            assert keys(engine, stored) == good | {key}, case.id
            check_stored(engine, case, key)
    before = summary(engine)
    second = run_collector(engine, collector, now=NOW, refresh=refresh_pending)
    assert second.rows_written == 0 and second.quarantined == 0 and summary(engine) == before
    with path.open("ab") as f:
        f.write(lines["C"])
    third = run_collector(engine, collector, now=NOW, refresh=refresh_pending)
    if case.expect == "error":
        assert case.reason_contains in (third.error or "")
    else:
        assert third.rows_written > 0 and third.quarantined == 0, (case.id, third.error)
        assert spec["keys"]["C"] in keys(engine, stored)
    assert sorted(q.id for q in quarantined(engine)) == before["quarantine"]


@pytest.mark.parametrize("case", params(LOG_CASES))
def test_log_file_input(store: Engine, case: Case, tmp_path: Path) -> None:
    log_run(store, case, tmp_path)


# --- configuration: FX rates, SLO files, settings ----------------------------------------------


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, template_db: Path, tmp_path: Path) -> Iterator[Path]:
    """A clean THROUGHLINE_ environment whose database is a fresh copy of the template."""
    for name in list(os.environ):
        if name.startswith("THROUGHLINE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    database = tmp_path / "cli.db"
    shutil.copy(template_db, database)
    monkeypatch.setenv("THROUGHLINE_DATABASE_URL", f"sqlite:///{database}")
    settings_module.get_settings.cache_clear()
    yield database
    settings_module.get_settings.cache_clear()


def assert_clear_error(case: Case, code: int, err: str, want_code: int, where: str) -> None:
    """A refusal the user can act on: exit status, the message, where it is; no traceback."""
    assert code == want_code, (case.id, code, err)
    assert case.reason_contains in err, (case.id, err)
    assert where in err, (case.id, where, err)
    assert "Traceback" not in err and len(err) < 4000, (case.id, err[:300])


FX_CASES = load_cases("fx_csv")


@pytest.mark.parametrize("case", params(FX_CASES))
def test_fx_rates_file(
    case: Case, cli_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "rates.csv"
    path.write_bytes(expand_text(case.data["content"]))
    code = main(["fx", "import", str(path)])
    err = capsys.readouterr().err
    engine = make_engine(f"sqlite:///{cli_env}")
    with engine.connect() as conn:
        rows = conn.execute(select(FxRate.day, FxRate.base, FxRate.quote, FxRate.rate)).all()
        count = conn.execute(select(func.count()).select_from(FxRate)).scalar_one()
    engine.dispose()
    if case.expect == "error":
        line = case.data.get("line")
        assert_clear_error(case, code, err, 1, f"{path.name}, line {line}" if line else path.name)
        assert count == 0  # nothing of a refused file is imported
    else:
        assert code == 0 and err == "", (case.id, err)
        expected = [tuple(r) for r in case.data["rows"]]
        got = sorted((d.isoformat(), b, q, str(Decimal(str(r)).normalize())) for d, b, q, r in rows)
        assert got == sorted(
            (str(d), b, q, str(Decimal(str(r)).normalize())) for d, b, q, r in expected
        ), case.id


SLO_CASES = load_cases("slo_yaml")


@pytest.mark.parametrize("case", params(SLO_CASES))
def test_slo_file(
    case: Case,
    cli_env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "slos.yaml"
    valid: str = load_format("slo_yaml")["valid"]
    content = case.data.get("content")
    if content is None:  # the valid document with the case's replacements
        content = valid
        for old, new in case.data.get("replace") or []:
            assert old in content, (case.id, old)
            content = content.replace(old, new)
    elif case.data.get("append"):
        content = content + valid if content == "<<bom>>" else valid + content
    if content == "<<directory>>":
        path.mkdir()
    else:
        path.write_bytes(expand_text(content))
    if case.expect == "error":
        monkeypatch.setenv("THROUGHLINE_SLO_FILE", str(path))
        code = main(["slo", "check", "--as-of", "2026-06-01T00:00:00+00:00"])
        err = capsys.readouterr().err
        line = case.data.get("line")
        assert_clear_error(case, code, err, 2, f"{path}" if not line else f"(line {line})")
        assert str(path) in err
    else:
        slos = load_slos(path, kpis=KPI_NAMES)
        for spec, expected in (case.data.get("check") or {}).items():
            value: Any = slos
            for part in spec.split("."):
                value = value[int(part)] if part.isdigit() else getattr(value, part)
            assert value == (expand_str(expected) if isinstance(expected, str) else expected)


SETTINGS_CASES = load_cases("settings")


@pytest.mark.parametrize("case", params(SETTINGS_CASES))
def test_settings(
    case: Case,
    cli_env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    where = case.data.get("where", "THROUGHLINE_")  # the variable, or the file, it names
    if "toml" in case.data:
        path = tmp_path / "throughline.toml"
        if case.data["toml"] == "<<directory>>":
            path.mkdir()
        else:
            path.write_bytes(expand_text(case.data["toml"]))
        monkeypatch.setenv("THROUGHLINE_SETTINGS_FILE", str(path))
        where = case.data.get("where", path.name)
    for name, value in (case.data.get("env") or {}).items():
        monkeypatch.setenv(name, expand_str(str(value)))
    code = main(["config"])
    out, err = capsys.readouterr()
    secret = case.data.get("secret")
    assert not secret or (secret not in out and secret not in err), case.id
    if case.expect == "error":
        assert_clear_error(case, code, err, 2, where)
        assert err.startswith("throughline: configuration error")
    else:
        assert code == 0, (case.id, err)
        shown = json.loads(out)
        for spec, expected in (case.data.get("check") or {}).items():
            setting: Any = shown
            for part in spec.split("."):
                setting = setting[int(part)] if part.isdigit() else setting[part]
            assert setting == (expand_str(expected) if isinstance(expected, str) else expected)


def test_every_input_format_has_a_folder_of_cases() -> None:
    """One folder per format Throughline accepts, each with at least ten cases."""
    folders = sorted(
        p.name
        for p in Path(__file__).parent.joinpath("bad_input").iterdir()
        if p.is_dir() and not p.name.startswith("_")
    )
    assert folders == sorted([*API_FORMATS, *LOG_FORMATS, "fx_csv", "slo_yaml", "settings"])
    for name in folders:
        assert len(load_cases(name)) >= 10, name

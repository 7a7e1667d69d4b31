"""The schema is made by alembic only, the same on SQLite and PostgreSQL, matching the models."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from metrics.facts import ensure_current
from store.db import make_engine
from store.migrate import current_revision, head_revision, upgrade
from store.tables import Base

ROOT = Path(__file__).resolve().parent.parent


def shape(engine: Engine) -> dict[str, list[tuple[str, bool]]]:
    """Tables → (column, nullable), as the database reports them."""
    insp = inspect(engine)
    return {
        table: sorted((c["name"], bool(c["nullable"])) for c in insp.get_columns(table))
        for table in insp.get_table_names()
        if table != "alembic_version"
    }


def test_migrations_produce_exactly_the_models_schema(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": _comparable})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models and migrations differ; add a migration: {diff}"


def _comparable(obj: object, name: str | None, kind: str, reflected: bool, other: object) -> bool:
    """Everything but expression indexes: PostgreSQL reflects them rewritten (casts, case),
    SQLite not at all; the test below checks the one there is."""
    return name != "ix_case_work_items_settled_at"


@pytest.mark.postgres
def test_upgrade_makes_the_same_tables_on_sqlite_and_postgresql(
    sqlite_engine: Engine, pg_schema_engine: Engine
) -> None:
    upgrade(sqlite_engine)
    upgrade(pg_schema_engine)
    lite, pg = shape(sqlite_engine), shape(pg_schema_engine)
    assert lite == pg
    assert set(lite) == set(Base.metadata.tables)


def test_an_empty_database_is_upgraded_once_and_then_left_alone(empty_engine: Engine) -> None:
    assert current_revision(empty_engine) is None
    assert ensure_current(empty_engine) is True
    assert current_revision(empty_engine) == head_revision(empty_engine)
    assert ensure_current(empty_engine) is False


def test_the_unbilled_loader_reads_a_period_through_the_settled_index(engine: Engine) -> None:
    """The expression index (which reflection cannot compare) exists, and the loader's
    period term is written so that the database uses it."""
    from datetime import UTC, datetime

    from metrics.kpis.unbilled import items_query

    upgrade(engine)
    since, until = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    query = items_query(until=until, since=since)
    sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            plan = " ".join(str(r) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
        else:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # an empty table: force it
            plan = " ".join(str(r) for r in conn.exec_driver_sql(f"EXPLAIN {sql}"))
    assert "ix_case_work_items_settled_at" in plan, plan


def test_the_filter_values_are_filled_from_the_case_facts_already_stored(
    empty_engine: Engine,
) -> None:
    """A store migrated past 0008 offers the values its case facts carry, without a rebuild."""
    from datetime import UTC, datetime

    from sqlalchemy import insert, select

    from store.tables import CaseDimension, CaseHandoff, CaseInvoice, CaseWorkItem

    upgrade(empty_engine, "0007")
    won = datetime(2026, 3, 2, tzinfo=UTC)
    with empty_engine.begin() as conn:
        conn.execute(
            insert(CaseHandoff),
            [
                {
                    "deal_id": 1,
                    "legal_entity": "DE01",
                    "practice": "Data",
                    "customer": "Acme",
                    "won_at": won,
                    "wins": 1,
                    "projects": 0,
                },
                {
                    "deal_id": 2,
                    "legal_entity": "",
                    "practice": None,
                    "customer": "Acme",
                    "won_at": won,
                    "wins": 1,
                    "projects": 0,
                },
            ],
        )
        conn.execute(
            insert(CaseInvoice),
            [
                {
                    "invoice_id": 3,
                    "invoice_key": "I3",
                    "kind": "invoice",
                    "work_items": 0,
                    "customer": "Globex",
                }
            ],
        )
        conn.execute(
            insert(CaseWorkItem),
            [{"work_item_id": 4, "work_item_key": "W4", "billable": True, "legal_entity": "US01"}],
        )
    upgrade(empty_engine)
    with empty_engine.connect() as conn:
        offered = set(conn.execute(select(CaseDimension.dimension, CaseDimension.value)).all())
    assert offered == {
        ("legal_entity", "DE01"),
        ("legal_entity", "US01"),
        ("practice", "Data"),
        ("customer", "Acme"),
        ("customer", "Globex"),
    }


PROCESSES = 6
ENSURE_CURRENT = (
    "import sys; from store.db import make_engine; from metrics.facts import ensure_current; "
    "print('upgraded' if ensure_current(make_engine(sys.argv[1])) else 'current')"
)


def start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *argv],
        env=env,
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def finish(processes: list[subprocess.Popen[str]]) -> list[tuple[int, str, str]]:
    """Each process's exit status, standard output and standard error."""
    return [(p.wait(timeout=120), *p.communicate()) for p in processes]


def test_processes_starting_at_once_on_an_empty_database_upgrade_it_once_and_all_go_on(
    empty_engine: Engine, tmp_path: Path
) -> None:
    """Six processes start on an empty store together: exactly one upgrades, the others wait
    for it and find the schema at head; none fails or prints a traceback."""
    url = empty_engine.url.render_as_string(hide_password=False)
    env = dict(os.environ)
    if empty_engine.dialect.name == "postgresql":
        with empty_engine.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        env["PGOPTIONS"] = f"-c search_path={schema}"
    go = tmp_path / "go"
    barrier = f"import os, time\nwhile not os.path.exists({str(go)!r}): time.sleep(0.01)\n"
    processes = [start(["-c", barrier + ENSURE_CURRENT, url], env) for _ in range(PROCESSES)]
    time.sleep(1.5)  # every interpreter started and is waiting at the barrier
    go.touch()
    results = finish(processes)
    assert [status for status, _, _ in results] == [0] * PROCESSES, results
    assert all(err == "" for _, _, err in results), [err for _, _, err in results]
    assert sorted(out.strip() for _, out, _ in results) == ["current"] * 5 + ["upgraded"]
    assert current_revision(empty_engine) == head_revision(empty_engine)
    assert set(Base.metadata.tables) <= set(inspect(empty_engine).get_table_names())


def test_throughline_db_upgrade_run_many_times_at_once_on_an_empty_sqlite_file_succeeds(
    tmp_path: Path,
) -> None:
    """The command line, as several cron jobs or containers would start it."""
    url = f"sqlite:///{tmp_path}/fresh/store.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("THROUGHLINE_")}
    env["THROUGHLINE_DATABASE_URL"] = url
    results = finish([start(["-m", "throughline", "db", "upgrade"], env) for _ in range(PROCESSES)])
    assert [status for status, _, _ in results] == [0] * PROCESSES, results
    assert not any("Traceback" in err for _, _, err in results), results
    upgraded = [out for _, out, _ in results if "upgraded from an empty database" in out]
    assert len(upgraded) == 1, results
    engine = make_engine(url)
    assert current_revision(engine) == head_revision(engine)
    engine.dispose()

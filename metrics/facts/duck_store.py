"""DuckDB reading the store in place, for the columnar full rebuild.

DuckDB's PostgreSQL and SQLite scanners come as PyPI packages pinned to DuckDB's own version
(`duckdb-extension-postgres-scanner`, `duckdb-extension-sqlite-scanner`) and are loaded from
their file inside the installed package: nothing is ever installed from the network.
`attach(conn, con)` attaches the database `conn` is on, read-only, and `load` copies the
canonical tables the rebuild needs into DuckDB tables without a row passing through Python.

DuckDB reads through its own connection, so it sees what is committed, not the caller's own
uncommitted writes. The rebuild holds the refresh lock (`store.pending.serialize`; on SQLite the
database's single writer lock), so no ingest commits while it reads, and all tables are read in
one DuckDB transaction (one PostgreSQL snapshot). A store DuckDB cannot open by itself — an
in-memory SQLite database, as some tests use — is not attached (`attach` returns None): the
caller then reads it through its own connection (`arrow_io`).
"""

# SQL here is built from this module's own table and column names and from the store's
# location (quoted as literals); values never enter it.
# ruff: noqa: S608
from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import Connection, text

from metrics.facts.arrow_io import Source

CATALOG = "store"  # the attached store's name inside DuckDB
EXTENSIONS = {
    "postgresql": ("duckdb_extension_postgres_scanner", "postgres_scanner", "postgres"),
    "sqlite": ("duckdb_extension_sqlite_scanner", "sqlite_scanner", "sqlite"),
}


@dataclass(frozen=True, slots=True)
class Attached:
    """Where the store's tables are inside DuckDB, and the dialect that wrote them."""

    prefix: str  # e.g. `store."bench_100k"` or `store`
    dialect: str


def extension_file(dialect: str) -> Path:
    """The scanner extension's file in its installed package, for this DuckDB version."""
    package, name, _ = EXTENSIONS[dialect]
    spec = importlib.util.find_spec(package)
    version = duckdb.__version__
    where = Path(spec.origin).parent if spec and spec.origin else None
    path = where / "extensions" / f"v{version}" / f"{name}.duckdb_extension" if where else None
    if path is None or not path.is_file():
        raise RuntimeError(
            f"DuckDB {version} has no {name} extension installed: the packages pinned in "
            f"pyproject.toml (duckdb and {package.replace('_', '-')} of the same version) are "
            "missing or out of step; reinstall Throughline (`make install`)"
        )
    return path


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _sqlite_file(conn: Connection) -> str | None:
    """The file of the SQLite database `conn` is on, or None when it is in memory."""
    for _, name, file in conn.exec_driver_sql("PRAGMA database_list"):
        if name == "main":
            return str(file) or None
    return None


def _postgres_dsn(conn: Connection) -> tuple[str, str]:
    """libpq connection string of `conn`'s server and database (password included), and the
    schema the canonical tables resolve to on it (`search_path`, e.g. a test's own schema)."""
    from psycopg.conninfo import make_conninfo

    driver: Any = conn.connection.driver_connection
    info = driver.info
    extra = {"password": info.password} if info.password else {}
    schema = conn.execute(
        text(
            "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.oid = to_regclass('objects')"
        )
    ).scalar_one()
    return make_conninfo(info.dsn, **extra), str(schema)


def attach(conn: Connection, con: duckdb.DuckDBPyConnection) -> Attached | None:
    """Attach the store `conn` is on to `con`, read-only; None when DuckDB cannot open it."""
    dialect = conn.dialect.name
    if dialect not in EXTENSIONS:
        return None
    if dialect == "sqlite":
        file = _sqlite_file(conn)
        if file is None:
            return None
        location, options, prefix = file, "", CATALOG
    else:
        location, schema = _postgres_dsn(conn)
        options, prefix = f", SCHEMA {_literal(schema)}", f"{CATALOG}.{_ident(schema)}"
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute(f"LOAD {_literal(str(extension_file(dialect)))}")
    kind = EXTENSIONS[dialect][2]
    con.execute(f"ATTACH {_literal(location)} AS {CATALOG} (TYPE {kind}, READ_ONLY{options})")
    return Attached(prefix, dialect)


def _convert(expr: str, kind: str, dialect: str) -> str:
    """DuckDB expression giving a scanned column the form the rebuild's SQL expects: ids as
    BIGINT, timestamps naive UTC, amounts as the exact text the Python builders hold (the
    `Decimal` SQLAlchemy reads: PostgreSQL's numeric text, SQLite's `'%.4f' % value`)."""
    if kind == "int":
        return f"CAST({expr} AS BIGINT)"
    if kind == "ts":
        return f"CAST({expr} AS TIMESTAMP)"  # TIMESTAMPTZ at the session's UTC
    if kind == "amount":
        return f"CAST({expr} AS VARCHAR)" if dialect == "postgresql" else f"printf('%.4f', {expr})"
    return expr


def load(
    con: duckdb.DuckDBPyConnection, store: Attached, sources: Mapping[str, Source]
) -> dict[str, int]:
    """Copy every source from the attached store into a DuckDB table of its name, in one
    transaction (one snapshot); rows copied per table. The store is detached after."""
    con.execute("SET TimeZone = 'UTC'")
    rows: dict[str, int] = {}
    con.execute("BEGIN TRANSACTION")
    try:
        for name, src in sources.items():
            columns = ", ".join(
                f"{_convert(src.expr(n), k, store.dialect)} AS {n}" for n, k in src.columns
            )
            created = con.execute(
                f"CREATE TABLE {name} AS SELECT {src.select} FROM "
                f"(SELECT {columns} FROM {store.prefix}.{src.table} {src.where}) AS chunk"
            ).fetchone()
            rows[name] = int(created[0]) if created else 0
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute(f"DETACH {CATALOG}")
    return rows

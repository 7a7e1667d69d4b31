"""DuckDB reading the store in place, for the columnar full rebuild.

DuckDB's PostgreSQL and SQLite scanners come as PyPI packages pinned to DuckDB's own version
(`duckdb-extension-postgres-scanner`, `duckdb-extension-sqlite-scanner`) and are loaded from
their file inside the installed package: nothing is ever installed from the network.
`locate(conn, tables)` tells where the store `conn` is on can be opened by DuckDB, `attach`
attaches it read-only, and `load` copies the canonical tables the rebuild needs into DuckDB
tables without a row passing through Python; the store stays attached so that the write-back
can compare the stored facts (`duck_write`).

A SQLite file is only ever opened by DuckDB in a process of its own (`columnar_child`): DuckDB
carries its own copy of SQLite, and two copies of SQLite in one process break each other's
POSIX file locks (closing a file releases every lock the process holds on it), so the caller's
connection would lose the locks of its open transaction.

DuckDB reads through its own connection, so it sees what is committed, not what the caller's
transaction wrote. The rebuild holds the refresh lock (`store.pending.serialize`; on SQLite the
database's single writer lock), so nothing commits while it runs, and every table is read in
one DuckDB transaction (one PostgreSQL snapshot). `locate` therefore returns None (and the
caller reads through its own connection, `arrow_io`) when DuckDB could see something else than
the caller: an in-memory SQLite database (some tests), or a PostgreSQL transaction that has
itself written to one of the tables read or replaced (it holds their write locks). Whether a
SQLite transaction has written at all is told by the caller (`metrics.facts._own_writes`).
"""

# SQL here is built from this module's own table and column names and from the store's
# location (quoted as literals); values never enter it.
# ruff: noqa: S608
from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import Connection, bindparam, text

from metrics.facts.arrow_io import Source

CATALOG = "store"  # the attached store's name inside DuckDB
EXTENSIONS = {
    "postgresql": ("duckdb_extension_postgres_scanner", "postgres_scanner", "postgres"),
    "sqlite": ("duckdb_extension_sqlite_scanner", "sqlite_scanner", "sqlite"),
}


@dataclass(frozen=True, slots=True)
class Location:
    """Where DuckDB finds the store: a SQLite file, or a PostgreSQL database and schema."""

    dialect: str
    target: str  # the SQLite file, or the libpq connection string (password included)
    schema: str = ""  # PostgreSQL: the schema the canonical tables resolve to


@dataclass(frozen=True, slots=True)
class Attached:
    """Where the store's tables are inside DuckDB, and the dialect that wrote them."""

    prefix: str  # e.g. `store."bench_100k"` or `store`
    dialect: str

    def table(self, name: str) -> str:
        """The DuckDB name of one of the store's tables."""
        return f"{self.prefix}.{name}"


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


def literal(value: str) -> str:
    """A DuckDB string literal."""
    return "'" + value.replace("'", "''") + "'"


def _ident(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _sqlite_file(conn: Connection) -> str | None:
    """The file of the SQLite database `conn` is on, or None when it is in memory."""
    for _, name, file in conn.exec_driver_sql("PRAGMA database_list"):
        if name == "main":
            return str(file) or None
    return None


def _written_here(conn: Connection, tables: Iterable[str]) -> bool:
    """Whether this PostgreSQL transaction has written to any of `tables`: it then holds a
    lock that writes take (`RowExclusiveLock` or stronger) on it until it ends."""
    query = text(
        "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'relation' "
        "AND mode IN ('RowExclusiveLock', 'ShareRowExclusiveLock', 'ExclusiveLock', "
        "'AccessExclusiveLock') "
        "AND relation IN (SELECT to_regclass(t) FROM unnest(CAST(:t AS text[])) t)"
    ).bindparams(bindparam("t"))
    return bool(conn.execute(query, {"t": list(tables)}).scalar_one())


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


def locate(conn: Connection, tables: Iterable[str]) -> Location | None:
    """Where DuckDB can open the store `conn` is on; None when it cannot, or could not see
    what `conn` sees of `tables` (the tables the rebuild reads and replaces)."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        file = _sqlite_file(conn)
        return Location(dialect, file) if file else None
    if dialect == "postgresql" and not _written_here(conn, tables):
        dsn, schema = _postgres_dsn(conn)
        return Location(dialect, dsn, schema)
    return None


def attach(con: duckdb.DuckDBPyConnection, where: Location) -> Attached:
    """Attach the store at `where` to `con`, read-only, by its scanner extension."""
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute(f"LOAD {literal(str(extension_file(where.dialect)))}")
    kind = EXTENSIONS[where.dialect][2]
    options, prefix = "", CATALOG
    if where.schema:
        options, prefix = f", SCHEMA {literal(where.schema)}", f"{CATALOG}.{_ident(where.schema)}"
    con.execute(f"ATTACH {literal(where.target)} AS {CATALOG} (TYPE {kind}, READ_ONLY{options})")
    return Attached(prefix, where.dialect)


def detach(con: duckdb.DuckDBPyConnection) -> None:
    """Close DuckDB's connection to the store."""
    con.execute(f"DETACH DATABASE IF EXISTS {CATALOG}")


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


def load(con: duckdb.DuckDBPyConnection, store: Attached, sources: Mapping[str, Source]) -> None:
    """Copy every source from the attached store into a DuckDB table of its name, in one
    transaction (one snapshot)."""
    con.execute("SET TimeZone = 'UTC'")
    con.execute("BEGIN TRANSACTION")
    try:
        for name, src in sources.items():
            columns = ", ".join(
                f"{_convert(src.expr(n), k, store.dialect)} AS {n}" for n, k in src.columns
            )
            rows = f"(SELECT {columns} FROM {store.table(src.table)} {src.where})"
            con.execute(f"CREATE TABLE {name} AS {src.query(rows)}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise

"""The rebuilt case facts written back into the store, in the caller's transaction.

Each fact table is made equal to its DuckDB result; readers keep seeing the previous rows until
the caller commits, then the new ones, never a mix. With the store attached (`duck_store`),
DuckDB reads the stored facts too and only the difference is written: the keys of rows gone or
changed are deleted, then the rows new or changed are inserted. A rebuild that changes little
thus writes little (a nightly rebuild over current facts touches no index and leaves no dead
rows), and a first backfill inserts everything, in key order. Without it (`arrow_io` read the
store), every row is deleted and inserted again.

Rows are compared in one canonical form per column type (timestamps naive UTC, ids BIGINT,
amounts the text of their decimal), so a row stored by the Python builders and the same row
computed by DuckDB are equal. PostgreSQL: DuckDB writes the rows as CSV into its spill directory
and psycopg streams that file into ``COPY … FROM STDIN`` (Python moves blocks of bytes, never
rows); deleted keys go the same way into a temporary table. SQLite: rows are fetched from
DuckDB in chunks of tuples already in the store's text forms and bound by ``executemany``.
"""

# SQL here is built from the fact tables' own names and columns; values never enter it.
# ruff: noqa: S608
from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import Boolean, Connection, Date, Integer, Numeric, Table

from metrics.facts.duck_store import Attached, literal
from store.tables import UTCDateTime

FETCH_ROWS = 50_000  # rows per DuckDB fetch on SQLite
COPY_BLOCK = 1 << 20  # bytes per COPY write on PostgreSQL


def _keys(table: Table) -> list[str]:
    return [c.name for c in table.primary_key.columns]


def canonical(table: Table, stored: str | None = None) -> str:
    """DuckDB projection of `table`'s columns in their canonical types: of the rebuild's result
    (`stored` None), or of the rows the store holds as DuckDB scans them (`stored`: dialect)."""
    out = []
    for column in table.c:
        name, kind = column.name, column.type
        if isinstance(kind, UTCDateTime):
            out.append(f"CAST({name} AS TIMESTAMP)")  # TIMESTAMPTZ at the session's UTC
        elif isinstance(kind, Date):
            out.append(f"CAST({name} AS DATE)")
        elif isinstance(kind, Boolean):
            out.append(f"CAST({name} AS BOOLEAN)")
        elif isinstance(kind, Integer):
            out.append(f"CAST({name} AS BIGINT)")
        elif isinstance(kind, Numeric) and stored == "sqlite":  # a REAL, read as DOUBLE
            out.append(f"printf('%.{kind.scale or 0}f', {name})")
        elif isinstance(kind, Numeric) and stored:
            out.append(f"CAST({name} AS VARCHAR)")  # the DECIMAL's text, at its scale
        else:
            out.append(name)  # text; the result's amounts are already their text
    return ", ".join(f"{e} AS {c.name}" for e, c in zip(out, table.c, strict=True))


def output_columns(table: Table, dialect: str) -> str:
    """DuckDB projection of `table`'s columns in the text forms the store keeps."""
    out = []
    for column in table.c:
        name = column.name
        if isinstance(column.type, UTCDateTime):
            suffix = " || '+00'" if dialect == "postgresql" else ""
            out.append(f"strftime({name}, '%Y-%m-%d %H:%M:%S.%f'){suffix} AS {name}")
        elif isinstance(column.type, Date):
            out.append(f"strftime({name}, '%Y-%m-%d') AS {name}")
        else:
            out.append(name)  # amounts are already text, booleans bind as themselves
    return ", ".join(out)


def count(con: duckdb.DuckDBPyConnection, relation: str) -> int:
    """Rows of a DuckDB relation."""
    row = con.execute(f"SELECT count(*) FROM {relation}").fetchone()
    return int(row[0]) if row else 0


# --- moving rows --------------------------------------------------------------------------------


def _copy(
    conn: Connection, con: duckdb.DuckDBPyConnection, query: str, target: str, spool: Path
) -> None:
    """PostgreSQL: the rows of the DuckDB `query` appended to `target` (`table (columns)`)."""
    path = spool / "rows.csv"
    con.execute(f"COPY ({query}) TO {literal(str(path))} (FORMAT csv, HEADER false, FORCE_QUOTE *)")
    driver: Any = conn.connection.driver_connection
    sql = f"COPY {target} FROM STDIN (FORMAT csv)"
    try:
        with driver.cursor() as cur, cur.copy(sql) as copy, path.open("rb") as f:
            while block := f.read(COPY_BLOCK):
                copy.write(block)
    finally:
        path.unlink(missing_ok=True)


def _execute_many(
    conn: Connection, con: duckdb.DuckDBPyConnection, query: str, statement: str
) -> None:
    """SQLite: `statement` once per row of the DuckDB `query`."""
    result = con.execute(query)
    driver: Any = conn.connection.driver_connection
    cur = driver.cursor()
    try:
        while chunk := result.fetchmany(FETCH_ROWS):
            cur.executemany(statement, chunk)
    finally:
        cur.close()


def _insert(
    conn: Connection, con: duckdb.DuckDBPyConnection, table: Table, rows: str, spool: Path
) -> None:
    """Append the DuckDB relation `rows` (canonical columns) to `table`, in key order."""
    dialect = conn.dialect.name
    names = list(table.c.keys())
    query = (
        f"SELECT {output_columns(table, dialect)} FROM {rows} ORDER BY {', '.join(_keys(table))}"
    )
    if dialect == "postgresql":
        _copy(conn, con, query, f"{table.name} ({', '.join(names)})", spool)
    else:
        marks = ", ".join("?" for _ in names)
        _execute_many(
            conn, con, query, f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})"
        )


def _delete(
    conn: Connection, con: duckdb.DuckDBPyConnection, table: Table, keys: str, spool: Path
) -> None:
    """Delete the rows of `table` whose keys are the rows of the DuckDB relation `keys`."""
    names = _keys(table)
    query = f"SELECT {', '.join(names)} FROM {keys}"
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("DROP TABLE IF EXISTS pg_temp.rebuild_keys")
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE rebuild_keys AS SELECT {', '.join(names)} FROM {table.name} "
            "WITH NO DATA"
        )
        _copy(conn, con, query, "rebuild_keys", spool)
        on = " AND ".join(f"t.{n} = k.{n}" for n in names)
        conn.exec_driver_sql(f"DELETE FROM {table.name} t USING rebuild_keys k WHERE {on}")
        conn.exec_driver_sql("DROP TABLE rebuild_keys")
    else:
        where = " AND ".join(f"{n} = ?" for n in names)
        _execute_many(conn, con, query, f"DELETE FROM {table.name} WHERE {where}")


# --- replacing a table --------------------------------------------------------------------------


def diff_table(table: Table) -> str:
    """The DuckDB table holding `table`'s difference (`difference`)."""
    return f"d_{table.name}"


def difference(con: duckdb.DuckDBPyConnection, table: Table, result: str, store: Attached) -> None:
    """DuckDB table `diff_table(table)`: every row of `result` new or changed against the row
    stored under its key, and the key of every stored row gone or changed (one join)."""
    keys, names = _keys(table), list(table.c.keys())
    on = " AND ".join(f"n.{k} = o.{k}" for k in keys)
    changed = [f"n.{c} IS DISTINCT FROM o.{c}" for c in names if c not in keys]
    where = " OR ".join([f"n.{keys[0]} IS NULL", f"o.{keys[0]} IS NULL", *changed])
    con.execute(
        f"CREATE OR REPLACE TABLE {diff_table(table)} AS "
        f"SELECT {', '.join(f'n.{c}' for c in names)}, "
        f"{', '.join(f'o.{k} AS stored_{k}' for k in keys)} "
        f"FROM (SELECT {canonical(table)} FROM {result}) n "
        f"FULL JOIN (SELECT {canonical(table, store.dialect)} FROM {store.table(table.name)}) o "
        f"ON {on} WHERE {where}"
    )


def replace(
    conn: Connection,
    con: duckdb.DuckDBPyConnection,
    table: Table,
    result: str,
    spool: Path,
    diffed: bool,
) -> None:
    """Make the store's `table` hold exactly the rows of the DuckDB table `result`: by its
    difference when `diffed` (`difference` ran), else by deleting and inserting everything."""
    if not diffed:
        conn.exec_driver_sql(f"DELETE FROM {table.name}")
        _insert(conn, con, table, f"(SELECT {canonical(table)} FROM {result})", spool)
        return
    keys, names, diff = _keys(table), list(table.c.keys()), diff_table(table)
    rows = f"(SELECT {', '.join(names)} FROM {diff} WHERE {keys[0]} IS NOT NULL)"
    gone = (
        f"(SELECT {', '.join(f'stored_{k} AS {k}' for k in keys)} FROM {diff} "
        f"WHERE stored_{keys[0]} IS NOT NULL)"
    )
    deleted = count(con, gone)
    if deleted:
        stored = conn.exec_driver_sql(f"SELECT count(*) FROM {table.name}").scalar_one()
        if deleted == stored:
            conn.exec_driver_sql(f"DELETE FROM {table.name}")
        else:
            _delete(conn, con, table, gone, spool)
    if count(con, rows):
        _insert(conn, con, table, rows, spool)
    con.execute(f"DROP TABLE {diff}")

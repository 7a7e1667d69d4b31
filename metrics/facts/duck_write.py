"""The rebuilt case facts written back into the store, in the caller's transaction.

Each fact table is replaced by the rows of its DuckDB result; readers keep seeing the previous
rows until the caller commits, then the new ones, never a mix. A table empty in the caller's
transaction (a first backfill) receives the rows directly, in primary-key order. Otherwise the
rows go into a temporary staging table and only the difference is applied: rows no longer
produced, or changed, are deleted by key, then rows new or changed are inserted. A rebuild that
changes little thus writes little — a nightly rebuild over current facts touches no index and
leaves no dead rows behind — and one that changes everything costs a staging copy more.

PostgreSQL: DuckDB writes the rows as CSV into its spill directory and psycopg streams that file
into ``COPY … FROM STDIN`` (Python moves blocks of bytes, never rows); staging tables are
temporary (not WAL-logged). SQLite: the rows are fetched from DuckDB in chunks of tuples already
in the store's text forms and bound by the driver's ``executemany``.
"""

# SQL here is built from the fact tables' own names and columns; values never enter it.
# ruff: noqa: S608
from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import Connection, Table

from metrics.facts.arrow_io import output_columns

FETCH_ROWS = 50_000  # rows per DuckDB fetch on SQLite
COPY_BLOCK = 1 << 20  # bytes per COPY write on PostgreSQL


def _keys(table: Table) -> list[str]:
    return [c.name for c in table.primary_key.columns]


def _query(table: Table, source: str, dialect: str, ordered: bool) -> str:
    """The DuckDB result `source` in `table`'s column order and text forms (in key order when
    `ordered`: a B-tree filled in order is written page after page)."""
    columns = ", ".join(output_columns(table, dialect))
    order = f" ORDER BY {', '.join(_keys(table))}" if ordered else ""
    return f"SELECT {columns} FROM {source}{order}"


def _copy_postgres(
    conn: Connection, con: duckdb.DuckDBPyConnection, query: str, target: str, spool: Path
) -> int:
    """`target` is `table (columns)`."""
    path = spool / "facts.csv"
    literal = "'" + str(path).replace("'", "''") + "'"
    con.execute(f"COPY ({query}) TO {literal} (FORMAT csv, HEADER false, FORCE_QUOTE *)")
    driver: Any = conn.connection.driver_connection
    try:
        with driver.cursor() as cur:
            with cur.copy(f"COPY {target} FROM STDIN (FORMAT csv)") as copy, path.open("rb") as f:
                while block := f.read(COPY_BLOCK):
                    copy.write(block)
            return int(cur.rowcount)
    finally:
        path.unlink(missing_ok=True)


def _insert_sqlite(
    conn: Connection, con: duckdb.DuckDBPyConnection, query: str, target: str, width: int
) -> int:
    """`target` is `table (columns)`."""
    insert = f"INSERT INTO {target} VALUES ({', '.join('?' for _ in range(width))})"
    result = con.execute(query)
    driver: Any = conn.connection.driver_connection
    cur = driver.cursor()
    rows = 0
    try:
        while chunk := result.fetchmany(FETCH_ROWS):
            cur.executemany(insert, chunk)
            rows += len(chunk)
    finally:
        cur.close()
    return rows


def _load(
    conn: Connection,
    con: duckdb.DuckDBPyConnection,
    table: Table,
    source: str,
    target: str,
    spool: Path,
) -> int:
    """Append the DuckDB result `source` to `target` (a table shaped like `table`)."""
    dialect = conn.dialect.name
    query = _query(table, source, dialect, ordered=target == table.name)
    columns = f"{target} ({', '.join(table.c.keys())})"
    if dialect == "postgresql":
        return _copy_postgres(conn, con, query, columns, spool)
    return _insert_sqlite(conn, con, query, columns, len(table.c))


def _stage(conn: Connection, table: Table) -> str:
    """A new, empty temporary table with `table`'s columns (no keys, no indexes)."""
    if conn.dialect.name == "postgresql":
        stage = f"pg_temp.rebuild_{table.name}"
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {stage}")
        conn.exec_driver_sql(f"CREATE TEMP TABLE rebuild_{table.name} (LIKE {table.name})")
    else:
        stage = f"temp.rebuild_{table.name}"
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {stage}")
        # The declared types keep the columns' affinities, so values are stored alike.
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE rebuild_{table.name} AS SELECT * FROM {table.name} WHERE 0"
        )
    return stage


def _apply(conn: Connection, table: Table, stage: str) -> None:
    """Make `table` equal to `stage`: delete gone and changed rows by key, insert the rest."""
    keys, names = _keys(table), list(table.c.keys())
    on = " AND ".join(f"s.{k} = t.{k}" for k in keys)
    differs = "IS DISTINCT FROM" if conn.dialect.name == "postgresql" else "IS NOT"
    old = ", ".join(f"t.{n}" for n in names)
    new = ", ".join(f"s.{n}" for n in names)
    conn.exec_driver_sql(
        f"DELETE FROM {table.name} WHERE ({', '.join(keys)}) IN ("
        f"SELECT {', '.join(f't.{k}' for k in keys)} FROM {table.name} t "
        f"LEFT JOIN {stage} s ON {on} WHERE s.{keys[0]} IS NULL OR ({old}) {differs} ({new}))"
    )
    conn.exec_driver_sql(
        f"INSERT INTO {table.name} ({', '.join(names)}) SELECT {new} FROM {stage} s "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table.name} t WHERE {on})"
    )
    conn.exec_driver_sql(f"DROP TABLE {stage}")


def replace(
    conn: Connection, con: duckdb.DuckDBPyConnection, table: Table, source: str, spool: Path
) -> None:
    """Make the store's `table` hold exactly the rows of the DuckDB result `source`."""
    empty = conn.exec_driver_sql(f"SELECT 1 FROM {table.name} LIMIT 1").first() is None
    if empty:
        _load(conn, con, table, source, table.name, spool)
        return
    stage = _stage(conn, table)
    _load(conn, con, table, source, stage, spool)
    _apply(conn, table, stage)

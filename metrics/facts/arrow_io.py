"""The store read into DuckDB through the caller's connection and Arrow: the columnar rebuild's
path for a store DuckDB cannot open itself (an in-memory SQLite database, as tests use; every
other store is scanned in place, `duck_store`).

Reads run on the caller's connection (its transaction, its snapshot). PostgreSQL streams each
table with ``COPY (SELECT …) TO STDOUT`` as CSV into a temporary file that pyarrow reads back in
record batches; SQLite is read with the driver cursor in chunks, one Python list per column. Each
chunk is appended to a DuckDB table right away, so memory grows with the columns, not with
Python objects per row. Timestamps arrive as naive UTC; amounts as the exact text the Python
builders would hold (`Decimal`), never through a float.
"""

# SQL here is built from this module's own table and column names; values never enter it.
# ruff: noqa: S608
from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import Connection

READ_ROWS = 25_000  # rows per SQLite chunk
CSV_BLOCK = 16 << 20  # bytes per pyarrow CSV block


@dataclass(frozen=True, slots=True)
class Source:
    """One canonical table to read: (column, kind) pairs, a filter, and the DuckDB columns."""

    table: str
    columns: tuple[tuple[str, str], ...]  # kind: int | text | ts | amount | json
    where: str = ""
    select: str = "*"  # DuckDB projection over the chunk (named `chunk`), after conversions
    exprs: dict[str, str] = field(default_factory=dict)  # store-side expressions by column
    derive: str = ""  # DuckDB columns added to the chunk before `select` (computed once)

    def expr(self, name: str) -> str:
        """The store-side SQL of one column."""
        return self.exprs.get(name, name)

    def query(self, rows: str) -> str:
        """DuckDB query of the table's DuckDB columns over `rows` (the converted columns)."""
        derived = f"(SELECT *, {self.derive} FROM {rows} AS raw)" if self.derive else rows
        return f"SELECT {self.select} FROM {derived} AS chunk"


def _pg_expr(expr: str, kind: str) -> str:
    if kind == "ts":
        return f"(extract(epoch FROM {expr}) * 1000000)::int8"
    if kind in ("amount", "json"):
        return f"({expr})::text"
    return expr


def _arrow_type(kind: str, dialect: str) -> pa.DataType:
    """How a column travels: ids, counts and (PostgreSQL) epoch microseconds as int64."""
    if kind == "int" or (kind == "ts" and dialect == "postgresql"):
        return pa.int64()
    return pa.string()


def _convert(name: str, kind: str, dialect: str) -> str:
    """DuckDB expression turning a read column into its typed value (timestamps naive UTC)."""
    if kind == "ts":
        return (
            f"make_timestamp({name})" if dialect == "postgresql" else f"CAST({name} AS TIMESTAMP)"
        )
    return name


def _sqlite_amount(value: Any) -> str | None:
    """An amount as SQLAlchemy reads it from SQLite (`Decimal('%.4f' % value)`), as text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return "%.4f" % value  # noqa: UP031 - exactly SQLAlchemy's conversion


def _sqlite_chunks(conn: Connection, src: Source) -> Iterator[pa.Table]:
    names = [n for n, _ in src.columns]
    query = f"SELECT {', '.join(src.expr(n) for n in names)} FROM {src.table} {src.where}"
    driver: Any = conn.connection.driver_connection
    cur = driver.cursor()
    try:
        cur.execute(query)
        while rows := cur.fetchmany(READ_ROWS):
            arrays = []
            for i, (_, kind) in enumerate(src.columns):
                values = [r[i] for r in rows]
                if kind == "amount":
                    values = [_sqlite_amount(v) for v in values]
                arrays.append(pa.array(values, _arrow_type(kind, "sqlite")))
            yield pa.Table.from_arrays(arrays, names=names)
    finally:
        cur.close()


def _postgres_chunks(conn: Connection, src: Source) -> Iterator[pa.Table]:
    names = [n for n, _ in src.columns]
    exprs = ", ".join(f"{_pg_expr(src.expr(n), k)} AS {n}" for n, k in src.columns)
    query = f"COPY (SELECT {exprs} FROM {src.table} {src.where}) TO STDOUT (FORMAT csv)"
    driver: Any = conn.connection.driver_connection
    with tempfile.TemporaryFile() as spool:
        with driver.cursor() as cur, cur.copy(query) as copy:
            for data in copy:
                spool.write(data)
        if not spool.tell():
            return
        spool.seek(0)
        reader = pacsv.open_csv(
            spool,
            read_options=pacsv.ReadOptions(column_names=names, block_size=CSV_BLOCK),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={n: _arrow_type(k, "postgresql") for n, k in src.columns},
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
        for batch in reader:
            yield pa.Table.from_batches([batch])


def load(conn: Connection, con: duckdb.DuckDBPyConnection, src: Source, target: str) -> int:
    """Copy `src` from the store into the DuckDB table `target`; rows copied."""
    dialect = conn.dialect.name
    chunks = _postgres_chunks if dialect == "postgresql" else _sqlite_chunks
    converted = ", ".join(f"{_convert(n, k, dialect)} AS {n}" for n, k in src.columns)
    rows, created = 0, False
    for chunk in chunks(conn, src):
        con.register("chunk_in", chunk)
        select = src.query(f"(SELECT {converted} FROM chunk_in)")
        if created:
            con.execute(f"INSERT INTO {target} {select}")
        else:
            con.execute(f"CREATE TABLE {target} AS {select}")
            created = True
        con.unregister("chunk_in")
        rows += chunk.num_rows
    if not created:  # an empty table still gets its columns
        empty = pa.Table.from_arrays(
            [pa.array([], _arrow_type(k, dialect)) for _, k in src.columns],
            names=[n for n, _ in src.columns],
        )
        con.register("chunk_in", empty)
        con.execute(f"CREATE TABLE {target} AS {src.query(f'(SELECT {converted} FROM chunk_in)')}")
        con.unregister("chunk_in")
    return rows

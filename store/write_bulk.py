"""Bulk loading through the driver: SQLite `executemany`, PostgreSQL `COPY` into a staging table
then one `INSERT … SELECT … ON CONFLICT`, each upserting one table's rows (`store.write_rows`)
as its spec says and counting the rows inserted or changed."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, Connection, Date, Numeric, String
from sqlalchemy.types import TypeEngine

from store.tables import Base, UTCDateTime
from store.write_rows import Row, TableSpec


@lru_cache(maxsize=65536)
def _sqlite_timestamp(value: datetime) -> str:
    """UTC as SQLAlchemy's SQLite DateTime stores it: `YYYY-MM-DD HH:MM:SS.ffffff`."""
    return value.astimezone(UTC).isoformat(" ", "microseconds")[:26]


def _json(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True, separators=(",", ":"))


class Loader(ABC):
    """Bulk-loads rows of one table through the driver connection of `conn`."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        driver = conn.connection.driver_connection
        if driver is None:
            raise RuntimeError("the connection has no live driver connection")
        self.driver: Any = driver

    @abstractmethod
    def load(self, table: TableSpec, rows: list[Row]) -> int:
        """Upsert `rows` into `table`; the number of rows inserted or changed."""

    def _converters(self, table: TableSpec) -> list[tuple[int, Callable[[Any], Any]]]:
        """(column index, converter) for the columns whose Python values need adapting."""
        columns = Base.metadata.tables[table.name].c
        out = []
        for i, name in enumerate(table.columns):
            convert = self._converter(columns[name].type)
            if convert is not None:
                out.append((i, convert))
        return out

    def _converter(self, sa_type: TypeEngine[Any]) -> Callable[[Any], Any] | None:
        if isinstance(sa_type, JSON) or isinstance(getattr(sa_type, "impl", None), JSON):
            return _json
        if isinstance(sa_type, String):
            return str  # StrEnum members → their plain value
        return None

    def _adapt(self, table: TableSpec, rows: list[Row]) -> list[Row]:
        converters = self._converters(table)
        if not converters:
            return rows
        out = []
        for row in rows:
            values = list(row)
            for i, convert in converters:
                if values[i] is not None:
                    values[i] = convert(values[i])
            out.append(tuple(values))
        return out

    def _conflict_sql(self, table: TableSpec, distinct_op: str) -> str:
        key = ", ".join(table.key)
        if table.conflict == "nothing":
            return f"ON CONFLICT ({key}) DO NOTHING"
        if table.conflict == "count":
            return (
                f"ON CONFLICT ({key}) DO UPDATE SET last_seen_at = excluded.last_seen_at, "
                f"times_seen = {table.name}.times_seen + 1"
            )
        sets = ", ".join(f"{c} = excluded.{c}" for c in table.compare)
        old = ", ".join(f"{table.name}.{c}" for c in table.compare)
        new = ", ".join(f"excluded.{c}" for c in table.compare)
        where = f"({old}) {distinct_op} ({new})"
        if table.newer_guard:
            g = table.newer_guard
            where += (
                f" AND (excluded.{g} IS NULL OR {table.name}.{g} IS NULL "
                f"OR excluded.{g} >= {table.name}.{g})"
            )
        return f"ON CONFLICT ({key}) DO UPDATE SET {sets} WHERE {where}"


class _SQLiteLoader(Loader):
    def _converter(self, sa_type: TypeEngine[Any]) -> Callable[[Any], Any] | None:
        if isinstance(sa_type, UTCDateTime):
            return _sqlite_timestamp
        if isinstance(sa_type, Date):
            return date.isoformat
        if isinstance(sa_type, Numeric):
            return str
        return super()._converter(sa_type)

    def load(self, table: TableSpec, rows: list[Row]) -> int:
        if not rows:
            return 0
        cols = ", ".join(table.columns)
        marks = ", ".join("?" for _ in table.columns)
        conflict = self._conflict_sql(table, "IS NOT")
        # Identifiers come from the table specs (`store.write_rows`); values are bound parameters.
        sql = f"INSERT INTO {table.name} ({cols}) VALUES ({marks}) {conflict}"  # noqa: S608
        cur = self.driver.cursor()
        try:
            cur.executemany(sql, self._adapt(table, rows))
            return int(cur.rowcount)
        finally:
            cur.close()


class _PostgresLoader(Loader):
    def load(self, table: TableSpec, rows: list[Row]) -> int:
        if not rows:
            return 0
        stage = f"stage_{table.name}"
        cols = ", ".join(table.columns)
        with self.driver.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS pg_temp.{stage}")
            cur.execute(
                f"CREATE TEMP TABLE {stage} (LIKE {table.name} INCLUDING DEFAULTS) ON COMMIT DROP"
            )
            with cur.copy(f"COPY {stage} ({cols}) FROM STDIN") as copy:
                for row in self._adapt(table, rows):
                    copy.write_row(row)
            conflict = self._conflict_sql(table, "IS DISTINCT FROM")
            cur.execute(f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM {stage} {conflict}")  # noqa: S608
            return int(cur.rowcount)


def loader_for(conn: Connection) -> Loader:
    """The bulk loader of `conn`'s database (SQLite or PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        return _PostgresLoader(conn)
    if conn.dialect.name == "sqlite":
        return _SQLiteLoader(conn)
    raise ValueError(f"unsupported database {conn.dialect.name!r}: use SQLite or PostgreSQL")

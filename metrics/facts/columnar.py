"""The columnar full rebuild: every case-fact table recomputed by DuckDB in process.

`rebuild_columnar(conn)` reads the canonical tables the builders need into an in-memory DuckDB
(`arrow_io`), derives the seven fact tables in SQL (`columnar_sql`) with the same rules as the
per-case Python builders, and replaces the store's fact rows on `conn`, in its transaction. The
Python builders stay the incremental path and the reference: the tests compare both row for
row. Values whose Python semantics SQL would only approximate — `str()` and truthiness of JSON
attributes, `date.fromisoformat`, the `object_id` hash — are computed in Python over the
distinct inputs and joined back.
"""

# SQL here is built from this module's own table and column names; values are bound or mapped.
# ruff: noqa: S608
from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import duckdb
import pyarrow as pa
from sqlalchemy import Connection, Table

from foundation.settings import user_data_dir
from metrics.facts import arrow_io, columnar_sql, duck_store, duck_write
from metrics.facts.arrow_io import Source
from metrics.facts.invoices import period_end_instant
from metrics.facts.work_items import work_date
from store.canonical import object_id
from store.tables import (
    CaseDimension,
    CaseHandoff,
    CaseInvoice,
    CaseWorkBilling,
    CaseWorkItem,
    SyncDaily,
    SyncFailure,
    SyncTrace,
)

THREADS = 2
MAP_ROWS = 100_000  # distinct inputs per chunk of a Python mapping
# DuckDB's own buffers; past it DuckDB spills to disk. The process adds Python and the driver,
# and DuckDB some memory outside its buffer manager: the whole rebuild stays within 2 GB.
MEMORY_LIMIT = "1GB"
ATTRIBUTE_TYPES = ("deal", "project", "invoice", "work_item")  # whose attributes are read
# The attributes' JSON is parsed once per object for all fragments (a list of paths).
_PATHS = "[" + ", ".join(f"'$.{name}'" for name in columnar_sql.FRAGMENTS) + "]"
_FRAGMENTS = ", ".join(
    f"fragments[{i}]::VARCHAR AS f_{name}" for i, name in enumerate(columnar_sql.FRAGMENTS, start=1)
)
_OBJ_COLUMNS = (
    "id, type, source_system, source_key, customer, legal_entity, practice, owner, currency, amount"
)


def _in(values: Sequence[str]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


SOURCES: dict[str, Source] = {
    "obj": Source(
        "objects",
        (
            ("id", "int"),
            ("type", "text"),
            ("source_system", "text"),
            ("source_key", "text"),
            ("customer", "text"),
            ("legal_entity", "text"),
            ("practice", "text"),
            ("owner", "text"),
            ("currency", "text"),
            ("amount", "amount"),
            ("attributes", "json"),
        ),
        exprs={"attributes": f"CASE WHEN type IN {_in(ATTRIBUTE_TYPES)} THEN attributes END"},
        select=f"{_OBJ_COLUMNS}, {_FRAGMENTS}",
        derive=f"json_extract(attributes, {_PATHS}) AS fragments",
    ),
    "ev": Source(
        "events",
        (("id", "int"), ("activity", "text"), ("occurred_at", "ts")),
        f"WHERE activity IN {_in(columnar_sql.ACTIVITIES)}",
    ),
    "eo": Source(
        "event_objects",
        (("event_id", "int"), ("object_id", "int"), ("qualifier", "text")),
        f"WHERE qualifier IN {_in(columnar_sql.QUALIFIERS)}",
    ),
    "lk": Source(
        "object_links",
        (("from_object_id", "int"), ("to_object_id", "int"), ("qualifier", "text")),
        f"WHERE qualifier IN {_in(columnar_sql.LINKS)}",
        "from_object_id AS from_id, to_object_id AS to_id, qualifier",
    ),
    "att": Source(
        "sync_attempts",
        (
            ("source_key", "text"),
            ("integration", "text"),
            ("flow", "text"),
            ("status", "text"),
            ("attempt_number", "int"),
            ("error_class", "text"),
            ("error_signature", "text"),
            ("trace_key", "text"),
            ("started_at", "ts"),
            ("object_id", "int"),
        ),
    ),
}
OUTPUTS: tuple[tuple[Table, str], ...] = tuple(
    (cast(Table, model.__table__), result)
    for model, result in (
        (CaseHandoff, "f_handoffs"),
        (CaseInvoice, "f_invoices"),
        (CaseWorkItem, "f_work_items"),
        (CaseWorkBilling, "f_work_billing"),
        (SyncDaily, "f_sync_daily"),
        (SyncFailure, "f_sync_failures"),
        (SyncTrace, "f_sync_traces"),
        (CaseDimension, "f_case_dimensions"),
    )
)
# Tables whose rows the rebuild reports, as the builders count them: one per case.
COUNTED = frozenset(t.name for t, _ in OUTPUTS) - {"case_work_billing", "case_dimensions"}


# --- Python semantics over distinct values ------------------------------------------------------


def _value(fragment: str) -> Any:
    return json.loads(fragment)


def _naive(at: datetime | None) -> datetime | None:
    return None if at is None else at.astimezone(UTC).replace(tzinfo=None)


def _stored_text(value: Any, dialect: str) -> str | None:
    """A non-string JSON value as the store keeps it in a text column (driver adaptation)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return ("t" if value else "f") if dialect == "postgresql" else str(int(value))
    if isinstance(value, float) and dialect != "postgresql":
        text = format(value, ".15g")
        return text if any(c in text for c in ".enai") else text + ".0"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value)


def _truthy_id(type_: str) -> Callable[[str, str], tuple[bool, int | None]]:
    def compute(system: str, fragment: str) -> tuple[bool, int | None]:
        value = _value(fragment)
        return (True, object_id(system, type_, str(value))) if value else (False, None)

    return compute


def _mapping(
    con: duckdb.DuckDBPyConnection,
    name: str,
    query: str,
    compute: Callable[..., Any],
    columns: dict[str, pa.DataType],
) -> None:
    """Create table `name`: each row of `query` (distinct inputs) followed by `compute(*row)`
    (a tuple when several output columns follow the inputs), `MAP_ROWS` rows at a time."""
    reader = con.cursor()  # its own result, beside the inserts on `con`
    try:
        result = reader.execute(query)
        outputs = len(columns) - len(result.description or ())
        empty = pa.Table.from_arrays([pa.array([], t) for t in columns.values()], list(columns))
        con.register("mapped", empty)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM mapped")
        while rows := result.fetchmany(MAP_ROWS):
            values: list[list[Any]] = [[] for _ in columns]
            for row in rows:
                out = compute(*row)
                for i, value in enumerate([*row, *(out if outputs > 1 else (out,))]):
                    values[i].append(value)
            arrays = [pa.array(v, t) for v, t in zip(values, columns.values(), strict=True)]
            con.register("mapped", pa.Table.from_arrays(arrays, names=list(columns)))
            con.execute(f"INSERT INTO {name} SELECT * FROM mapped")
        con.unregister("mapped")
    finally:
        reader.close()


def _python_maps(con: duckdb.DuckDBPyConnection, dialect: str) -> None:
    s, t = pa.string(), pa.timestamp("us")
    _mapping(
        con,
        "kind_map",
        "SELECT DISTINCT f_kind FROM obj WHERE type = 'invoice' AND f_kind IS NOT NULL",
        lambda f: str(_value(f) or "invoice"),
        {"fragment": s, "value": s},
    )
    passthrough = " UNION ".join(
        f"SELECT DISTINCT f_{c} AS f FROM obj WHERE type = '{type_}'"
        for type_, c in (
            ("invoice", "billing_type"),
            ("work_item", "kind"),
            ("work_item", "status"),
        )
    )
    _mapping(
        con,
        "pass_map",
        f"SELECT f FROM ({passthrough}) WHERE f IS NOT NULL AND f <> 'null' "
        "AND json_type(f) <> 'VARCHAR'",
        lambda f: _stored_text(_value(f), dialect),
        {"fragment": s, "value": s},
    )
    _mapping(
        con,
        "instant_map",
        "SELECT DISTINCT f_period_end FROM obj WHERE type = 'invoice' AND f_period_end IS NOT NULL",
        lambda f: _naive(period_end_instant(_value(f))),
        {"fragment": s, "at": t},
    )
    _mapping(
        con,
        "date_map",
        "SELECT DISTINCT f_work_date FROM obj WHERE type = 'work_item' AND f_work_date IS NOT NULL",
        lambda f: work_date(_value(f)),
        {"fragment": s, "day": pa.date32()},
    )
    ids = {"system": s, "fragment": s, "truthy": pa.bool_(), "id": pa.int64()}
    _mapping(
        con,
        "pid_map",
        "SELECT DISTINCT source_system, f_project_id FROM obj WHERE type = 'work_item' "
        "AND f_project_id IS NOT NULL",
        _truthy_id("project"),
        ids,
    )
    _mapping(
        con,
        "mid_map",
        "SELECT DISTINCT coalesce(p.source_system, 'psa'), i.f_milestone_id FROM obj i "
        "LEFT JOIN inv_proj p ON p.invoice_id = i.id "
        "WHERE i.type = 'invoice' AND i.f_milestone_id IS NOT NULL",
        _truthy_id("milestone"),
        ids,
    )


# --- the rebuild ---------------------------------------------------------------------------------


def _run(con: duckdb.DuckDBPyConnection, script: str) -> None:
    for statement in columnar_sql.statements(script):
        con.execute(statement)


def _connect(spill: Path) -> duckdb.DuckDBPyConnection:
    # A database file rather than memory: past the limit DuckDB evicts table blocks to it (an
    # in-memory database cannot), so years of history need disk, not memory, in proportion.
    con = duckdb.connect(str(spill / "rebuild.duckdb"))
    con.execute(f"SET threads = {THREADS}")
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute("SET temp_directory = '{}'".format(str(spill).replace("'", "''")))
    return con


def _read(
    conn: Connection, con: duckdb.DuckDBPyConnection, own_writes: bool
) -> duck_store.Attached | None:
    """The canonical tables into DuckDB: scanned in place when DuckDB can open the store
    (`duck_store`; the store stays attached), else through the caller's connection
    (`arrow_io`: an in-memory SQLite database, a transaction that wrote to them)."""
    tables = [s.table for s in SOURCES.values()] + [t.name for t, _ in OUTPUTS]
    store = None if own_writes else duck_store.attach(conn, con, tables)
    if store is not None:
        duck_store.load(con, store, SOURCES)
        return store
    for name, source in SOURCES.items():
        arrow_io.load(conn, con, source, name)
    return None


def spill_root() -> Path:
    """Where DuckDB spills (`<data dir>/tmp`): on disk beside the data, never in a RAM-backed
    system temporary directory, which would defeat the memory limit."""
    root = user_data_dir() / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    return root


def rebuild_columnar(
    conn: Connection, timings: dict[str, float] | None = None, *, own_writes: bool = False
) -> int:
    """Replace every case-fact row on `conn` by the columnar computation, in `conn`'s
    transaction; the rows of the counted tables (as the builders count: cases).

    `timings`, when given, receives the seconds spent reading, computing and writing.
    `own_writes`: the transaction may have written to the tables read or replaced (SQLite
    cannot tell which), so the store is read and replaced through `conn` alone."""
    clock = time.perf_counter()
    spent = timings if timings is not None else {}
    with tempfile.TemporaryDirectory(prefix="rebuild-", dir=spill_root()) as folder:
        spill = Path(folder)
        con = _connect(spill)
        try:
            store = _read(conn, con, own_writes)
            spent["read"] = time.perf_counter() - clock
            clock = time.perf_counter()
            _run(con, columnar_sql.MACROS + columnar_sql.TIMES + columnar_sql.INVOICE_PROJECT)
            _python_maps(con, conn.dialect.name)
            for script in (
                columnar_sql.HANDOFFS,
                columnar_sql.INVOICES,
                columnar_sql.WORK_ITEMS,
                columnar_sql.FILTER_VALUES,
                columnar_sql.SYNC_DIMS,
                columnar_sql.SYNC,
            ):
                _run(con, script)
            for scratch in ("ot", "ev", "eo", "att", "sat"):  # free their memory before writing
                con.execute(f"DROP TABLE {scratch}")
            spent["compute"] = time.perf_counter() - clock
            clock = time.perf_counter()
            rows = 0
            for table, result in OUTPUTS:
                duck_write.replace(conn, con, table, result, spill, store)
                if table.name in COUNTED:  # as the builders count: cases, not links or values
                    rows += duck_write.count(con, result)
            spent["write"] = time.perf_counter() - clock
            return rows
        finally:
            duck_store.detach(con)
            con.close()

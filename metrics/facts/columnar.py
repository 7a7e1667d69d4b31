"""The columnar full rebuild: every case-fact table recomputed by DuckDB in process.

`rebuild_columnar(conn)` has DuckDB read the canonical tables the builders need straight from
the store (`duck_store`: its PostgreSQL or SQLite scanner; through `conn` and Arrow, `arrow_io`,
when DuckDB cannot see what `conn` sees), derive the seven fact tables in SQL (`columnar_sql`)
with the same rules as the per-case Python builders, compare them with the stored facts, and
write the difference back on `conn`, in its transaction (`duck_write`). On a SQLite file the
DuckDB part runs in a process of its own (`columnar_child`). Values whose Python semantics SQL
would only approximate are mapped in Python over the distinct inputs (`columnar_maps`). The
Python builders stay the incremental path and the reference: the tests compare both row for
row.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import duckdb
from sqlalchemy import Connection, Table

from foundation.settings import user_data_dir
from metrics.facts import arrow_io, columnar_sql, duck_store, duck_write
from metrics.facts.arrow_io import Source
from metrics.facts.columnar_maps import python_maps
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
# DuckDB's own buffers; past it DuckDB spills to disk. The process adds Python and the driver
# (about 300 MB), and DuckDB some memory outside its buffer manager: the rebuild stays within
# 2 GB. Measured at 100 k deals, the rebuild completes down to 128 MB (with the sync traces in
# parts of a tenth, `columnar_sql.TRACE_PART_ROWS`), and the join of events and their objects
# fails at 96 MB: 1.5 GB keeps that margin at 1 M deals.
MEMORY_LIMIT = "1536MB"
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


# --- the rebuild ---------------------------------------------------------------------------------


def _run(con: duckdb.DuckDBPyConnection, script: str) -> None:
    for statement in columnar_sql.statements(script):
        con.execute(statement)


def spill_root() -> Path:
    """Where DuckDB spills (`<data dir>/tmp`): on disk beside the data, never in a RAM-backed
    system temporary directory, which would defeat the memory limit."""
    root = user_data_dir() / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    return root


def connect(spill: Path) -> duckdb.DuckDBPyConnection:
    """The rebuild's DuckDB: a database file in `spill` rather than memory (past the limit
    DuckDB evicts table blocks to it, which an in-memory database cannot), so years of history
    need disk, not memory, in proportion."""
    con = duckdb.connect(str(spill / "rebuild.duckdb"))
    con.execute(f"SET threads = {THREADS}")
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute(f"SET temp_directory = {duck_store.literal(str(spill))}")
    return con


def _traces(con: duckdb.DuckDBPyConnection) -> None:
    """`f_sync_traces`, in parts of about `TRACE_PART_ROWS` attempts (`columnar_sql.TRACES`)."""
    row = con.execute("SELECT count(*) FROM sat WHERE trace_key IS NOT NULL").fetchone()
    parts = max(1, -(-(row[0] if row else 0) // columnar_sql.TRACE_PART_ROWS))
    for part in range(parts):
        where = f"hash(integration, flow, record) % {parts} = {part}"
        query = columnar_sql.TRACES.replace("{part}", where)
        con.execute(
            f"INSERT INTO f_sync_traces {query}"
            if part
            else f"CREATE TABLE f_sync_traces AS {query}"
        )


def compute(
    con: duckdb.DuckDBPyConnection, dialect: str, store: duck_store.Attached | None
) -> None:
    """The fact tables (`OUTPUTS`) from the loaded sources; with the store attached, each
    one's difference to the stored rows too (`duck_write.difference`)."""
    _run(con, columnar_sql.MACROS + columnar_sql.TIMES + columnar_sql.INVOICE_PROJECT)
    python_maps(con, dialect)
    for script in (
        columnar_sql.HANDOFFS,
        columnar_sql.INVOICES,
        columnar_sql.WORK_ITEMS,
        columnar_sql.FILTER_VALUES,
        columnar_sql.SYNC_DIMS,
        columnar_sql.SYNC,
    ):
        _run(con, script)
    _traces(con)
    for scratch in ("ot", "ev", "eo", "att", "sat"):  # free their memory before writing
        con.execute(f"DROP TABLE {scratch}")
    if store is not None:
        for table, result in OUTPUTS:
            duck_write.difference(con, table, result, store)


def compute_in_place(con: duckdb.DuckDBPyConnection, where: duck_store.Location) -> float:
    """Attach the store, load the sources, compute the facts and their differences, detach;
    the seconds the reading took."""
    clock = time.perf_counter()
    store = duck_store.attach(con, where)
    try:
        duck_store.load(con, store, SOURCES)
        read = time.perf_counter() - clock
        compute(con, where.dialect, store)
    finally:
        duck_store.detach(con)
    return read


def _compute_apart(spill: Path, where: duck_store.Location) -> dict[str, float]:
    """`compute_in_place` in a process of its own (a SQLite file, see `duck_store`), into the
    DuckDB file in `spill`; its figures (seconds reading, computing; its peak memory)."""
    import metrics

    root = str(Path(metrics.__file__).resolve().parent.parent)  # this very code, in the child
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    }
    args = json.dumps(
        {
            "spill": str(spill),
            "dialect": where.dialect,
            "target": where.target,
            "settings": {"MEMORY_LIMIT": MEMORY_LIMIT, "THREADS": THREADS},
            "trace_part_rows": columnar_sql.TRACE_PART_ROWS,
        }
    )
    done = subprocess.run(
        [sys.executable, "-m", "metrics.facts.columnar_child", args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the columnar rebuild's DuckDB process failed:\n{done.stderr[-4000:]}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def rebuild_columnar(
    conn: Connection, timings: dict[str, float] | None = None, *, own_writes: bool = False
) -> int:
    """Replace every case-fact row on `conn` by the columnar computation, in `conn`'s
    transaction; the rows of the counted tables (as the builders count: cases).

    `timings`, when given, receives the seconds spent reading, computing and writing (and,
    when DuckDB ran apart, that process's peak memory). `own_writes`: the transaction may
    have written to the tables read or replaced (SQLite cannot tell which), so the store is
    read and replaced through `conn` alone."""
    clock = time.perf_counter()
    spent = timings if timings is not None else {}
    tables = [s.table for s in SOURCES.values()] + [t.name for t, _ in OUTPUTS]
    where = None if own_writes else duck_store.locate(conn, tables)
    with tempfile.TemporaryDirectory(prefix="rebuild-", dir=spill_root()) as folder:
        spill = Path(folder)
        apart = where is not None and where.dialect == "sqlite"
        if apart and where is not None:
            spent.update(_compute_apart(spill, where))
        con = connect(spill)
        try:
            if where is None:
                for name, source in SOURCES.items():
                    arrow_io.load(conn, con, source, name)
                spent["read"] = time.perf_counter() - clock
                compute(con, conn.dialect.name, None)
            elif not apart:
                spent["read"] = compute_in_place(con, where)
            if not apart:
                spent["compute"] = time.perf_counter() - clock - spent["read"]
            clock = time.perf_counter()
            rows = 0
            for table, result in OUTPUTS:
                duck_write.replace(conn, con, table, result, spill, diffed=where is not None)
                if table.name in COUNTED:  # as the builders count: cases, not links or values
                    rows += duck_write.count(con, result)
            spent["write"] = time.perf_counter() - clock
            return rows
        finally:
            con.close()

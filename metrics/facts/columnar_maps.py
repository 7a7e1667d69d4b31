"""Values the Python builders derive with Python semantics, for the columnar rebuild.

`str()` and truthiness of JSON attributes, `date.fromisoformat`, the `object_id` hash: SQL would
only approximate them, so they are computed in Python over the distinct inputs (a few per
project, invoice kind or work date, never per event) and joined back as small tables.
"""

# SQL here is built from this module's own table and column names; values are bound or mapped.
# ruff: noqa: S608
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa

from metrics.facts.invoices import period_end_instant
from metrics.facts.work_items import work_date
from store.canonical import object_id

MAP_ROWS = 100_000  # distinct inputs per chunk of a Python mapping


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
    *,
    append: bool = False,
) -> None:
    """Create table `name` (or add to it, `append`): each row of `query` (distinct inputs)
    followed by `compute(*row)` (a tuple when several output columns follow the inputs),
    `MAP_ROWS` rows at a time."""
    reader = con.cursor()  # its own result, beside the inserts on `con`
    try:
        result = reader.execute(query)
        outputs = len(columns) - len(result.description or ())
        empty = pa.Table.from_arrays([pa.array([], t) for t in columns.values()], list(columns))
        if not append:
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


def python_maps(con: duckdb.DuckDBPyConnection, dialect: str) -> None:
    """The mapping tables `columnar_sql` joins (see its docstring), for the store's `dialect`."""
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
    _ids(
        con,
        "pid_map",
        "project",
        "SELECT DISTINCT source_system AS system, f_project_id AS fragment FROM obj "
        "WHERE type = 'work_item' AND f_project_id IS NOT NULL",
    )
    _ids(
        con,
        "mid_map",
        "milestone",
        "SELECT DISTINCT coalesce(p.source_system, 'psa') AS system, i.f_milestone_id AS fragment "
        "FROM obj i LEFT JOIN inv_proj p ON p.invoice_id = i.id "
        "WHERE i.type = 'invoice' AND i.f_milestone_id IS NOT NULL",
    )


# An id named by a non-empty JSON string whose object is stored is that object's id (`objects.id`
# is `object_id` of the natural key): DuckDB finds it; Python hashes only the other fragments.
STORED_IDS = """
CREATE TABLE {name} AS
SELECT k.system, k.fragment, true AS truthy, o.id FROM ({keys}) k
JOIN obj o ON o.type = '{type}' AND o.source_system = k.system AND o.source_key = jstr(k.fragment)
WHERE json_type(k.fragment) = 'VARCHAR' AND jstr(k.fragment) <> ''
"""


def _ids(con: duckdb.DuckDBPyConnection, name: str, type_: str, keys: str) -> None:
    """Table `name` (system, fragment, truthy, id): for each (system, JSON fragment) of `keys`,
    the fragment's truthiness and `object_id(system, type_, str(value))` when truthy."""
    con.execute(STORED_IDS.format(name=name, keys=keys, type=type_))
    rest = (
        f"SELECT k.system, k.fragment FROM ({keys}) k WHERE NOT EXISTS "
        f"(SELECT 1 FROM {name} m WHERE m.system = k.system AND m.fragment = k.fragment)"
    )
    s = pa.string()
    columns = {"system": s, "fragment": s, "truthy": pa.bool_(), "id": pa.int64()}
    _mapping(con, name, rest, _truthy_id(type_), columns, append=True)

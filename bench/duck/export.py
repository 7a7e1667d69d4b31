"""The store's canonical tables written to Parquet in chunks, untouched except for types:
timestamps as naive UTC, amounts as doubles, attributes as JSON text."""

# SQL here is built from this module's own table and column names.
# ruff: noqa: S608
from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine

TABLES: dict[str, tuple[tuple[str, pa.DataType], ...]] = {
    "objects": (
        ("id", pa.int64()),
        ("type", pa.string()),
        ("source_system", pa.string()),
        ("source_key", pa.string()),
        ("customer", pa.string()),
        ("legal_entity", pa.string()),
        ("practice", pa.string()),
        ("currency", pa.string()),
        ("amount", pa.float64()),
        ("attributes", pa.string()),
    ),
    "events": (("id", pa.int64()), ("activity", pa.string()), ("occurred_at", pa.timestamp("us"))),
    "event_objects": (
        ("event_id", pa.int64()),
        ("object_id", pa.int64()),
        ("qualifier", pa.string()),
    ),
    "object_links": (
        ("from_object_id", pa.int64()),
        ("to_object_id", pa.int64()),
        ("qualifier", pa.string()),
    ),
    "sync_attempts": (
        ("source_key", pa.string()),
        ("integration", pa.string()),
        ("flow", pa.string()),
        ("status", pa.string()),
        ("attempt_number", pa.int64()),
        ("trace_key", pa.string()),
        ("started_at", pa.timestamp("us")),
        ("object_id", pa.int64()),
    ),
    "fx_rates": (
        ("day", pa.date32()),
        ("base", pa.string()),
        ("quote", pa.string()),
        ("rate", pa.float64()),
    ),
}
CHUNK = 200_000


def _column(values: list[Any], type_: pa.DataType) -> pa.Array:
    if pa.types.is_timestamp(type_):
        series = pd.to_datetime(pd.Series(values, dtype=object), utc=True, format="ISO8601")
        return pa.array(series.dt.tz_convert(None).astype("datetime64[us]"), type_)
    if pa.types.is_date32(type_):
        return pa.array([v if isinstance(v, date) else date.fromisoformat(v) for v in values])
    if pa.types.is_float64(type_):
        return pa.array([None if v is None else float(v) for v in values], type_)
    if type_ == pa.string():
        return pa.array(
            [v if v is None or isinstance(v, str) else json.dumps(v) for v in values], type_
        )
    return pa.array(values, type_)


def export_parquet(engine: Engine, folder: Path) -> dict[str, int]:
    """The canonical tables of `engine` as `folder/<table>.parquet`; rows per table."""
    folder.mkdir(parents=True, exist_ok=True)
    counts = {}
    for table, columns in TABLES.items():
        schema = pa.schema(list(columns))
        names = ", ".join(name for name, _ in columns)
        rows = 0
        with (
            engine.connect().execution_options(stream_results=True) as conn,
            pq.ParquetWriter(folder / f"{table}.parquet", schema) as writer,
        ):
            result = conn.exec_driver_sql(f"SELECT {names} FROM {table}")
            for part in result.partitions(CHUNK):
                arrays = [_column([r[i] for r in part], t) for i, (_, t) in enumerate(columns)]
                writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
                rows += len(part)
        counts[table] = rows
    return counts

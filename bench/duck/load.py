"""DuckDB loaded for the KPIs: the tables of `bench.duck.tables` from the Parquet files, and
a business-day calendar (weekends and each country's holidays) around the log's dates."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import holidays
import pandas as pd

from bench.duck.tables import HANDOFFS, INVOICES, SETUP, SYNC, WORK


def calendar(countries: Mapping[str, str], first: date, last: date) -> pd.DataFrame:
    """(country, day, biz, cum): `cum` counts the business days before `day` ('' = weekends)."""
    frames = []
    days = pd.date_range(first, last, freq="D")
    for country in sorted({"", *countries.values()}):
        off = set()
        if country:
            off = set(holidays.country_holidays(country, years=range(first.year, last.year + 1)))
        biz = [d.weekday() < 5 and d.date() not in off for d in days]
        cum = pd.Series(biz, dtype=int).cumsum().shift(1, fill_value=0)
        frames.append(
            pd.DataFrame({"country": country, "day": days.date, "biz": biz, "cum": cum.to_numpy()})
        )
    return pd.concat(frames, ignore_index=True)


def load(
    folder: Path, params: dict[str, Any], countries: Mapping[str, str], threads: int | None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection holding the derived tables of the Parquet files in `folder` and the
    calendar table ``cal`` of `countries`."""
    now = params["now"]
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    d = str(folder).replace("'", "''")
    for block in (SETUP, HANDOFFS, INVOICES, WORK, SYNC):
        for statement in block.replace("DIR", d).split(";"):
            if statement.strip():
                con.execute(statement, {k: v for k, v in params.items() if f"${k}" in statement})
    lo, hi = con.execute("SELECT min(occurred_at), max(occurred_at) FROM ev").fetchall()[0]
    first = min((lo or now).date(), now.date()) - timedelta(days=400)
    last = max((hi or now).date(), now.date()) + timedelta(days=400)
    cal = calendar(countries, first, last)
    con.register("cal_frame", cal)
    con.execute("CREATE TEMP TABLE cal AS SELECT * FROM cal_frame")
    return con

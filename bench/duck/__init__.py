"""The baseline: DuckDB computes every KPI of the report from the raw event log in Parquet.

`export_parquet` writes the store's canonical tables (objects, events, event-object relations,
links, sync attempts, FX rates) to Parquet in chunks, untouched except for types: timestamps as
naive UTC, amounts as doubles, attributes as JSON text. `duckdb_report` then derives the case
facts and the KPIs in SQL, written apart from `metrics/` (nothing from `metrics.facts` or
`metrics.kpis` is imported), following docs/kpis.md and the KPI modules' docstrings, and returns
the same figures as `metrics.report.kpi_report` with no filters, so `metrics.report.differences`
can compare the two. Business days use a calendar table built from `holidays`; percentiles are
`quantile_cont` (linear interpolation, as numpy's). FX supports direct and inverse quotes into
the reporting currency (no cross rates), and a fixed-fee invoice's milestone is found by its
key among the milestone objects.

The Parquet export is in `export.py`; DuckDB loads the files and derives the tables the KPIs
read (`load.py`, `tables.py`); `kpi_queries.py` computes the figures and `report.py` puts them in
the report's shape.
"""

from bench.duck.export import export_parquet
from bench.duck.report import duckdb_report

__all__ = ["duckdb_report", "export_parquet"]

"""The rebuild phases: `rebuild` (every case fact from the event log, then every KPI of the
registry) and `duckdb` (the same KPIs computed by DuckDB from the tables exported to Parquet,
compared figure by figure)."""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from typing import Any

from bench.measure import own_peak_mb, peak_mb
from bench.stores import open_store


def _as_of() -> datetime:
    from bench.firm import CUT

    return CUT


def phase_rebuild(db: str, deals: int, opts: argparse.Namespace) -> dict[str, Any]:
    import metrics.facts.columnar as columnar
    from bench.generate import label
    from metrics.facts import rebuild_case_facts
    from metrics.report import kpi_report

    engine = open_store(db, label(deals), out=opts.out, pg_url=opts.postgres_url)
    split: dict[str, float] = {}  # the columnar rebuild's read / compute / write seconds
    real = columnar.rebuild_columnar
    columnar.rebuild_columnar = lambda conn, timings=None, **kw: real(conn, split, **kw)  # type: ignore[assignment]
    started = time.perf_counter()
    rebuild_case_facts(engine)
    facts = time.perf_counter() - started
    facts_peak = peak_mb()  # with the rebuild's child process, if it had one
    columnar.rebuild_columnar = real  # type: ignore[assignment]
    started = time.perf_counter()
    report = kpi_report(engine, _as_of())
    kpis = time.perf_counter() - started
    path = opts.out / f"{label(deals)}-{db}-kpis.json"
    path.write_text(json.dumps(report, indent=1))
    engine.dispose()
    return {
        "rebuild": {
            "seconds": facts + kpis,
            "facts_seconds": facts,
            "kpis_seconds": kpis,
            "facts_split": split,
            "peak_mb": max(facts_peak, own_peak_mb()),
            "report": str(path),
        }
    }


def phase_duckdb(db: str, deals: int, opts: argparse.Namespace) -> dict[str, Any]:
    from bench.duck import duckdb_report, export_parquet
    from bench.generate import label
    from metrics.report import differences

    engine = open_store(db, label(deals), out=opts.out, pg_url=opts.postgres_url)
    folder = opts.out / f"{label(deals)}-{db}-parquet"
    started = time.perf_counter()
    counts = export_parquet(engine, folder)
    exported = time.perf_counter() - started
    engine.dispose()
    started = time.perf_counter()
    theirs = duckdb_report(folder, _as_of())
    seconds = time.perf_counter() - started
    mine = json.loads((opts.out / f"{label(deals)}-{db}-kpis.json").read_text())
    diff = differences(mine, theirs)
    (opts.out / f"{label(deals)}-{db}-duckdb.json").write_text(json.dumps(theirs, indent=1))
    figures = {
        "seconds": seconds,
        "export_seconds": exported,
        "rows": counts,
        "agree": not diff,
        "differences": diff[:20],
        "peak_mb": peak_mb(),
    }
    return {"duckdb": figures}

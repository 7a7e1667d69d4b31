"""`make bench` (or `throughline bench`): Throughline's speed at 10 k, 100 k and 1 M deals, each
figure against a baseline measured in the same run, on SQLite and on PostgreSQL.

For every scale and database, in this order, each phase in a fresh Python process (so that its
peak memory, VmHWM, is its own):

1. ``ingest`` — the base log (`bench.generate`, history up to the cut) through `write_batch`
   with a cursor, as collectors write it (the touched cases queued in the same transaction);
   the time is split into the bulk upsert, the queueing and the rest (row building, cursor,
   commit). Then the deferred case-fact refresh the collector runs once at the end of its run
   (`refresh_pending`), timed apart. Then a share of the same batches again: every row a
   conflict.
2. ``raw`` — the raw limit of the same database on the same rows: PostgreSQL `COPY` into
   unindexed copies of the tables, SQLite `executemany` of plain `INSERT`s, one transaction.
3. ``rebuild`` — every case fact from the event log (`rebuild_case_facts`) and every KPI of the
   registry (`metrics.report.kpi_report`) as of the cut.
4. ``duckdb`` — the same tables exported to Parquet (timed apart), then DuckDB computes the same
   KPIs (`bench.duck`); the two reports must agree figure by figure.
5. ``append`` — the next days' rows (≈ 1 % more events) through `write_batch`; the incremental
   refresh is the deferred refresh of the cases they queued (the upsert itself excluded).
6. ``pages`` — the SLO board evaluated and stored, as the worker does after new data; then
   every dashboard page's server-side work (the `metrics.views` functions the page calls, plus
   the clock, freshness and filter values every page reads, and the stored SLO board), cold, at
   the default 13-week period.

Results go to `bench/results.json` (merged by scale, so a later 1 M run adds to it) and
`bench/RESULTS.md`. Stores live in `bench/out/` (SQLite files) and in PostgreSQL schemas
``bench_<scale>`` of `--postgres-url`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from metrics.views.access import ANONYMOUS

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
RESULTS_JSON = ROOT / "bench" / "results.json"
RESULTS_MD = ROOT / "bench" / "RESULTS.md"
POSTGRES_URL = os.environ.get(
    "THROUGHLINE_BENCH_POSTGRES_URL",
    os.environ.get(
        "THROUGHLINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
)
DATABASES = ("sqlite", "postgresql")
PHASES = ("ingest", "raw", "rebuild", "duckdb", "append", "pages")
EXTRA_PHASES = ("profile",)  # at the smallest scale only
TARGETS = {
    "ingest_vs_raw": 0.5,  # ≥
    "rebuild_vs_duckdb": 2.0,  # ≤ (at 1 M deals)
    "incremental_vs_rebuild": 0.05,  # ≤
    "page_seconds": 1.0,  # < (at 1 M deals)
    "ingest_memory_growth": 0.2,  # ≤, 100 k → 1 M
}


def own_peak_mb() -> float:
    """This process's peak resident memory (VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_mb() -> float:
    """`own_peak_mb` plus the largest finished child process's peak (the columnar rebuild's
    DuckDB runs apart on SQLite): an upper bound of what the phase held at once so far."""
    import resource

    return own_peak_mb() + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


# --- stores ------------------------------------------------------------------------------------


def store_url(db: str, label: str, out: Path = OUT, pg_url: str = POSTGRES_URL) -> str:
    """Where the store of one scale lives."""
    return f"sqlite:///{out / f'{label}.db'}" if db == "sqlite" else pg_url


def open_store(
    db: str, label: str, *, fresh: bool = False, out: Path = OUT, pg_url: str = POSTGRES_URL
) -> Any:
    """An engine on the store of one scale (emptied and migrated when `fresh`)."""
    from sqlalchemy import text

    from store.db import make_engine
    from store.migrate import upgrade

    if db == "sqlite":
        path = out / f"{label}.db"
        if fresh:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        engine = make_engine(store_url(db, label, out))
    else:
        schema = f"bench_{label}"
        if fresh:
            admin = make_engine(pg_url)
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
                conn.execute(text(f"CREATE SCHEMA {schema}"))
            admin.dispose()
        engine = make_engine(pg_url, connect_args={"options": f"-c search_path={schema}"})
    if fresh:
        upgrade(engine)
    return engine


# --- the write path, timed in parts -------------------------------------------------------------


class WriteTimer:
    """Times `write_batch` and, inside it, the bulk upsert and the queueing of touched cases;
    then the deferred case-fact refresh."""

    def __init__(self) -> None:
        self.total = self.load = self.mark = self.refresh = 0.0
        self.rows = self.batches = 0

    @contextmanager
    def installed(self) -> Iterator[WriteTimer]:
        import store.write as store

        real_mark, real_loader = store.mark_affected, store._loader_for
        timer = self

        def mark(conn: Any, batch: Any) -> Any:
            started = time.perf_counter()
            try:
                return real_mark(conn, batch)
            finally:
                timer.mark += time.perf_counter() - started

        class Timed:
            def __init__(self, inner: Any) -> None:
                self.inner = inner

            def load(self, table: Any, rows: Any) -> int:
                started = time.perf_counter()
                try:
                    return int(self.inner.load(table, rows))
                finally:
                    timer.load += time.perf_counter() - started

        store.mark_affected = mark  # type: ignore[assignment]
        store._loader_for = lambda conn: Timed(real_loader(conn))  # type: ignore[assignment,return-value]
        try:
            yield self
        finally:
            store.mark_affected, store._loader_for = real_mark, real_loader

    def write(self, engine: Any, batch: Any, cursor: Any) -> None:
        from bench.generate import rows_in
        from store.write import write_batch

        started = time.perf_counter()
        write_batch(engine, batch, cursor)
        self.total += time.perf_counter() - started
        self.rows += rows_in(batch)
        self.batches += 1

    def refresh_facts(self, engine: Any) -> None:
        """The refresh a collector runs once its run's batches are stored."""
        from metrics.facts import refresh_pending

        started = time.perf_counter()
        refresh_pending(engine)
        self.refresh += time.perf_counter() - started

    def figures(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "batches": self.batches,
            "seconds": self.total,
            "rows_per_s": self.rows / self.total if self.total else None,
            "upsert_seconds": self.load,
            "mark_seconds": self.mark,
            "other_seconds": self.total - self.load - self.mark,
            "refresh_seconds": self.refresh,
            "with_refresh_rows_per_s": (
                self.rows / (self.total + self.refresh) if self.total + self.refresh else None
            ),
        }


# --- phases (each runs in its own process) ------------------------------------------------------


def saved_cursor(engine: Any, cursor: Any) -> Any:
    """The cursor a re-delivery saves: the stream's cursor as stored, not the older one the
    batch first came with. A collector retrying a batch does not read backwards, and a cursor
    moved back would move the pages' reporting clock (`reporting_time`) with it."""
    from sqlalchemy import select

    from store.tables import CollectorState
    from store.write import CursorUpdate

    state = CollectorState
    query = select(state.cursor).where(
        state.collector == cursor.collector, state.stream == cursor.stream
    )
    with engine.connect() as conn:
        saved = conn.execute(query).scalar_one_or_none()
    return CursorUpdate(cursor.collector, cursor.stream, saved) if saved else cursor


def phase_ingest(db: str, deals: int, opts: argparse.Namespace) -> dict[str, Any]:
    from bench.generate import Scale, batches

    scale = Scale(deals)
    engine = open_store(db, scale.label, fresh=True, out=opts.out, pg_url=opts.postgres_url)
    first = WriteTimer()
    generated = 0.0
    with first.installed():
        it = batches(scale, "base", opts.batch_rows)
        while True:
            started = time.perf_counter()
            item = next(it, None)
            generated += time.perf_counter() - started
            if item is None:
                break
            first.write(engine, *item)
        memory = peak_mb()  # the write path's peak, before the refresh the run ends with
        first.refresh_facts(engine)
    refresh_memory = peak_mb()
    again = WriteTimer()
    share = max(1, round(first.batches * opts.reingest_share))
    with again.installed():
        for n, (batch, cursor) in enumerate(batches(scale, "base", opts.batch_rows)):
            if n >= share:
                break
            again.write(engine, batch, saved_cursor(engine, cursor))
        again.refresh_facts(engine)
    engine.dispose()
    return {
        "ingest": first.figures(),
        "reingest": again.figures(),
        "generate_seconds": generated,
        "ingest_peak_mb": memory,
        "ingest_refresh_peak_mb": refresh_memory,
        "batch_rows": opts.batch_rows,
    }


def _raw_rows(batch: Any, stamp: datetime, loader: Any) -> list[tuple[Any, list[Any]]]:
    """The exact rows `write_batch` stores, per table, adapted for the driver (not timed)."""
    import store.write as s

    events = s.events_by_id(batch.events)
    plan = [
        (s.OBJECTS, s._object_rows(batch.objects, stamp)),
        (s.EVENTS, s._event_rows(events, stamp)),
        (s.EVENT_OBJECTS, s._event_object_rows(events)),
        (s.LINKS, s._link_rows(batch.links, stamp)),
        (s.SYNC_ATTEMPTS, s._sync_rows(batch.sync_attempts, stamp)),
        (s.FX_RATES, s._fx_rows(batch.fx_rates, stamp)),
    ]
    return [(table, loader._adapt(table, rows)) for table, rows in plan if rows]


def phase_raw(db: str, deals: int, opts: argparse.Namespace) -> dict[str, Any]:
    import store.write as s
    from bench.generate import Scale, batches, rows_in

    scale = Scale(deals)
    engine = open_store(db, scale.label, out=opts.out, pg_url=opts.postgres_url)
    tables = [s.OBJECTS, s.EVENTS, s.EVENT_OBJECTS, s.LINKS, s.SYNC_ATTEMPTS, s.FX_RATES]
    stamp = datetime.now(UTC)
    seconds, rows = 0.0, 0
    with engine.connect() as conn:
        driver: Any = conn.connection.driver_connection
        for t in tables:  # unindexed copies, no keys
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS raw_{t.name}")
            if db == "sqlite":
                conn.exec_driver_sql(f"CREATE TABLE raw_{t.name} AS SELECT * FROM {t.name} WHERE 0")  # noqa: S608
            else:
                conn.exec_driver_sql(f"CREATE TABLE raw_{t.name} (LIKE {t.name})")
        conn.commit()
        loader = s._loader_for(conn)
        for batch, _cursor in batches(scale, "base", opts.batch_rows):
            prepared = _raw_rows(batch, stamp, loader)
            started = time.perf_counter()
            for table, values in prepared:
                cols = ", ".join(table.columns)
                if db == "sqlite":
                    marks = ", ".join("?" for _ in table.columns)
                    cur = driver.cursor()
                    cur.executemany(
                        f"INSERT INTO raw_{table.name} ({cols}) VALUES ({marks})",  # noqa: S608
                        values,
                    )
                    cur.close()
                else:
                    with (
                        driver.cursor() as cur,
                        cur.copy(f"COPY raw_{table.name} ({cols}) FROM STDIN") as copy,
                    ):
                        for row in values:
                            copy.write_row(row)
            seconds += time.perf_counter() - started
            rows += rows_in(batch)
        started = time.perf_counter()
        conn.commit()
        seconds += time.perf_counter() - started
        for t in tables:
            conn.exec_driver_sql(f"DROP TABLE raw_{t.name}")
        conn.commit()
    engine.dispose()
    return {
        "raw": {
            "rows": rows,
            "seconds": seconds,
            "rows_per_s": rows / seconds,
            "method": "executemany INSERT, one transaction"
            if db == "sqlite"
            else "COPY into unindexed tables, one transaction",
        }
    }


def _as_of() -> datetime:
    from bench.generate import CUT

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


def phase_append(db: str, deals: int, opts: argparse.Namespace) -> dict[str, Any]:
    from bench.generate import Scale, batches

    scale = Scale(deals)
    engine = open_store(db, scale.label, out=opts.out, pg_url=opts.postgres_url)
    with engine.connect() as conn:
        before = int(conn.exec_driver_sql("SELECT count(*) FROM events").scalar_one())
    timer = WriteTimer()
    with timer.installed():
        for batch, cursor in batches(scale, "append", opts.batch_rows):
            timer.write(engine, batch, cursor)
        timer.refresh_facts(engine)
    with engine.connect() as conn:
        after = int(conn.exec_driver_sql("SELECT count(*) FROM events").scalar_one())
    engine.dispose()
    return {
        "append": {
            **timer.figures(),
            "events_before": before,
            "events_after": after,
            "events_added_share": after / before - 1,
        }
    }


def _view_config() -> Any:
    """The pages' configuration in the bench: the default settings, one collector."""
    from foundation.settings import Settings
    from metrics.views.common import ViewConfig

    return ViewConfig(Settings(), collectors={"bench": ("bench", 300)})


def page_calls(engine: Any) -> dict[str, Callable[[], Any]]:
    """Each page's server-side work: what it asks `metrics` for on a cold draw (as the admin,
    who sees everything unmasked)."""
    who = ANONYMOUS
    from metrics.slo.service import configured_slos, current_views
    from metrics.slo.stored_board import BOARD_MAX_AGE
    from metrics.views.admin import collectors_view
    from metrics.views.common import dimensions, freshness, period_bounds, period_filters
    from metrics.views.handoffs import handoff_view
    from metrics.views.invoices import invoice_view
    from metrics.views.overview import board
    from metrics.views.slos import alert_history
    from metrics.views.sync import sync_view
    from metrics.views.trace import case_trace, find_cases
    from metrics.views.unbilled import unbilled_view
    from store.clock import data_version, reporting_time

    config = _view_config()
    as_of = reporting_time(engine)
    filters = period_filters(*period_bounds("13w", as_of))
    slo = configured_slos(config.settings)[0].name

    def common() -> None:
        reporting_time(engine)
        freshness(engine)
        data_version(engine)
        dimensions(who, engine)

    def slos() -> Any:  # as stored by the worker's board job (`phase_pages` runs it first)
        return current_views(engine, config.settings, as_of, config.collectors, BOARD_MAX_AGE)

    return {
        "overview": lambda: (
            common(),
            board(who, engine, config, filters, as_of, slos().board, top=200),
        ),
        "invoice_cycle": lambda: (common(), invoice_view(who, engine, config, filters, as_of)),
        "unbilled": lambda: (
            common(),
            unbilled_view(who, engine, config, filters, as_of, "customer"),
        ),
        "slos": lambda: (common(), slos().histories[slo], alert_history(who, engine)),
        "handoffs": lambda: (common(), handoff_view(who, engine, config, filters, as_of)),
        "sync_errors": lambda: (common(), sync_view(who, engine, config, filters, as_of)),
        "case_trace": lambda: (
            common(),
            find_cases(who, engine, "D0000012"),
            case_trace(who, engine, config, "deal", "D00000123", as_of),
        ),
        "collectors": lambda: (common(), collectors_view(who, engine, config)),
    }


def phase_pages(db: str, deals: int, opts: argparse.Namespace) -> dict[str, Any]:
    from bench.generate import label

    engine = open_store(db, label(deals), out=opts.out, pg_url=opts.postgres_url)
    stored = _store_slo_board(engine)
    out: dict[str, Any] = {}
    for page, draw in page_calls(engine).items():
        started = time.perf_counter()
        draw()
        first = time.perf_counter() - started
        again = []
        for _ in range(1):
            started = time.perf_counter()
            draw()
            again.append(time.perf_counter() - started)
        out[page] = {"first_seconds": first, "repeat_seconds": min(again)}
    engine.dispose()
    return {"pages": out, "slo_board_stored": stored}


def _store_slo_board(engine: Any) -> dict[str, Any]:
    """What the worker's board job does after the data moved (`throughline.worker.board_job`):
    the SLO board and the SLOs' weekly histories evaluated at the reporting clock and stored
    for the pages, timed."""
    from metrics.slo.service import current_views
    from store.clock import reporting_time
    from store.tables import StoredSloBoard

    config = _view_config()
    with engine.begin() as conn:
        conn.execute(StoredSloBoard.__table__.delete())  # evaluated here, not found stored
    started = time.perf_counter()
    views = current_views(engine, config.settings, reporting_time(engine), config.collectors)
    return {"seconds": time.perf_counter() - started, "rows": len(views.board)}


def _top(profile: Any, n: int = 12) -> list[dict[str, Any]]:
    """The `n` functions with the most own time, as ``file:line(function)``."""
    import pstats

    stats = pstats.Stats(profile)
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)  # type: ignore[attr-defined]
    out = []
    for (path, line, name), (_cc, _nc, own, cumulative, _callers) in rows[:n]:
        where = str(Path(path).relative_to(ROOT)) if path.startswith(str(ROOT)) else Path(path).name
        out.append(
            {
                "function": f"{where}:{line}({name})",
                "own_seconds": own,
                "cumulative_seconds": cumulative,
            }
        )
    return out


def phase_profile(db: str, deals: int, opts: argparse.Namespace) -> dict[str, Any]:
    """cProfile of one collector batch re-delivered (upsert and refresh), of the rebuild and of
    each page's draw."""
    import cProfile

    from bench.generate import Scale, batches
    from metrics.facts import rebuild_case_facts
    from store.write import write_batch

    scale = Scale(deals)
    engine = open_store(db, scale.label, out=opts.out, pg_url=opts.postgres_url)
    batch, cursor = next(batches(scale, "base", opts.batch_rows))
    write = cProfile.Profile()
    # stored, then its cases refreshed
    write.runcall(write_batch, engine, batch, saved_cursor(engine, cursor))
    rebuild = cProfile.Profile()
    rebuild.runcall(rebuild_case_facts, engine)
    pages = {}
    for page, draw in page_calls(engine).items():
        profile = cProfile.Profile()
        profile.runcall(draw)
        pages[page] = _top(profile, 8)
    engine.dispose()
    return {"profile": {"write_batch": _top(write), "rebuild": _top(rebuild), "pages": pages}}


PHASE_FUNCTIONS: dict[str, Callable[[str, int, argparse.Namespace], dict[str, Any]]] = {
    "ingest": phase_ingest,
    "raw": phase_raw,
    "rebuild": phase_rebuild,
    "duckdb": phase_duckdb,
    "append": phase_append,
    "pages": phase_pages,
    "profile": phase_profile,
}


# --- orchestration -------------------------------------------------------------------------------


def run_phase(phase: str, db: str, deals: int, opts: argparse.Namespace) -> dict[str, Any]:
    """One phase in a fresh Python process; its JSON result."""
    command = [
        sys.executable,
        "-m",
        "bench.run",
        "--phase",
        phase,
        "--databases",
        db,
        "--scales",
        str(deals),
        "--out",
        str(opts.out),
        "--postgres-url",
        opts.postgres_url,
        "--batch-rows",
        str(opts.batch_rows),
        "--reingest-share",
        str(opts.reingest_share),
    ]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"bench phase {phase} ({db}, {deals} deals) failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"  {phase:<8} {db:<10} {time.perf_counter() - started:7.1f}s wall", flush=True)
    return result


def ratios(r: dict[str, Any]) -> dict[str, Any]:
    """The figures the targets are about, from one database's phase results."""
    ingest, raw = r["ingest"], r["raw"]
    rebuild, duck = r["rebuild"], r["duckdb"]
    pages = r["pages"]
    return {
        "ingest_vs_raw": ingest["rows_per_s"] / raw["rows_per_s"],
        "ingest_with_refresh_vs_raw": ingest["with_refresh_rows_per_s"] / raw["rows_per_s"],
        "ingest_refresh_share": ingest["refresh_seconds"]
        / (ingest["seconds"] + ingest["refresh_seconds"]),
        "upsert_vs_raw": (ingest["rows"] / ingest["upsert_seconds"]) / raw["rows_per_s"],
        "rebuild_vs_duckdb": rebuild["seconds"] / duck["seconds"],
        "incremental_vs_rebuild": r["append"]["refresh_seconds"] / rebuild["seconds"],
        "incremental_vs_facts_rebuild": r["append"]["refresh_seconds"] / rebuild["facts_seconds"],
        "slowest_page": max(pages, key=lambda p: pages[p]["first_seconds"]),
        "slowest_page_seconds": max(p["first_seconds"] for p in pages.values()),
    }


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import sqlite3

    import duckdb
    from sqlalchemy import text

    from store.db import make_engine

    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "duckdb": duckdb.__version__,
    }
    try:
        engine = make_engine(POSTGRES_URL)
        with engine.connect() as conn:
            info["postgresql"] = conn.execute(text("SHOW server_version")).scalar_one()
        engine.dispose()
    except Exception as exc:  # the report says so rather than failing
        info["postgresql"] = f"unreachable ({exc.__class__.__name__})"
    return info


def _saved() -> dict[str, Any]:
    return json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {"scales": {}}


def _remeasure(
    results: dict[str, Any], scale: str, db: str, deals: int, opts: argparse.Namespace, at: str
) -> dict[str, Any]:
    """An earlier run's figures with the phases in `opts.only` measured again on the store it
    left (e.g. the pages after a change to them), each marked with when it was."""
    from metrics.facts import ensure_current

    try:
        r: dict[str, Any] = dict(results["scales"][scale][db])
    except KeyError:
        raise SystemExit(f"--only needs an earlier full run of {scale} on {db}") from None
    engine = open_store(db, scale, out=opts.out, pg_url=opts.postgres_url)
    ensure_current(engine)  # the code measured now may need a newer schema
    engine.dispose()
    again = dict(r.get("remeasured", {}))
    for phase in opts.only:
        r.update(run_phase(phase, db, deals, opts))
        again[phase] = {"at": at, "load_average": os.getloadavg()}
    r["remeasured"] = again
    return r


def run(opts: argparse.Namespace) -> dict[str, Any]:
    from bench.generate import label

    results = _saved()
    for deals in opts.deals:
        started = datetime.now(UTC).isoformat(timespec="seconds")
        for db in opts.dbs:
            print(f"{label(deals)} deals on {db}", flush=True)
            if opts.only:
                r = _remeasure(results, label(deals), db, deals, opts, started)
            else:
                r = {"load_average_before": os.getloadavg(), "measured_at": started}
                for phase in PHASES + (EXTRA_PHASES if deals == min(opts.deals) else ()):
                    r.update(run_phase(phase, db, deals, opts))
                r["load_average_after"] = os.getloadavg()
            r["ratios"] = ratios(r)
            # Saved per database, merged into the file as it is now: a long run keeps its part,
            # and runs of other scales or databases beside it keep theirs.
            results = _saved()
            scale = results["scales"].setdefault(label(deals), {})
            if not opts.only:
                scale.update({"deals": deals, "measured_at": started, "command": opts.command})
            scale[db] = r
            results["machine"] = machine()
            RESULTS_JSON.write_text(json.dumps(results, indent=1, default=str) + "\n")
            RESULTS_MD.write_text(markdown(results))
    return results


# --- the report ---------------------------------------------------------------------------------


def _f(value: Any, fmt: str = ",.0f") -> str:
    return "—" if value is None else format(value, fmt)


def _when(scale: str, db: str, r: dict[str, Any]) -> str:
    """When a column was measured, and which of its phases again later (`--only`)."""
    again = ", ".join(f"{p} again {v['at']}" for p, v in r.get("remeasured", {}).items())
    return f"{scale} {db} {r.get('measured_at', '?')}" + (f" ({again})" if again else "")


def markdown(results: dict[str, Any]) -> str:
    """bench/RESULTS.md from the merged results."""
    from bench.generate import parse_scale

    scales = sorted(results["scales"], key=parse_scale)
    cols = [(s, db) for s in scales for db in DATABASES if db in results["scales"][s]]
    head = "| | " + " | ".join(f"{s} {db}" for s, db in cols) + " |"
    rule = "|---|" + "---:|" * len(cols)

    def row(name: str, get: Callable[[dict[str, Any]], Any]) -> str:
        cells = []
        for s, db in cols:
            try:
                cells.append(get(results["scales"][s][db]))
            except (KeyError, TypeError, ZeroDivisionError):
                cells.append("—")
        return f"| {name} | " + " | ".join(cells) + " |"

    def pct(x: float) -> str:
        return f"{x:.1%}"

    def mark(ok: bool) -> str:
        return " ✅" if ok else " ❌"

    t = TARGETS
    m = results.get("machine", {})
    commands = sorted({results["scales"][s].get("command", "") for s in scales} - {""})
    lines = [
        "# Benchmark results",
        "",
        "Generated by `bench/run.py` (see `bench/README.md`); do not edit by hand. Reproduce with:",
        "",
        *[f"    {c}" for c in commands],
        "",
        f"Machine: {m.get('cpus')} CPUs, Python {m.get('python')}, SQLite {m.get('sqlite')}, "
        f"PostgreSQL {m.get('postgresql')}, DuckDB {m.get('duckdb')}. Measured: "
        + "; ".join(_when(s, db, results["scales"][s][db]) for s, db in cols)
        + ".",
        "",
        "## Figures",
        "",
        head,
        rule,
        row("rows in the base log", lambda r: _f(r["ingest"]["rows"])),
        row("ingest, Throughline write path (rows/s)", lambda r: _f(r["ingest"]["rows_per_s"])),
        row("ingest, raw limit (rows/s)", lambda r: _f(r["raw"]["rows_per_s"])),
        row(
            f"**ingest ÷ raw** (target ≥ {t['ingest_vs_raw']:.0%})",
            lambda r: (
                pct(r["ratios"]["ingest_vs_raw"])
                + mark(r["ratios"]["ingest_vs_raw"] >= t["ingest_vs_raw"])
            ),
        ),
        row("… bulk upsert alone ÷ raw", lambda r: pct(r["ratios"]["upsert_vs_raw"])),
        row(
            "… with the deferred case-fact refresh ÷ raw",
            lambda r: pct(r["ratios"]["ingest_with_refresh_vs_raw"]),
        ),
        row(
            "… share of that time in the fact refresh",
            lambda r: pct(r["ratios"]["ingest_refresh_share"]),
        ),
        row("re-ingest, all conflicts (rows/s)", lambda r: _f(r["reingest"]["rows_per_s"])),
        row("full rebuild: facts + every KPI (s)", lambda r: _f(r["rebuild"]["seconds"], ".1f")),
        row("… of which case facts (s)", lambda r: _f(r["rebuild"]["facts_seconds"], ".1f")),
        row("… case facts: read store / DuckDB / write facts (s)", _split),
        row("DuckDB, same KPIs from Parquet (s)", lambda r: _f(r["duckdb"]["seconds"], ".2f")),
        row(
            f"**rebuild ÷ DuckDB** (target ≤ {t['rebuild_vs_duckdb']:.0f}× at 1m)",
            lambda r: (
                f"{r['ratios']['rebuild_vs_duckdb']:.1f}×"
                + mark(r["ratios"]["rebuild_vs_duckdb"] <= t["rebuild_vs_duckdb"])
            ),
        ),
        row("KPI numbers agree with DuckDB", lambda r: "yes" if r["duckdb"]["agree"] else "**no**"),
        row("appended events (share of the log)", lambda r: pct(r["append"]["events_added_share"])),
        row(
            "incremental refresh after the append (s)",
            lambda r: _f(r["append"]["refresh_seconds"], ".2f"),
        ),
        row(
            f"**incremental ÷ full rebuild** (target ≤ {t['incremental_vs_rebuild']:.0%})",
            lambda r: (
                pct(r["ratios"]["incremental_vs_rebuild"])
                + mark(r["ratios"]["incremental_vs_rebuild"] <= t["incremental_vs_rebuild"])
            ),
        ),
        row(
            "SLO board evaluated and stored by the worker (s)",
            lambda r: _f(r["slo_board_stored"]["seconds"], ".2f"),
        ),
        *[
            row(
                f"page draw: {page} (s, cold)",
                lambda r, p=page: (
                    _f(r["pages"][p]["first_seconds"], ".2f")
                    + mark(r["pages"][p]["first_seconds"] < t["page_seconds"])
                ),
            )
            for page in (
                "overview",
                "invoice_cycle",
                "unbilled",
                "slos",
                "handoffs",
                "sync_errors",
                "case_trace",
                "collectors",
            )
        ],
        row("peak memory, ingest (MiB)", lambda r: _f(r["ingest_peak_mb"])),
        row(
            "… with the deferred case-fact refresh (MiB)",
            lambda r: _f(r.get("ingest_refresh_peak_mb")),
        ),
        row("peak memory, rebuild (MiB)", lambda r: _f(r["rebuild"]["peak_mb"])),
        row("peak memory, DuckDB (MiB)", lambda r: _f(r["duckdb"]["peak_mb"])),
        "",
    ]
    lines += _memory_growth(results)
    lines += _notes()
    return "\n".join(lines) + "\n"


def _split(r: dict[str, Any]) -> str:
    split = r["rebuild"].get("facts_split") or {}
    parts = [split.get(k) for k in ("read", "compute", "write")]
    return " / ".join(_f(v, ".1f") for v in parts) if split else "—"


def _memory_growth(results: dict[str, Any]) -> list[str]:
    s = results["scales"]
    if "100k" not in s or "1m" not in s:
        return ["Ingest memory growth 100k → 1m: not measured yet (needs the 1m run).", ""]
    out = []
    for db in DATABASES:
        if db in s["100k"] and db in s["1m"]:
            a = s["100k"][db]["ingest_peak_mb"]
            b = s["1m"][db]["ingest_peak_mb"]
            ok = b / a - 1 <= TARGETS["ingest_memory_growth"]
            out.append(
                f"Ingest peak memory 100k → 1m on {db}: {a:,.0f} → {b:,.0f} MiB "
                f"({b / a - 1:+.0%}) {'✅' if ok else '❌'}"
            )
    return [*out, ""]


def _notes() -> list[str]:
    notes = ROOT / "bench" / "NOTES.md"
    return [notes.read_text().rstrip(), ""] if notes.exists() else []


# --- command line -------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench.run", description=__doc__.splitlines()[0])
    p.add_argument("--scales", default="10k,100k", help="deals per run, e.g. 10k,100k,1m")
    p.add_argument("--databases", default=",".join(DATABASES), help="sqlite,postgresql")
    p.add_argument("--out", type=Path, default=OUT, help="where stores and Parquet files go")
    p.add_argument("--postgres-url", default=POSTGRES_URL)
    p.add_argument("--batch-rows", type=int, default=50_000, help="rows per collector batch")
    p.add_argument(
        "--reingest-share",
        type=float,
        default=0.1,
        help="share of the batches delivered a second time",
    )
    p.add_argument(
        "--markdown-only",
        action="store_true",
        help="rewrite bench/RESULTS.md from bench/results.json and stop",
    )
    p.add_argument(
        "--only",
        default="",
        help="measure only these phases again (e.g. pages,profile) on the stores "
        "an earlier run left, keeping its other figures",
    )
    p.add_argument("--phase", choices=PHASES + EXTRA_PHASES, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    from bench.generate import parse_scale

    opts = parser().parse_args(argv)
    opts.deals = [parse_scale(s) for s in opts.scales.split(",") if s.strip()]
    opts.dbs = [d.strip() for d in opts.databases.split(",") if d.strip()]
    opts.only = [p.strip() for p in opts.only.split(",") if p.strip()]
    if unknown := set(opts.only) - set(PHASES + EXTRA_PHASES):
        parser().error(f"unknown phases: {', '.join(sorted(unknown))}")
    if opts.markdown_only:
        RESULTS_MD.write_text(markdown(json.loads(RESULTS_JSON.read_text())))
        return 0
    opts.out.mkdir(parents=True, exist_ok=True)
    if opts.phase:
        result = PHASE_FUNCTIONS[opts.phase](opts.dbs[0], opts.deals[0], opts)
        print(json.dumps(result, default=str))
        return 0
    opts.command = "make bench SCALES=" + opts.scales
    run(opts)
    print(f"wrote {RESULTS_MD.relative_to(ROOT)} and {RESULTS_JSON.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

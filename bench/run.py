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

This module is the command line and the orchestration. The phases are in `bench/phases/`
(`ingest`: ingest, raw, append; `rebuild`: rebuild, duckdb; `page_draw`: pages; `profiling`:
profile), the stores in `bench/stores.py`, the timers and peak memory in `bench/measure.py`, the
ratios and `RESULTS.md` in `bench/results.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.phases.ingest import phase_append, phase_ingest, phase_raw
from bench.phases.page_draw import phase_pages
from bench.phases.profiling import phase_profile
from bench.phases.rebuild import phase_duckdb, phase_rebuild
from bench.results import RESULTS_JSON, RESULTS_MD, machine, markdown, ratios
from bench.stores import DATABASES, OUT, POSTGRES_URL, ROOT, open_store

PHASES = ("ingest", "raw", "rebuild", "duckdb", "append", "pages")
EXTRA_PHASES = ("profile",)  # at the smallest scale only
PHASE_FUNCTIONS: dict[str, Callable[[str, int, argparse.Namespace], dict[str, Any]]] = {
    "ingest": phase_ingest,
    "raw": phase_raw,
    "rebuild": phase_rebuild,
    "duckdb": phase_duckdb,
    "append": phase_append,
    "pages": phase_pages,
    "profile": phase_profile,
}


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

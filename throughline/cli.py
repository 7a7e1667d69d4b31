"""The `throughline` command: one entry point for the demo, the dashboard, the worker and ops.

Exit status: 0 done, 1 the work failed (a collector run, a breached SLO, a refused import),
2 the configuration is wrong: a missing or misspelt setting, secret, option or file, said in
one sentence that names it (never a traceback). Heavy modules (pandas, SQLAlchemy's models,
Streamlit, …) are imported by the subcommand that uses them, so `--help` answers at once.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from throughline.preflight import (
    ConfigurationError,
    check_environment,
    open_store,
    store_engine,
    unusable_database,
)

if TYPE_CHECKING:
    from foundation.settings import Settings

Handler = Callable[[argparse.Namespace, "Settings"], int]


def _db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.exc import DBAPIError

    from foundation.urls import mask_url_password
    from store.migrate import current_revision, upgrade

    engine = store_engine(settings)
    try:
        before = upgrade(engine, args.revision)
    except DBAPIError as exc:
        engine.dispose()
        raise unusable_database(settings, exc) from None
    after = current_revision(engine)
    where = mask_url_password(settings.database_url)
    if before == after:
        print(f"{where}: already at revision {after}")
    else:
        print(f"{where}: upgraded from {before or 'an empty database'} to {after}")
    engine.dispose()
    return 0


def _config(args: argparse.Namespace, settings: Settings) -> int:
    print(json.dumps(settings.masked(), indent=2))
    return 0


def _collect(args: argparse.Namespace, settings: Settings) -> int:
    from throughline.preflight import collectors_to_run

    since = _parse_since(args.since, "--since") if getattr(args, "since", None) else None
    names = collectors_to_run(settings, args.name)
    if not names:
        print(
            f"throughline {args.command}: no collector is configured, nothing to do (set a "
            "collector's THROUGHLINE_COLLECTORS__<NAME>__BASE_URL and secrets; see the "
            "README's Connectors)",
            file=sys.stderr,
        )
        return 0
    from collectors.registry import build_collector
    from collectors.runner import run_collector
    from metrics.facts import refresh_pending

    engine = open_store(settings)
    failed = 0
    for name in names:
        report = run_collector(
            engine,
            build_collector(name, settings),
            since=since,
            kind="backfill" if since else "collect",
            refresh=refresh_pending,
        )
        print(
            f"{name}: {report.status}; {report.records_read} records read, "
            f"{report.rows_written} rows written, {report.quarantined} quarantined"
            + (f"; {report.error}" if report.error else "")
        )
        failed += report.status in {"failed", "partial"}
    engine.dispose()
    return 1 if failed else 0


def _parse_since(value: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigurationError(
            f"{option} {value!r:.60} is not an ISO date or time (e.g. 2026-03-31 or "
            "2026-03-31T12:00+00:00)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    import logging

    from throughline.preflight import collectors_to_run

    collectors_to_run(settings, None)
    from throughline.worker import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry raw URLs
    logging.getLogger("alembic").setLevel(logging.WARNING)  # a line per plugin at every start
    open_store(settings).dispose()
    return run_worker(settings)


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from throughline.preflight import collectors_to_run

    collectors_to_run(settings, None)  # the worker runs the configured connectors too
    from throughline.demo import run_demo

    return run_demo(settings, live_speed=args.speed, open_browser=not args.no_browser)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from foundation.rundir import claim, release
    from throughline.processes import run_forwarding_signals, streamlit_command
    from throughline.signin import refusal, write_streamlit_secrets

    reason = refusal(settings)
    if reason:
        raise ConfigurationError(reason)
    open_store(settings).dispose()
    private = claim("serve")  # removes what a killed earlier `serve` left behind
    try:
        secrets_file = (
            write_streamlit_secrets(settings, private) if settings.auth.configured else None
        )
        command = streamlit_command(settings.dashboard_port, secrets_file=secrets_file)
        return run_forwarding_signals(command)
    finally:
        release(private)


def _export(args: argparse.Namespace, settings: Settings) -> int:
    from store.clock import reporting_time
    from store.ocel_export import write_ocel

    engine = open_store(settings)
    try:
        as_of = reporting_time(engine)
        if args.output == "-":
            objects, events = write_ocel(engine, sys.stdout, as_of=as_of)
        else:
            with open(args.output, "w", encoding="utf-8") as out:
                objects, events = write_ocel(engine, out, as_of=as_of)
    finally:
        engine.dispose()
    where = "standard output" if args.output == "-" else args.output
    print(f"OCEL 2.0: {objects} objects and {events} events written to {where}", file=sys.stderr)
    return 0


def _import(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from throughline.importers import (
        ImportFailed,
        ImportRejected,
        import_events,
        import_ocel,
        load_event_log_mapping,
        load_ocel_mapping,
    )

    path, mapping = Path(args.path), Path(args.mapping) if args.mapping else None
    progress = False if args.no_progress else None
    calendars = [e.code for e in settings.legal_entities]
    engine = open_store(settings)
    try:
        if args.import_format == "ocel":
            mapped = load_ocel_mapping(mapping)
            report = import_ocel(engine, path, mapped, calendars=calendars, progress=progress)
        else:
            assert mapping is not None  # required by the parser
            flat = load_event_log_mapping(mapping)
            report = import_events(engine, path, flat, calendars=calendars, progress=progress)
    except (ImportFailed, OSError) as exc:
        if isinstance(exc, ImportRejected):
            print(f"{path}: {exc.report.summary()} (run {exc.report.run_id})")
        print(f"throughline import {args.import_format}: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"{path}: {report.summary()} (run {report.run_id})")
    if report.quarantined:
        print(report.reasons_text())
    return 0


def _fx_import(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from metrics.fx import FxCsvError, import_fx_csv

    engine = open_store(settings)
    try:
        count = import_fx_csv(engine, Path(args.path))
    except (FxCsvError, OSError) as exc:
        print(f"throughline fx import: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"{count} exchange rates imported from {args.path}")
    return 0


def _rebuild_facts(args: argparse.Namespace, settings: Settings) -> int:
    from metrics.facts import rebuild_case_facts

    engine = open_store(settings)
    report = rebuild_case_facts(engine)
    engine.dispose()
    print(f"case facts rebuilt: {report.rows} rows in {report.seconds:.1f}s")
    return 0


def _kpis(args: argparse.Namespace, settings: Settings) -> int:
    from metrics.report import kpi_report, text_report
    from store.clock import reporting_time

    as_of = _parse_since(args.as_of, "--as-of") if args.as_of else None
    engine = open_store(settings)
    try:
        report = kpi_report(
            engine,
            as_of or reporting_time(engine),
            reporting_currency=settings.reporting_currency,
            countries={e.code: e.country for e in settings.legal_entities},
        )
    finally:
        engine.dispose()
    print(json.dumps(report, indent=2) if args.json else text_report(report))
    return 0


def _slo_check(args: argparse.Namespace, settings: Settings) -> int:
    from collectors.registry import collector_sources
    from metrics.slo.adapter import freshness
    from metrics.slo.service import slo_board
    from metrics.slo.spec import SloConfigError
    from throughline.preflight import collectors_to_run

    as_of = _parse_since(args.as_of, "--as-of") if args.as_of else datetime.now(UTC)
    collectors_to_run(settings, None)
    collectors = collector_sources(settings)  # the configured ones: only they can pause an SLO
    engine = open_store(settings)
    try:
        board = slo_board(engine, settings, as_of, collectors)
        sources = {f.collector: f for f in freshness(engine, collectors)}
    except SloConfigError as exc:
        raise ConfigurationError(str(exc)) from None
    finally:
        engine.dispose()
    overall = board[board["scope"] == "all"] if len(board) else board
    pausing: set[str] = set()
    for row in overall.itertuples():
        attained = (
            "no data"
            if row.attainment != row.attainment or row.attainment is None
            else (f"{row.attainment:.1%}")
        )
        line = (
            f"{row.status:<9} {row.slo:<26} {attained:>8} of {row.target:.0%} target, "
            f"budget left {row.budget_remaining:.0%} ({row.window})"
        )
        if row.paused_by:
            line += f"; paused by {row.paused_by}"
            pausing.update(str(row.paused_by).split(", "))
        print(line)
    for name in sorted(pausing & set(sources)):
        source = sources[name]
        last = source.last_success
        since = f"last succeeded {last:%Y-%m-%d %H:%M} UTC" if last else "has never succeeded"
        minutes = int(source.stale_after.total_seconds() // 60)
        after = f"{minutes} min" if minutes < 120 else f"{minutes // 60} h"
        print(
            f"collector {name} {since}, stale after {after}: the SLOs it feeds are paused"
            " until it runs again"
        )
    breached = int((overall["status"] == "breached").sum()) if len(overall) else 0
    paused = int((overall["status"] == "paused").sum()) if len(overall) else 0
    print(
        f"{len(overall)} SLOs as of {as_of:%Y-%m-%d %H:%M} UTC; {breached} breached"
        + (f", {paused} paused" if paused else "")
    )
    return 1 if breached else 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="throughline", description="See where quote-to-cash handoffs stall."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_: str, handler: Handler) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(handler=handler)
        return p

    demo = add("demo", "Run the demo firm end to end: collect it and open the dashboard.", _demo)
    demo.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="live mode: simulated seconds per real second (default 1: real time)",
    )
    demo.add_argument("--no-browser", action="store_true", help="do not open a browser")
    add("serve", "Serve the dashboard on the configured database.", _serve)
    add("worker", "Run the collectors on their schedules until SIGTERM.", _worker)
    collect = add("collect", "Run collectors once.", _collect)
    collect.add_argument("name", nargs="?", help="one collector (default: all enabled)")
    backfill = add("backfill", "Re-read history from a date (all collectors, or one).", _collect)
    backfill.add_argument("name", nargs="?", help="one collector (default: all enabled)")
    backfill.add_argument("--since", required=True, help="ISO date, e.g. 2025-01-01")
    export = add("export", "Export the event log (OCEL 2.0 JSON).", _export)
    export.add_argument("format", choices=["ocel"])
    export.add_argument(
        "-o", "--output", default="-", help="file to write (default: standard output)"
    )
    imports = sub.add_parser(
        "import", help="Import history from a file.", description="Import history from a file."
    )
    import_sub = imports.add_subparsers(dest="import_format", required=True, metavar="FORMAT")
    ocel = import_sub.add_parser("ocel", help="An OCEL 2.0 log (JSON or SQLite).")
    ocel.add_argument("--mapping", help="YAML mapping of names (default: Throughline's own export)")
    events = import_sub.add_parser(
        "events", help="A flat event log (CSV or Parquet), one row per event."
    )
    events.add_argument("--mapping", required=True, help="YAML column and activity mapping")
    for p in (ocel, events):
        p.add_argument("path", help="the file to import")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
        p.set_defaults(handler=_import)
    add("config", "Print the effective settings (secrets masked).", _config)
    kpis = add("kpis", "Print every KPI of the registry as of a date (JSON with --json).", _kpis)
    kpis.add_argument(
        "--as-of", help="ISO date (00:00 UTC) or time to report at (default: the sources' clock)"
    )
    kpis.add_argument("--json", action="store_true", help="machine-readable JSON")
    slo = sub.add_parser("slo", help="Service-level objectives.", description="SLOs.")
    slo_sub = slo.add_subparsers(dest="slo_command", required=True, metavar="ACTION")
    check = slo_sub.add_parser(
        "check", help="Print every SLO's status; exit 1 when one is breached."
    )
    check.add_argument("--as-of", help="ISO time to evaluate at (default: now)")
    check.set_defaults(handler=_slo_check)

    db = sub.add_parser("db", help="Database schema.", description="Database schema.")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = db_sub.add_parser("upgrade", help="Apply migrations (creates the schema).")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(handler=_db_upgrade)
    rebuild = db_sub.add_parser(
        "rebuild-facts", help="Recompute every case fact and rollup from the event log."
    )
    rebuild.set_defaults(handler=_rebuild_facts)

    fx = sub.add_parser("fx", help="Exchange rates.", description="Exchange rates.")
    fx_sub = fx.add_subparsers(dest="fx_command", required=True, metavar="ACTION")
    fx_import = fx_sub.add_parser(
        "import", help="Import daily rates from a CSV file with columns day,base,quote,rate."
    )
    fx_import.add_argument("path", help="CSV file; one base buys `rate` units of quote")
    fx_import.set_defaults(handler=_fx_import)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    args = build_parser().parse_args(argv)
    from foundation.settings import explain_settings_error, get_settings

    command = " ".join(
        str(v) for v in (args.command, *(getattr(args, k, None) for k in _ACTIONS)) if v
    )
    try:
        check_environment()
        settings = get_settings()
    except (ValueError, RecursionError) as exc:
        print(f"throughline: configuration error: {explain_settings_error(exc)}", file=sys.stderr)
        return CONFIGURATION_ERROR
    try:
        handler: Handler = args.handler
        return handler(args, settings)
    except ConfigurationError as exc:
        print(f"throughline {command}: {exc}", file=sys.stderr)
        return CONFIGURATION_ERROR
    except KeyboardInterrupt:  # Ctrl-C: stopped on request, not a crash
        print(file=sys.stderr)
        return INTERRUPTED


_ACTIONS = ("import_format", "slo_command", "db_command", "fx_command")
CONFIGURATION_ERROR = 2
INTERRUPTED = 130  # the shell's status for a command stopped by SIGINT


if __name__ == "__main__":
    raise SystemExit(main())

"""The commands that bring data in or take it out: `collect` and `backfill` (the collectors
once), `import` (an OCEL 2.0 or flat event log), `fx import` (exchange rates from CSV) and
`export` (the event log as OCEL 2.0)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from throughline.cli.options import parse_time
from throughline.preflight import collectors_to_run, opened_store

if TYPE_CHECKING:
    from foundation.settings import Settings


def collect(args: argparse.Namespace, settings: Settings) -> int:
    """`throughline collect [name]` and `throughline backfill [name] --since …`."""
    since = parse_time(args.since, "--since") if getattr(args, "since", None) else None
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

    failed = 0
    with opened_store(settings) as engine:
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
    return 1 if failed else 0


def import_history(args: argparse.Namespace, settings: Settings) -> int:
    """`throughline import ocel|events PATH [--mapping …]`."""
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
    with opened_store(settings) as engine:
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
    print(f"{path}: {report.summary()} (run {report.run_id})")
    if report.quarantined:
        print(report.reasons_text())
    return 0


def fx_import(args: argparse.Namespace, settings: Settings) -> int:
    """`throughline fx import PATH`: daily rates from a CSV file."""
    from pathlib import Path

    from metrics.fx import FxCsvError, import_fx_csv

    with opened_store(settings) as engine:
        try:
            count = import_fx_csv(engine, Path(args.path))
        except (FxCsvError, OSError) as exc:
            print(f"throughline fx import: {exc}", file=sys.stderr)
            return 1
    print(f"{count} exchange rates imported from {args.path}")
    return 0


def export(args: argparse.Namespace, settings: Settings) -> int:
    """`throughline export ocel [-o FILE]`: the event log as OCEL 2.0 JSON."""
    from store.clock import reporting_time
    from store.ocel_export import write_ocel

    with opened_store(settings) as engine:
        as_of = reporting_time(engine)
        if args.output == "-":
            objects, events = write_ocel(engine, sys.stdout, as_of=as_of)
        else:
            with open(args.output, "w", encoding="utf-8") as out:
                objects, events = write_ocel(engine, out, as_of=as_of)
    where = "standard output" if args.output == "-" else args.output
    print(f"OCEL 2.0: {objects} objects and {events} events written to {where}", file=sys.stderr)
    return 0

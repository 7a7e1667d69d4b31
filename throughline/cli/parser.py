"""The grammar of the `throughline` command: every subcommand, its options and its handler."""

from __future__ import annotations

import argparse

from throughline.cli import admin, data, report, run
from throughline.cli.options import Handler

#: The attributes naming a subcommand's action (`slo check`, `db upgrade`, …), for messages.
ACTIONS = ("import_format", "slo_command", "db_command", "fx_command")


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

    demo = add("demo", "Run the demo firm end to end: collect it and open the dashboard.", run.demo)
    demo.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="live mode: simulated seconds per real second (default 1: real time)",
    )
    demo.add_argument("--no-browser", action="store_true", help="do not open a browser")
    add("serve", "Serve the dashboard on the configured database.", run.serve)
    add("worker", "Run the collectors on their schedules until SIGTERM.", run.worker)
    collect = add("collect", "Run collectors once.", data.collect)
    collect.add_argument("name", nargs="?", help="one collector (default: all enabled)")
    backfill = add(
        "backfill", "Re-read history from a date (all collectors, or one).", data.collect
    )
    backfill.add_argument("name", nargs="?", help="one collector (default: all enabled)")
    backfill.add_argument("--since", required=True, help="ISO date, e.g. 2025-01-01")
    export = add("export", "Export the event log (OCEL 2.0 JSON).", data.export)
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
        p.set_defaults(handler=data.import_history)
    add("config", "Print the effective settings (secrets masked).", admin.show_config)
    kpis = add(
        "kpis", "Print every KPI of the registry as of a date (JSON with --json).", report.kpis
    )
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
    check.set_defaults(handler=report.slo_check)

    db = sub.add_parser("db", help="Database schema.", description="Database schema.")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = db_sub.add_parser("upgrade", help="Apply migrations (creates the schema).")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(handler=admin.db_upgrade)
    rebuild = db_sub.add_parser(
        "rebuild-facts", help="Recompute every case fact and rollup from the event log."
    )
    rebuild.set_defaults(handler=admin.rebuild_facts)

    fx = sub.add_parser("fx", help="Exchange rates.", description="Exchange rates.")
    fx_sub = fx.add_subparsers(dest="fx_command", required=True, metavar="ACTION")
    fx_import = fx_sub.add_parser(
        "import", help="Import daily rates from a CSV file with columns day,base,quote,rate."
    )
    fx_import.add_argument("path", help="CSV file; one base buys `rate` units of quote")
    fx_import.set_defaults(handler=data.fx_import)
    return parser

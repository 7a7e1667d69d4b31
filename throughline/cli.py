"""The `throughline` command: one entry point for the demo, the dashboard, the worker and ops.

Subcommands that a later part of the product provides say so plainly and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from throughline.settings import Settings, get_settings

Handler = Callable[[argparse.Namespace, Settings], int]
NOT_YET = 2


def _db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from metrics.db import make_engine
    from metrics.migrate import current_revision, upgrade
    from throughline.settings import mask_url_password

    engine = make_engine(settings.database_url)
    before = current_revision(engine)
    upgrade(engine, args.revision)
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


def _not_yet(feature: str) -> Handler:
    def handler(args: argparse.Namespace, settings: Settings) -> int:
        print(f"throughline {args.command}: {feature} is not built yet.", file=sys.stderr)
        return NOT_YET

    return handler


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

    add("demo", "Run the demo firm end to end: collect it and open the dashboard.",
        _not_yet("the demo estate"))  # fmt: skip
    add("serve", "Serve the dashboard on the configured database.", _not_yet("the dashboard"))
    add("worker", "Run the collectors on their schedules.", _not_yet("the collector worker"))
    collect = add("collect", "Run collectors once.", _not_yet("collection"))
    collect.add_argument("name", nargs="?", help="one collector (default: all)")
    backfill = add("backfill", "Re-read history from a date.", _not_yet("backfill"))
    backfill.add_argument("--since", required=True, help="ISO date, e.g. 2025-01-01")
    export = add("export", "Export the event log.", _not_yet("export"))
    export.add_argument("format", choices=["ocel"])
    add("config", "Print the effective settings (secrets masked).", _config)

    db = sub.add_parser("db", help="Database schema.", description="Database schema.")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = db_sub.add_parser("upgrade", help="Apply migrations (creates the schema).")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(handler=_db_upgrade)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    args = build_parser().parse_args(argv)
    try:
        settings = get_settings()
    except ValueError as exc:
        print(f"throughline: configuration error: {exc}", file=sys.stderr)
        return 2
    handler: Handler = args.handler
    return handler(args, settings)


if __name__ == "__main__":
    raise SystemExit(main())

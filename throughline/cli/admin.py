"""The store's upkeep: `db upgrade` (apply migrations), `db rebuild-facts` (recompute every case
fact from the event log) and `config` (the effective settings, secrets masked)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from throughline.preflight import database_errors, opened_store

if TYPE_CHECKING:
    from foundation.settings import Settings


def db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    """`throughline db upgrade [revision]`."""
    from foundation.urls import mask_url_password
    from store.migrate import current_revision, upgrade

    with opened_store(settings, migrate=False) as engine:
        with database_errors(settings):
            before = upgrade(engine, args.revision)
        after = current_revision(engine)
    where = mask_url_password(settings.database_url)
    if before == after:
        print(f"{where}: already at revision {after}")
    else:
        print(f"{where}: upgraded from {before or 'an empty database'} to {after}")
    return 0


def rebuild_facts(args: argparse.Namespace, settings: Settings) -> int:
    """`throughline db rebuild-facts`."""
    from metrics.facts import rebuild_case_facts

    with opened_store(settings) as engine:
        report = rebuild_case_facts(engine)
    print(f"case facts rebuilt: {report.rows} rows in {report.seconds:.1f}s")
    return 0


def show_config(args: argparse.Namespace, settings: Settings) -> int:
    """`throughline config`."""
    print(json.dumps(settings.masked(), indent=2))
    return 0

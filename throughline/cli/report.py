"""The commands that report on the store: `kpis` (every KPI of the registry) and `slo check`
(every SLO's status; exit 1 when one is breached)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from throughline.cli.options import parse_time
from throughline.preflight import ConfigurationError, collectors_to_run, opened_store

if TYPE_CHECKING:
    from foundation.settings import Settings


def kpis(args: argparse.Namespace, settings: Settings) -> int:
    """`throughline kpis [--as-of …] [--json]`."""
    from metrics.report import kpi_report, text_report
    from store.clock import reporting_time

    as_of = parse_time(args.as_of, "--as-of") if args.as_of else None
    with opened_store(settings) as engine:
        report = kpi_report(
            engine,
            as_of or reporting_time(engine),
            reporting_currency=settings.reporting_currency,
            countries={e.code: e.country for e in settings.legal_entities},
        )
    print(json.dumps(report, indent=2) if args.json else text_report(report))
    return 0


def slo_check(args: argparse.Namespace, settings: Settings) -> int:
    """`throughline slo check [--as-of …]`."""
    from collectors.registry import collector_sources
    from metrics.slo.adapter import freshness
    from metrics.slo.service import slo_board
    from metrics.slo.spec import SloConfigError

    as_of = parse_time(args.as_of, "--as-of") if args.as_of else datetime.now(UTC)
    collectors_to_run(settings, None)
    collectors = collector_sources(settings)  # the configured ones: only they can pause an SLO
    with opened_store(settings) as engine:
        try:
            board = slo_board(engine, settings, as_of, collectors)
            sources = {f.collector: f for f in freshness(engine, collectors)}
        except SloConfigError as exc:
            raise ConfigurationError(str(exc)) from None
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

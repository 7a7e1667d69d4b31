"""The SLOs of a running Throughline: load, evaluate on the store, tabulate, alert.

What the SLO page, `throughline slo check` and the worker call. `collectors` maps each
collector's name to its (source system, interval in seconds) — the caller knows its registry.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from foundation.settings import Settings
from metrics.registry import KPIS
from metrics.slo.adapter import Context, feeds, freshness, slo_inputs
from metrics.slo.alerts import Transition
from metrics.slo.evaluate import EvaluationRun, evaluate_all, history
from metrics.slo.inputs import SloInputs
from metrics.slo.notify import WebhookNotifier, WebhookTarget, process
from metrics.slo.spec import Slo, load_default_slos, load_slos
from metrics.slo.sql_store import SqlAlertStore
from metrics.slo.stored_board import board_key, load_board, save_board

Collectors = Mapping[str, tuple[str, int]]
KPI_NAMES = frozenset(k.name for k in KPIS)
HISTORY_WEEKS = 12
HISTORY_COLUMNS = ["period", "attainment", "budget_consumed", "met"]


def configured_slos(settings: Settings) -> list[Slo]:
    """The SLOs of `settings.slo_file`, else the shipped defaults (raises `SloConfigError`)."""
    if settings.slo_file:
        return load_slos(Path(settings.slo_file), kpis=KPI_NAMES)
    return load_default_slos(kpis=KPI_NAMES)


def context(settings: Settings) -> Context:
    """Entity countries and the reporting currency from the settings."""
    countries = {e.code: e.country for e in settings.legal_entities}
    return Context(countries, settings.reporting_currency)


def window_label(slo: Slo) -> str:
    """`28 days rolling` or `calendar month`."""
    span = slo.window.span
    return f"{span.days} days rolling" if span is not None else "calendar month"


def evaluate(
    engine: Engine, settings: Settings, as_of: datetime, collectors: Collectors
) -> EvaluationRun:
    """Every configured SLO evaluated on the store at `as_of`."""
    slos = configured_slos(settings)
    ctx = context(settings)
    return _evaluate_on(engine, ctx, slos, slo_inputs(engine, slos, as_of, ctx), as_of, collectors)


def _evaluate_on(
    engine: Engine,
    ctx: Context,
    slos: list[Slo],
    inputs: Mapping[str, SloInputs],
    as_of: datetime,
    collectors: Collectors,
) -> EvaluationRun:
    return evaluate_all(
        slos,
        inputs,
        as_of=as_of,
        freshness=freshness(engine, collectors),
        feeds=feeds(slos, collectors),
        calendars=ctx.calendar,
    )


def board_rows(run: EvaluationRun) -> list[dict[str, Any]]:
    """One row per SLO and scope (overall, then groups), as the evaluation ordered them."""
    rows = []
    for report in run.reports:
        slo = report.slo
        for scope in (report.overall, *report.groups):
            fast = max((b.long_rate or 0.0 for b in scope.burns), default=0.0)
            short = max((b.short_rate or 0.0 for b in scope.burns), default=0.0)
            budget = (
                scope.days
                if scope.days is not None
                and scope.days.remaining_fraction < (scope.cases.remaining_fraction)
                else scope.cases
            )
            rows.append(
                {
                    "slo": slo.name,
                    "display_name": slo.display_name,
                    "kpi": slo.kpi,
                    "scope": scope.label,
                    "target": slo.target,
                    "window": window_label(slo),
                    "status": report.status if scope is report.overall else scope.status,
                    "attainment": scope.attainment.sli,
                    "cases": scope.attainment.count,
                    "budget_remaining": budget.remaining_fraction,
                    "budget_left": budget.remaining,
                    "budget_unit": "cases" if budget is scope.cases else scope.days.unit,  # type: ignore[union-attr]
                    "burn_long": fast,
                    "burn_short": short,
                    "paused_by": ", ".join(report.paused_by),
                }
            )
    return rows


def board_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The board's rows as a frame, worst budget first."""
    board = pd.DataFrame(rows)
    return board.sort_values("budget_remaining", kind="stable") if len(board) else board


def slo_board(
    engine: Engine, settings: Settings, as_of: datetime, collectors: Collectors
) -> pd.DataFrame:
    """The SLO board evaluated now: one row per SLO and scope, worst budget first."""
    return board_frame(board_rows(evaluate(engine, settings, as_of, collectors)))


def history_rows(
    slo: Slo, inputs: SloInputs | None, as_of: datetime, ctx: Context, weeks: int = HISTORY_WEEKS
) -> list[dict[str, Any]]:
    """Weekly attainment and budget consumed of `slo` over the `weeks` weeks before `as_of`,
    each week's start in UTC ISO form (the rows are stored as JSON)."""
    if inputs is None:
        return []
    periods = history(
        slo,
        inputs.occurrences,
        inputs.open_items,
        start=as_of - timedelta(weeks=weeks),
        end=as_of,
        period="week",
        calendars=ctx.calendar,
    )
    return [
        {
            "period": p.start.astimezone(UTC).isoformat(),
            "attainment": p.attainment.sli,
            "budget_consumed": 1 - p.cases.remaining_fraction,
            "met": p.met,
        }
        for p in periods
    ]


def history_frame(slo: Slo, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """`history_rows` as a frame, each week's start in the SLO's calendar zone."""
    frame = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    zone = slo.window.tz
    return frame.assign(
        period=[datetime.fromisoformat(v).astimezone(zone) for v in frame["period"]]
    )


def burn_history(
    engine: Engine,
    settings: Settings,
    slo_name: str,
    as_of: datetime,
    collectors: Collectors,
    *,
    weeks: int = HISTORY_WEEKS,
) -> pd.DataFrame:
    """Weekly attainment and budget consumed of one SLO over the last `weeks` weeks."""
    slo = next(s for s in configured_slos(settings) if s.name == slo_name)
    ctx = context(settings)
    inputs = slo_inputs(engine, [slo], as_of, ctx).get(slo.name)
    return history_frame(slo, history_rows(slo, inputs, as_of, ctx, weeks))


@dataclass(frozen=True)
class SloViews:
    """What the pages show of the SLOs at one reporting clock."""

    board: pd.DataFrame
    histories: dict[str, pd.DataFrame]  # the weekly burn history of each SLO, by name


def current_views(
    engine: Engine,
    settings: Settings,
    as_of: datetime,
    collectors: Collectors,
    max_age: timedelta | None = None,
) -> SloViews:
    """The SLO board and each SLO's weekly history at `as_of`, as stored
    (`metrics.slo.stored_board`) when still current (or evaluated within `max_age`), else
    evaluated now, on one read of each SLO's inputs, and stored for the next draw."""
    slos = configured_slos(settings)
    ctx = context(settings)
    key = board_key(engine, slos, ctx, collectors, as_of)
    stored = load_board(engine, key, max_age)
    if stored is None:
        started = time.perf_counter()
        inputs = slo_inputs(engine, slos, as_of, ctx)
        run = _evaluate_on(engine, ctx, slos, inputs, as_of, collectors)
        stored = {
            "board": board_rows(run),
            "histories": {s.name: history_rows(s, inputs.get(s.name), as_of, ctx) for s in slos},
        }
        save_board(engine, key, stored, time.perf_counter() - started)
    return SloViews(
        board_frame(stored["board"]),
        {s.name: history_frame(s, stored["histories"].get(s.name, [])) for s in slos},
    )


def alert_history(engine: Engine, limit: int = 200) -> pd.DataFrame:
    """Alert episodes, newest first."""
    rows = [
        {
            "opened_at": e.opened_at,
            "resolved_at": e.resolved_at,
            "key": e.key,
            "severity": e.severity,
            "slo": e.opened.slo or e.opened.collector,
            "state": "firing" if e.is_open else "resolved",
        }
        for e in SqlAlertStore(engine).history(limit)
    ]
    return pd.DataFrame(
        rows, columns=["opened_at", "resolved_at", "key", "severity", "slo", "state"]
    )


def evaluate_and_notify(
    engine: Engine,
    settings: Settings,
    as_of: datetime,
    collectors: Collectors,
    notifier: WebhookNotifier,
) -> list[Transition]:
    """The worker's alert job: evaluate, open/resolve episodes, send due notifications."""
    run = evaluate(engine, settings, as_of, collectors)
    transitions, _report = process(run, SqlAlertStore(engine), notifier)
    return transitions


def webhook_targets(settings: Settings) -> list[WebhookTarget]:
    """Configured webhook targets; each URL comes from the secret `webhook_<name>`."""
    targets = []
    for name, payload_format in sorted(settings.alert_webhooks.items()):
        url = settings.secrets.get(f"webhook_{name}")
        if url is None:
            raise ValueError(
                f"alert webhook {name!r} has no URL: set "
                f"THROUGHLINE_SECRETS__WEBHOOK_{name.upper()}"
            )
        targets.append(WebhookTarget(name, url.get_secret_value(), payload_format))
    return targets

"""The SLOs of a running Throughline: load, evaluate on the store, tabulate, alert.

What the SLO page, `throughline slo check` and the worker call. `collectors` maps each
collector's name to its (source system, interval in seconds) — the caller knows its registry.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from metrics.registry import KPIS
from metrics.slo.adapter import Context, feeds, freshness, slo_inputs
from metrics.slo.alerts import Transition
from metrics.slo.evaluate import EvaluationRun, evaluate_all, history
from metrics.slo.notify import WebhookNotifier, WebhookTarget, process
from metrics.slo.spec import Slo, load_default_slos, load_slos
from metrics.slo.sql_store import SqlAlertStore
from metrics.slo.stored_board import board_key, load_board, save_board
from throughline.settings import Settings

Collectors = Mapping[str, tuple[str, int]]
KPI_NAMES = frozenset(k.name for k in KPIS)


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
    return evaluate_all(
        slos, slo_inputs(engine, slos, as_of, ctx), as_of=as_of,
        freshness=freshness(engine, collectors), feeds=feeds(slos, collectors),
        calendars=ctx.calendar,
    )  # fmt: skip


def board_rows(run: EvaluationRun) -> list[dict[str, Any]]:
    """One row per SLO and scope (overall, then groups), as the evaluation ordered them."""
    rows = []
    for report in run.reports:
        slo = report.slo
        for scope in (report.overall, *report.groups):
            fast = max((b.long_rate or 0.0 for b in scope.burns), default=0.0)
            short = max((b.short_rate or 0.0 for b in scope.burns), default=0.0)
            budget = scope.days if scope.days is not None and scope.days.remaining_fraction < (
                scope.cases.remaining_fraction) else scope.cases  # fmt: skip
            rows.append({
                "slo": slo.name, "display_name": slo.display_name, "kpi": slo.kpi,
                "scope": scope.label, "target": slo.target, "window": window_label(slo),
                "status": report.status if scope is report.overall else scope.status,
                "attainment": scope.attainment.sli, "cases": scope.attainment.count,
                "budget_remaining": budget.remaining_fraction, "budget_left": budget.remaining,
                "budget_unit": "cases" if budget is scope.cases else scope.days.unit,  # type: ignore[union-attr]
                "burn_long": fast, "burn_short": short,
                "paused_by": ", ".join(report.paused_by),
            })  # fmt: skip
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


def current_board(
    engine: Engine, settings: Settings, as_of: datetime, collectors: Collectors
) -> pd.DataFrame:
    """The SLO board at `as_of` as stored (`metrics.slo.stored_board`) when it is still current,
    else evaluated now and stored for the next draw."""
    slos = configured_slos(settings)
    key = board_key(engine, slos, context(settings), collectors, as_of)
    rows = load_board(engine, key)
    if rows is None:
        started = time.perf_counter()
        rows = board_rows(evaluate(engine, settings, as_of, collectors))
        save_board(engine, key, rows, time.perf_counter() - started)
    return board_frame(rows)


def burn_history(
    engine: Engine, settings: Settings, slo_name: str, as_of: datetime, collectors: Collectors,
    *, weeks: int = 12,
) -> pd.DataFrame:  # fmt: skip
    """Weekly attainment and budget consumed of one SLO over the last `weeks` weeks."""
    slo = next(s for s in configured_slos(settings) if s.name == slo_name)
    ctx = context(settings)
    start = as_of - timedelta(weeks=weeks)
    inputs = slo_inputs(engine, [slo], as_of, ctx).get(slo.name)
    if inputs is None:
        return pd.DataFrame(columns=["period", "attainment", "budget_consumed", "met"])
    periods = history(
        slo, inputs.occurrences, inputs.open_items, start=start, end=as_of, period="week",
        calendars=ctx.calendar,
    )  # fmt: skip
    return pd.DataFrame(
        [{"period": p.start, "attainment": p.attainment.sli,
          "budget_consumed": 1 - p.cases.remaining_fraction, "met": p.met} for p in periods]
    )  # fmt: skip


def alert_history(engine: Engine, limit: int = 200) -> pd.DataFrame:
    """Alert episodes, newest first."""
    rows = [
        {"opened_at": e.opened_at, "resolved_at": e.resolved_at, "key": e.key,
         "severity": e.severity, "slo": e.opened.slo or e.opened.collector,
         "state": "firing" if e.is_open else "resolved"}
        for e in SqlAlertStore(engine).history(limit)
    ]  # fmt: skip
    return pd.DataFrame(
        rows, columns=["opened_at", "resolved_at", "key", "severity", "slo", "state"]
    )


def evaluate_and_notify(
    engine: Engine, settings: Settings, as_of: datetime, collectors: Collectors,
    notifier: WebhookNotifier,
) -> list[Transition]:  # fmt: skip
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

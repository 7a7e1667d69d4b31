"""SLOs, error budgets, burn-rate alerts and notifications (docs/architecture.md, "SLOs").

Modules, in the order data flows through them:

- `metrics.slo.spec` — SLOs in YAML (a strict subset of OpenSLO v1 + ``x-throughline``);
  `load_slos` validates a file and reports every problem with its file, field path and line.
- `metrics.slo.windows` — the multi-window, multi-burn-rate table, as data.
- `foundation.business_time` (below this package) — business days and business time per
  country, shared with the KPIs.
- `metrics.slo.inputs` — the plain records evaluation consumes (`Occurrence`, `OpenItem`,
  `SourceFreshness`), built from the KPIs' case facts by an adapter.
- `metrics.slo.evaluate` — pure functions: attainment, budgets in cases and days, burn rates,
  alert checks, stale-source pause, history per week or month.
- `metrics.slo.alerts` — alert episodes (firing → resolved) deduplicated per episode, through an
  `AlertStore` (in memory here; a table in production).
- `metrics.slo.notify` — Slack, Teams and JSON webhook payloads and delivery with retries.

One check, as the worker runs it::

    slos = load_slos(path, kpis=KPI_NAMES)
    run = evaluate_all(slos, inputs, as_of=now, freshness=fresh, feeds=feeds, calendars=cals)
    transitions, report = process(run, store, notifier)
"""

from foundation.business_time import BusinessCalendar, CalendarResolver, resolve_deadline
from metrics.slo.alerts import AlertStore, Episode, InMemoryAlertStore, Transition, reconcile
from metrics.slo.evaluate import (
    AlertCheck,
    EvaluationRun,
    SloReport,
    evaluate_all,
    evaluate_slo,
    history,
)
from metrics.slo.inputs import Occurrence, OpenItem, SloInputs, SourceFreshness
from metrics.slo.notify import WebhookNotifier, WebhookTarget, dispatch, process
from metrics.slo.spec import Slo, SloConfigError, load_default_slos, load_slos, parse_slos
from metrics.slo.windows import DEFAULT_BURN_WINDOWS, BurnWindow

__all__ = [
    "DEFAULT_BURN_WINDOWS",
    "AlertCheck",
    "AlertStore",
    "BurnWindow",
    "BusinessCalendar",
    "CalendarResolver",
    "Episode",
    "EvaluationRun",
    "InMemoryAlertStore",
    "Occurrence",
    "OpenItem",
    "Slo",
    "SloConfigError",
    "SloInputs",
    "SloReport",
    "SourceFreshness",
    "Transition",
    "WebhookNotifier",
    "WebhookTarget",
    "dispatch",
    "evaluate_all",
    "evaluate_slo",
    "history",
    "load_default_slos",
    "load_slos",
    "parse_slos",
    "process",
    "reconcile",
    "resolve_deadline",
]

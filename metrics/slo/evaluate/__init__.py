"""SLO evaluation as pure functions: attainment, error budgets, burn rates, alert checks, history.

Nothing here reads the clock, the database or the network: every function takes ``as_of`` and
plain inputs (`metrics.slo.inputs`) and returns frozen dataclasses. Definitions follow
google/slo-generator and the SRE workbook:

- `sli` — attainment (good / total weight) of a window, and the groups an SLO is evaluated for.
- `budgets` — error budgets in cases and in days, burn rates.
- `burns` — the burn-rate alert checks, row by row of `metrics.slo.windows`.
- `results` — what an evaluation returns (scopes, reports, checks, runs) and the alert keys.
- `board` — `evaluate_slo` and `evaluate_all`, including the pause of SLOs fed by a stale
  collector.
- `history` — an SLO per calendar week or month.
"""

from metrics.slo.evaluate.board import Calendars, evaluate_all, evaluate_slo
from metrics.slo.evaluate.budgets import (
    EPSILON,
    CaseBudget,
    DayBudget,
    aging_burn,
    burn_rate,
    case_budget,
    days_past_deadline,
    error_budget,
    exceeds,
    measure,
    ratio_burn_rate,
    window_start,
)
from metrics.slo.evaluate.history import PeriodStats, history, period_starts
from metrics.slo.evaluate.results import (
    AlertCheck,
    BudgetKind,
    EvaluationRun,
    FreshnessStatus,
    ScopeResult,
    SloReport,
    Status,
    WindowBurn,
    burn_alert_key,
    freshness_alert_key,
    worst_status,
)
from metrics.slo.evaluate.sli import (
    EMPTY,
    MISSING,
    OVERALL,
    GroupKey,
    OccurrenceSeries,
    Ratio,
    attainment,
    group_key,
    group_label,
)

__all__ = [
    "EMPTY",
    "EPSILON",
    "MISSING",
    "OVERALL",
    "AlertCheck",
    "BudgetKind",
    "Calendars",
    "CaseBudget",
    "DayBudget",
    "EvaluationRun",
    "FreshnessStatus",
    "GroupKey",
    "OccurrenceSeries",
    "PeriodStats",
    "Ratio",
    "ScopeResult",
    "SloReport",
    "Status",
    "WindowBurn",
    "aging_burn",
    "attainment",
    "burn_alert_key",
    "burn_rate",
    "case_budget",
    "days_past_deadline",
    "error_budget",
    "evaluate_all",
    "evaluate_slo",
    "exceeds",
    "freshness_alert_key",
    "group_key",
    "group_label",
    "history",
    "measure",
    "period_starts",
    "ratio_burn_rate",
    "window_start",
    "worst_status",
]

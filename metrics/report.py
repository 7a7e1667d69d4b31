"""Every KPI of the registry as one machine-readable report: `throughline kpis --as-of DATE`.

`kpi_report` measures each declared KPI once (`metrics.registry.DECLARED`: loader, then pure
function) over the whole history up to `as_of` (or a `Filters` period) and keeps each figure's
headline numbers (`Figure.report`), keyed by the figures' names: counts, p50 / p90, shares,
money in the reporting currency. Missing values (no cases, no FX rate) are
``None``, never NaN, so the report is plain JSON. `differences` compares two reports figure by
figure (the benchmark checks Throughline against DuckDB with it) and lists every mismatch as a
readable line instead of stopping at the first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from metrics.fx import load_fx
from metrics.kpis.common import ALL, Countries, Filters
from metrics.kpis.declaration import Figures, Scope, measure_all
from metrics.kpis.declaration import number as number
from metrics.registry import DECLARED, KPIS

REL_TOL, ABS_TOL = 1e-9, 1e-6


def figures(results: Mapping[str, Any]) -> dict[str, Figures]:
    """The headline figures of every registry KPI from the KPI results (by KPI name)."""
    return {k.name: k.report(results[k.kpi.name]) for k in KPIS}


def kpi_report(
    engine: Engine,
    as_of: datetime,
    *,
    reporting_currency: str = "USD",
    countries: Countries | None = None,
    filters: Filters = ALL,
) -> dict[str, Any]:
    """Every registry KPI as of `as_of` from the case facts: ``{"as_of", "kpis": {name: …}}``."""
    fx = load_fx(engine, reporting_currency)
    scope = Scope.of(as_of, filters, countries, fx)
    kpis = figures(measure_all(engine, scope, DECLARED))
    return {
        "as_of": scope.at.isoformat(),
        "reporting_currency": fx.reporting,
        "period": {
            "start": filters.start.isoformat() if filters.start else None,
            "end": filters.end.isoformat() if filters.end else None,
        },
        "kpis": {k.name: {"title": k.title, "unit": k.unit, "figures": kpis[k.name]} for k in KPIS},
    }


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested figures as ``{"a.b.c": value}``."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def kpi_figures(report: Mapping[str, Any]) -> dict[str, Any]:
    """KPI name → figures, from a report (``{"kpis": {name: {"figures": …}}}``) or figures."""
    kpis = report.get("kpis", report)
    return {
        name: value["figures"] if isinstance(value, Mapping) and "figures" in value else value
        for name, value in kpis.items()
    }


def differences(
    mine: Mapping[str, Any],
    theirs: Mapping[str, Any],
    *,
    rel: float = REL_TOL,
    abs_: float = ABS_TOL,
) -> list[str]:
    """Every figure that differs between two reports' ``kpis`` (or two figure mappings)."""
    a, b = flatten(kpi_figures(mine)), flatten(kpi_figures(theirs))
    out = []
    for name in sorted(set(a) | set(b)):
        x, y = a.get(name, "missing"), b.get(name, "missing")
        if isinstance(x, int | float) and isinstance(y, int | float):
            if math.isclose(x, y, rel_tol=rel, abs_tol=abs_):
                continue
        elif x == y:
            continue
        out.append(f"{name}: {x!r} ≠ {y!r}")
    return out


def text_report(report: Mapping[str, Any]) -> str:
    """The report as lines a person reads: one KPI a line."""
    lines = [f"KPIs as of {report['as_of']} ({report['reporting_currency']})"]
    for name, kpi in report["kpis"].items():
        parts = [f"{key} {_fmt(value)}" for key, value in flatten(kpi["figures"]).items()]
        lines.append(f"{kpi['title']} ({name}): " + "; ".join(parts))
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)

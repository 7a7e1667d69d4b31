"""`duckdb_report`: the figures of `metrics.report.kpi_report` (no filters) computed by DuckDB
from the Parquet files, in the same shape, so `metrics.report.differences` can compare them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.duck.kpi_queries import (
    BUCKETS,
    handoff_figures,
    invoice_figures,
    sync_figures,
    unbilled_figures,
)
from bench.duck.load import load

DEFAULT_COUNTRIES = {"US": "US", "UK": "GB", "DE": "DE"}


def _n(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    return float(value)


def duckdb_report(
    folder: Path,
    as_of: datetime,
    *,
    reporting_currency: str = "USD",
    countries: Mapping[str, str] | None = None,
    setup_target: float = 2.0,
    invoice_target: float = 3.0,
    threads: int | None = None,
) -> dict[str, Any]:
    """The KPI figures of `metrics.report.kpi_report` (no filters), from Parquet by DuckDB."""
    countries = dict(countries or DEFAULT_COUNTRIES)
    now = as_of.astimezone(UTC).replace(tzinfo=None)
    params: dict[str, Any] = {
        "reporting": reporting_currency.upper(),
        "now": now,
        "today": now.date(),
    }
    con = load(folder, params, countries, threads)
    country_sql = "(MAP {" + ", ".join(f"'{k}': '{v}'" for k, v in countries.items()) + "})"

    def sql(text: str) -> str:
        return text.replace("country_of", country_sql)

    p = params
    setup, stuck, excluded = handoff_figures(con, sql, p, now, setup_target)
    cycle = invoice_figures(con, sql, p, invoice_target)
    wip_rows, by_bucket, parts = unbilled_figures(con, p, now)
    sync, spikes, open_, ttr = sync_figures(con, p, now)
    con.close()

    wip_items = sum(row[1] for row in wip_rows)
    wip_unconverted = sum(row[3] for row in wip_rows)
    wip_amount = (
        None if wip_unconverted else float(sum(row[2] for row in wip_rows)) if wip_rows else 0.0
    )
    money = {
        "stuck_handoffs": float(stuck["money_days"] or 0.0),
        "invoicing_delay": float(cycle["money_days"] or 0.0),
        "unbilled_work": float(sum(row[4] or 0.0 for row in wip_rows)),
    }
    cases = setup["cases"]
    invoices = cycle["cases"]
    kpis: dict[str, dict[str, Any]] = {
        "setup_latency": {
            **{
                k: _n(setup[k])
                for k in (
                    "cases",
                    "p50_business_days",
                    "p90_business_days",
                    "within_target",
                    "p50_hours",
                    "p90_hours",
                )
            },
            "target_days": setup_target,
        },
        "stuck_handoffs": {
            "deals": stuck["deals"],
            "p50_age_business_days": _n(stuck["p50"]),
            "max_age_business_days": _n(stuck["mx"]),
            "excluded_no_project": excluded.get("no_project_required", 0),
            "excluded_reopened_lost": excluded.get("reopened_lost", 0),
        },
        "touchless_share": {
            "touchless": setup["touchless"],
            "handoffs": cases,
            "share": setup["touchless"] / cases if cases else None,
        },
        "invoice_cycle": {
            **{
                k: _n(cycle[k])
                for k in (
                    "cases",
                    "p50_business_days",
                    "p90_business_days",
                    "within_target",
                    "p50_hours",
                    "p90_hours",
                )
            },
            "target_days": invoice_target,
        },
        "invoice_correction_rate": {
            "corrections": cycle["corrections"],
            "invoices": invoices,
            "rate": cycle["corrections"] / invoices if invoices else None,
            "voided": cycle["voided"],
            "credit_notes": cycle["credit_notes"],
        },
        "days_to_pay": {
            "paid": cycle["paid"],
            "unpaid": invoices - cycle["paid"],
            "p50_days": _n(cycle["pay50"]),
            "p90_days": _n(cycle["pay90"]),
        },
        "unbilled_wip": {
            "items": wip_items,
            "amount_rc": wip_amount,
            "buckets": {
                label: {
                    "items": by_bucket[label][1] if label in by_bucket else 0,
                    "amount_rc": _n(by_bucket[label][2]) if label in by_bucket else 0.0,
                }
                for label, _ in BUCKETS
            },
            "write_offs": {k: _n(v) for k, v in parts["write_offs"].items()},
            "holds": {k: _n(v) for k, v in parts["holds"].items()},
            "unconverted": wip_unconverted,
        },
        "sync_error_rate": {
            **{k: sync[k] for k in ("attempts", "first_attempts", "failed_first_attempts")},
            "rate": sync["failed_first_attempts"] / sync["first_attempts"]
            if sync["first_attempts"]
            else None,
            "retries": sync["retries"],
            "failed_retries": sync["failed_retries"],
        },
        "sync_failing_records": {"records": sync["failing_records"]},
        "sync_spikes": {"flow_days": spikes[0] if spikes else 0},
        "sync_open_exceptions": {"records": open_["records"], "max_hours_open": _n(open_["mx"])},
        "sync_time_to_resolve": {
            "resolved": ttr["resolved"],
            "p50_hours": _n(ttr["p50"]),
            "p90_hours": _n(ttr["p90"]),
        },
        "cash_impact": {
            "total_money_days": sum(money.values()),
            **money,
            "unconverted": stuck["unconverted"] + cycle["unconverted"] + wip_unconverted,
        },
    }
    return {"as_of": as_of.isoformat(), "reporting_currency": params["reporting"], "kpis": kpis}

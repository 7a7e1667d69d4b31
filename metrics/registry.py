"""The KPI registry: every figure Throughline reports, with its unit, audience and definition.

The README's KPI table and the pages are built from `KPIS`; a test keeps the README in step.
Run ``python -m metrics.registry`` to rewrite the README section between the markers.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

START, END = "<!-- kpi-table:start -->", "<!-- kpi-table:end -->"
README = Path(__file__).resolve().parent.parent / "README.md"


@dataclass(frozen=True)
class Kpi:
    """One reported figure: `function` (``module:name``) computes it from its loader's rows."""

    name: str
    title: str
    unit: str
    audience: str
    definition: str
    function: str
    target: str | None = None

    def resolve(self) -> Callable[..., Any]:
        """The KPI function."""
        module, _, name = self.function.partition(":")
        fn: Callable[..., Any] = getattr(importlib.import_module(module), name)
        return fn


_SETUP = "metrics.kpis.setup_latency:setup_latency"
_CYCLE = "metrics.kpis.invoice_cycle:invoice_cycle"
_WIP = "metrics.kpis.unbilled:unbilled_aging"
_SYNC = "metrics.kpis.sync_trends:sync_error_trends"

KPIS: tuple[Kpi, ...] = (
    Kpi(
        "setup_latency",
        "Project setup latency",
        "business days (p50, p90)",
        "CFO, PMO",
        "First `deal.won` of a deal → `project.created` of its first linked project; "
        "no-project and reopened-then-lost deals excluded.",
        _SETUP,
        "≤ 2 business days",
    ),
    Kpi(
        "stuck_handoffs",
        "Stuck handoffs",
        "deals; business days waiting",
        "PMO",
        "Won deals with no project yet, aged from the first win to now.",
        _SETUP,
    ),
    Kpi(
        "touchless_share",
        "Touchless handoff rate",
        "share of handoffs",
        "PMO, CFO",
        "Share of handoffs whose project the integration user created.",
        _SETUP,
    ),
    Kpi(
        "invoice_cycle",
        "Invoice cycle time",
        "business days (p50, p90)",
        "CFO",
        "Billing trigger (T&M: later of period end and last approval; fixed fee: milestone "
        "accepted) → `invoice.posted`; voided invoices and credit notes excluded.",
        _CYCLE,
        "≤ 3 business days",
    ),
    Kpi(
        "invoice_correction_rate",
        "Invoice-correction rate",
        "share of invoices",
        "CFO",
        "Share of counted invoices that re-issue a voided invoice.",
        _CYCLE,
    ),
    Kpi(
        "days_to_pay",
        "Days to pay",
        "calendar days (p50, p90)",
        "CFO",
        "`invoice.sent` (or posted) → the last linked `payment.received`.",
        _CYCLE,
    ),
    Kpi(
        "unbilled_wip",
        "Unbilled work (WIP) aging",
        "reporting currency, by age bucket",
        "CFO",
        "Approved billable work not on a posted invoice, aged from the work date in buckets "
        "0–30, 31–60, 61–90, 91–120, 120+ days; write-offs and holds apart.",
        _WIP,
    ),
    Kpi(
        "sync_error_rate",
        "First-attempt sync error rate",
        "share of first attempts",
        "support",
        "Failed first attempts ÷ first attempts per integration, flow and day; retries apart.",
        _SYNC,
    ),
    Kpi(
        "sync_failing_records",
        "Failing records",
        "records",
        "support",
        "Distinct trace keys with a failed attempt, by error class and signature.",
        _SYNC,
    ),
    Kpi(
        "sync_spikes",
        "Sync error spikes",
        "flow-days",
        "support",
        "Days whose failed first attempts exceed the trailing 28-day median by 3 × MAD "
        "(at least 5 failures).",
        _SYNC,
    ),
    Kpi(
        "sync_open_exceptions",
        "Open sync exceptions",
        "records; hours open",
        "support",
        "Trace keys whose latest attempt failed, aged from their first failure.",
        _SYNC,
    ),
    Kpi(
        "sync_time_to_resolve",
        "Time to resolve",
        "calendar hours (p50, p90)",
        "support",
        "First failure → first later success of the same trace key.",
        _SYNC,
    ),
    Kpi(
        "cash_impact",
        "Cash impact",
        "reporting-currency days",
        "CFO",
        "Money × days of delay: stuck deals, invoicing delay and unbilled work.",
        "metrics.kpis.cash_impact:cash_impact",
    ),
)


def by_name(name: str) -> Kpi:
    """One KPI by name (KeyError naming the known ones)."""
    for kpi in KPIS:
        if kpi.name == name:
            return kpi
    raise KeyError(f"no KPI named {name!r}; known: {', '.join(k.name for k in KPIS)}")


def markdown_table() -> str:
    """The README's KPI table."""
    lines = [
        "| KPI | unit | for | definition | default target |",
        "|---|---|---|---|---|",
    ]
    for k in KPIS:
        lines.append(
            f"| {k.title} (`{k.name}`) | {k.unit} | {k.audience} | {k.definition} "
            f"| {k.target or '—'} |"
        )
    return "\n".join(lines)


def readme_section(text: str) -> str:
    """The part of a README between the KPI-table markers (ValueError when missing)."""
    if START not in text or END not in text:
        raise ValueError(f"the README lacks the markers {START} … {END}")
    return text.split(START, 1)[1].split(END, 1)[0].strip("\n")


def update_readme(path: Path = README) -> bool:
    """Rewrite the README's KPI table from the registry; True when it changed."""
    text = path.read_text(encoding="utf-8")
    current = readme_section(text)
    if current == markdown_table():
        return False
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    path.write_text(f"{head}{START}\n{markdown_table()}\n{END}{tail}", encoding="utf-8")
    return True


if __name__ == "__main__":
    print("README KPI table " + ("updated" if update_readme() else "already up to date"))

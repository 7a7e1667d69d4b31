"""The KPI registry: every KPI declaration, listed by hand, and the figures they report.

`DECLARED` is the one list: a KPI module's ``KPI = Kpi(...)`` (`metrics.kpis.declaration`) is
reported once it is added here. `KPIS` are their figures in order, the names a report, a tile
and an SLO use. The README's KPI table is generated from `KPIS` and a test keeps it in step:
run ``python -m metrics.registry`` to rewrite the README section between the markers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from metrics.kpis import (  # one KPI module a line
    cash_impact,
    invoice_cycle,
    setup_latency,
    sync_trends,
    unbilled,
)
from metrics.kpis.declaration import Figure, Kpi

START, END = "<!-- kpi-table:start -->", "<!-- kpi-table:end -->"
README = Path(__file__).resolve().parent.parent / "README.md"

#: Every KPI, in the order they are reported (a derived KPI after the ones it needs).
DECLARED: tuple[Kpi[Any], ...] = (
    setup_latency.KPI,
    invoice_cycle.KPI,
    unbilled.KPI,
    sync_trends.KPI,
    cash_impact.KPI,
)
#: Every reported figure of every KPI, in order.
KPIS: tuple[Figure[Any], ...] = tuple(figure for kpi in DECLARED for figure in kpi.figures)


def by_name(name: str) -> Figure[Any]:
    """One figure by name (KeyError naming the known ones)."""
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

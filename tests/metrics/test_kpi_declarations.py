"""One declaration per KPI: the registry lists them, and every consumer derives from them."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from metrics import registry
from metrics.fx import FxTable
from metrics.kpis.declaration import Headline, Kpi, Scope, measure_all
from metrics.report import figures
from metrics.slo.adapter import KPI_SOURCES
from metrics.slo.spec import load_default_slos
from metrics.views.access import PAGES_BY_ROLE

DOCS = Path(__file__).resolve().parents[2] / "docs" / "kpis.md"
AS_OF = datetime(2026, 3, 2, tzinfo=UTC)


def test_declarations_and_figures_have_unique_names_in_dependency_order() -> None:
    names = [k.name for k in registry.DECLARED]
    assert len(names) == len(set(names))
    assert len({f.name for f in registry.KPIS}) == len(registry.KPIS)
    for i, kpi in enumerate(registry.DECLARED):
        assert set(kpi.needs) <= set(names[:i]), f"{kpi.name} needs KPIs listed after it"
        assert kpi.figures and kpi.sources
        assert all(f.kpi is kpi for f in kpi.figures)


def test_every_figure_is_explained_on_a_page_and_defined_in_docs_kpis_md() -> None:
    pages = PAGES_BY_ROLE["admin"]
    text = DOCS.read_text(encoding="utf-8")
    defined = set(re.findall(r"\*\*`(\w+)`\*\*", text))
    for figure in registry.KPIS:
        assert figure.page in pages, f"{figure.name}: no page {figure.page!r}"
        assert figure.name in defined, f"docs/kpis.md does not define {figure.name}"
    assert defined == {f.name for f in registry.KPIS}


def test_the_shipped_slos_name_figures_that_offer_their_cases_and_sources() -> None:
    for slo in load_default_slos(kpis={f.name for f in registry.KPIS}):
        figure = registry.by_name(slo.kpi)
        assert figure.slo is not None, f"{slo.name}: {figure.name} offers no SLO cases"
        assert KPI_SOURCES[figure.name] == figure.kpi.sources


def test_a_kpi_has_a_loader_or_the_kpis_it_needs_never_both() -> None:
    with pytest.raises(ValueError, match="either a loader"):
        Kpi("x", None, lambda rows, scope: rows, (), frozenset({"psa"}))
    with pytest.raises(ValueError, match="either a loader"):
        Kpi("x", lambda e, s: None, lambda rows, scope: rows, (), frozenset(), needs=("y",))


def test_every_figure_reports_json_and_a_tile_on_an_empty_store(module_engine: Engine) -> None:
    scope = Scope.of(AS_OF, fx=FxTable([], "USD"))
    results = measure_all(module_engine, scope, registry.DECLARED)
    assert list(results) == [k.name for k in registry.DECLARED]
    report = figures(results)
    assert list(report) == [f.name for f in registry.KPIS]
    json.dumps(report, allow_nan=False)
    for figure in registry.KPIS:
        assert isinstance(figure.tile(results[figure.kpi.name]), Headline)


def test_rows_already_read_replace_a_loader() -> None:
    kpi = registry.DECLARED[0]
    rows = pd.DataFrame()
    seen = []
    fake = Kpi(
        kpi.name,
        lambda e, s: pytest.fail("the loader ran"),
        lambda r, s: seen.append(r) or 1,
        (),
        frozenset({"crm"}),
    )
    assert measure_all(None, Scope(AS_OF), [fake], {kpi.name: rows}) == {kpi.name: 1}
    assert seen == [rows]

"""The invoice cycle and unbilled aging pages on the demo year: numbers, drill-downs, URL state."""

from __future__ import annotations

import pandas as pd
import pytest

from metrics.views.access import ANONYMOUS as ADMIN
from metrics.views.invoices import invoice_view, invoices_in_week
from metrics.views.unbilled import items_behind, unbilled_view
from tests.pages.conftest import (
    Store,
    click_point,
    metrics,
    no_errors,
    open_page,
    select_row,
    table,
    table_starting,
)
from throughline import ui

INVOICES = "pages/invoice_cycle.py"
UNBILLED = "pages/unbilled.py"


def test_the_invoice_cycle_page_shows_what_the_kpi_returns(demo: Store) -> None:
    at = open_page(INVOICES)
    no_errors(at)
    view = invoice_view(ADMIN, demo.engine, demo.config, demo.filters(), demo.as_of)
    shown = metrics(at)
    assert shown["p50 cycle time"] == ui.fmt(view.kpi.stats.p50_days, "business_days")
    assert shown["p90 cycle time"] == ui.fmt(view.kpi.stats.p90_days, "business_days")
    assert shown["Within 3 bd"] == ui.fmt(view.kpi.stats.within_target, "share")
    assert shown["Invoices posted"] == f"{view.kpi.stats.cases:,}"
    assert shown["Correction rate"] == ui.fmt(view.kpi.correction_rate, "share")
    slowest = table(at, "slowest")
    assert list(slowest["invoice_key"]) == list(view.cases["invoice_key"].head(200))
    by_practice = table_starting(at, "practice", "invoices")
    pd.testing.assert_frame_equal(by_practice, view.by_practice, check_dtype=False)
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["CSV", "Excel"] * len(at.dataframe)  # every table: CSV and Excel


def test_clicking_a_week_lists_its_invoices_and_keeps_it_in_the_url(demo: Store) -> None:
    view = invoice_view(ADMIN, demo.engine, demo.config, demo.filters(), demo.as_of)
    week = view.kpi.by_week["period"].iloc[-2]
    at = open_page(INVOICES, {"entity": ["UK", "DE"]})
    click_point(at, "weeks", x=week.isoformat(), y=1.0)
    no_errors(at)
    assert at.query_params["week"] == week.isoformat()
    scoped = invoice_view(
        ADMIN, demo.engine, demo.config, demo.filters(legal_entities=("DE", "UK")), demo.as_of
    )
    expected = invoices_in_week(scoped, week)
    assert list(table(at, "week_cases")["invoice_key"]) == list(expected["invoice_key"])
    assert set(expected["legal_entity"]) <= {"UK", "DE"}
    select_row(at, "week_cases", 0)
    assert at.title[0].value == "Case trace"
    assert at.query_params["case"] == f"invoice:{expected['invoice_key'].iloc[0]}"
    assert at.query_params["entity"] == ["UK", "DE"]


def test_a_shared_link_to_a_week_opens_with_that_week(demo: Store) -> None:
    view = invoice_view(ADMIN, demo.engine, demo.config, demo.filters(), demo.as_of)
    week = view.kpi.by_week["period"].iloc[0]
    at = open_page(INVOICES, {"week": week.isoformat()})
    no_errors(at)
    expected = invoices_in_week(view, week)
    assert list(table(at, "week_cases")["invoice_key"]) == list(expected["invoice_key"])


def test_the_unbilled_page_buckets_by_customer_and_by_project_from_the_url(demo: Store) -> None:
    at = open_page(UNBILLED)
    no_errors(at)
    view = unbilled_view(ADMIN, demo.engine, demo.config, demo.filters(), demo.as_of, "customer")
    shown = metrics(at)
    assert shown["Unbilled work"] == ui.fmt(view.kpi.total.amount_rc, "money", "USD")
    assert shown["Items"] == f"{view.kpi.total.items:,}"
    groups = table_starting(at, "customer", "items")
    assert list(groups["customer"]) == list(view.groups["customer"])
    assert groups["amount_rc"].sum() == pytest.approx(view.kpi.total.amount_rc, abs=len(groups))
    over = table_starting(at, "as_of", "items")
    assert list(over["items"]) == list(view.over_time["items"])

    at = open_page(UNBILLED, {"by": "project_key"})
    no_errors(at)
    by_project = unbilled_view(
        ADMIN, demo.engine, demo.config, demo.filters(), demo.as_of, "project_key"
    )
    shown = table_starting(at, "project_key", "items")
    assert list(shown["project_key"]) == list(by_project.groups["project_key"])


def test_clicking_a_bar_segment_lists_the_work_items_behind_it(demo: Store) -> None:
    view = unbilled_view(ADMIN, demo.engine, demo.config, demo.filters(), demo.as_of, "customer")
    top = view.groups.iloc[1]
    bucket = next(b for b in ("120+", "91-120", "61-90", "31-60", "0-30") if top[b] > 0)
    at = open_page(UNBILLED)
    click_point(at, "groups", y=top["customer"], x=float(top[bucket]), customdata=bucket)
    no_errors(at)
    assert at.query_params["focus"] == f"{top['customer']}|{bucket}"
    expected = items_behind(view, top["customer"], bucket)
    shown = table(at, "items")
    assert list(shown["work_item_key"]) == list(expected["work_item_key"])
    assert shown["amount_rc"].sum() == pytest.approx(top[bucket], abs=len(shown))
    select_row(at, "items", 0)
    assert at.query_params["case"] == f"project:{expected['project_key'].iloc[0]}"

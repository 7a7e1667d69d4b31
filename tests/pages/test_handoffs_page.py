"""The PMO's page on the demo year: the work queue, its blocking errors, and stored actions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from metrics.views.access import ANONYMOUS as ADMIN
from metrics.views.handoffs import ActionRefused, handoff_view, record_action
from store.tables import WorkQueueAction
from tests.pages.conftest import Store, metrics, no_errors, open_page, select_row, table
from throughline import ui

PAGE = "pages/handoffs.py"


def test_the_work_queue_lists_every_stuck_deal_with_owner_age_and_blocking_error(
    demo: Store,
) -> None:
    at = open_page(PAGE)
    no_errors(at)
    view = handoff_view(ADMIN, demo.engine, demo.config, demo.filters(), demo.as_of)
    shown = metrics(at)
    assert shown["Stuck handoffs"] == str(len(view.queue)) == "6"
    assert shown["p90 setup latency"] == ui.fmt(view.kpi.stats.p90_days, "business_days")
    assert shown["Touchless"] == ui.fmt(view.kpi.touchless_share, "share")
    queue = table(at, "queue")
    assert list(queue["deal_key"]) == list(view.queue["deal_key"])
    assert "deal_id" not in queue.columns
    oldest = queue.iloc[0]
    assert oldest["owner"] == "Rosa Hartmann"
    assert oldest["blocking_error"].startswith("validation: Customer 'C-0147' has no tax id (VAT)")
    assert oldest["age_business_days"] == pytest.approx(view.queue["age_business_days"].iloc[0])
    assert queue["blocking_error"].notna().all()


def test_assigning_snoozing_and_noting_a_deal_are_stored_and_shown(writable_demo: Store) -> None:
    store = writable_demo
    at = open_page(PAGE)
    deal = table(at, "queue").iloc[2]
    select_row(at, "queue", 2)
    no_errors(at)
    assert at.query_params["deal"] == deal["deal_key"]
    form = at.get("form")
    assert form, "the action form is shown for the selected deal"
    at.radio[0].set_value("assign")
    at.text_input[0].set_value("Priya Shah")
    at.text_input[1].set_value("Mara (PMO)")
    at.button(key="FormSubmitter:action-Save").click().run()
    no_errors(at)
    with store.engine.connect() as conn:
        rows = conn.execute(select(WorkQueueAction)).all()
    assert [(r.case_key, r.action, r.assignee, r.actor) for r in rows] == [
        (deal["deal_key"], "assign", "Priya Shah", "Mara (PMO)")
    ]
    queue = table(at, "queue")
    assert queue.set_index("deal_key").loc[deal["deal_key"], "assignee"] == "Priya Shah"

    at.radio[0].set_value("note")
    at.text_area[0].set_value("Customer's VAT id requested from sales.")
    at.button(key="FormSubmitter:action-Save").click().run()
    at.radio[0].set_value("snooze")
    at.button(key="FormSubmitter:action-Save").click().run()
    no_errors(at)
    queue = table(at, "queue")
    assert deal["deal_key"] not in set(queue["deal_key"]), "a snoozed deal leaves the queue"
    at.toggle(key="show_snoozed").set_value(True).run()
    queue = table(at, "queue").set_index("deal_key")
    row = queue.loc[deal["deal_key"]]
    assert row["last_note"] == "Customer's VAT id requested from sales."
    assert str(row["snoozed_until"])[:10] == str(store.as_of.date() + timedelta(days=7))
    history = next(d.value for d in at.dataframe if "action" in d.value.columns)
    assert list(history["action"]) == ["snooze", "note", "assign"]


def test_an_incomplete_action_is_refused_with_a_sentence(writable_demo: Store) -> None:
    at = open_page(PAGE)
    select_row(at, "queue", 0)
    at.radio[0].set_value("assign")
    at.button(key="FormSubmitter:action-Save").click().run()
    assert at.error[0].value == "Enter the person to assign this deal to."
    with pytest.raises(ActionRefused, match="after today"):
        record_action(
            ADMIN,
            writable_demo.engine,
            case_type="deal",
            case_id=1,
            case_key="x",
            action="snooze",
            actor="me",
            snoozed_until=writable_demo.as_of.date(),
            today=writable_demo.as_of.date(),
        )


def test_clicking_a_week_of_the_latency_trend_lists_its_handoffs(demo: Store) -> None:
    view = handoff_view(ADMIN, demo.engine, demo.config, demo.filters(), demo.as_of)
    week = view.kpi.by_week["period"].iloc[-1]
    at = open_page(PAGE)
    at.session_state["weeks"] = {
        "selection": {
            "points": [{"x": week.isoformat()}],
            "point_indices": [0],
            "box": [],
            "lasso": [],
        }
    }
    at.run()
    no_errors(at)
    closed = table(at, "closed")
    assert len(closed) == int(view.kpi.by_week["cases"].iloc[-1])
    select_row(at, "closed", 0)
    assert at.query_params["case"] == f"deal:{closed['deal_key'].iloc[0]}"

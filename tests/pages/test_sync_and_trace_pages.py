"""The sync errors and case trace pages on the demo year: trends, the attempts behind a point,
payloads and retry lineage, and one case end to end."""

from __future__ import annotations

import json

from metrics.views.access import ANONYMOUS as ADMIN
from metrics.views.sync import AttemptQuery, failed_attempts, sync_view
from metrics.views.trace import case_trace
from tests.pages.conftest import (
    Store,
    click_point,
    metrics,
    no_errors,
    open_page,
    plain,
    select_row,
    table,
    table_starting,
)
from throughline import ui

SYNC = "pages/sync_errors.py"
TRACE = "pages/case_trace.py"
STUCK_DEAL = "006Dn00000000KCIAY"  # customer C-0147: its provisioning failed on a missing VAT id
# The demo's last 13 weeks hold no spike (first attempts fail only in its planted incidents);
# 26 weeks reach back to the ERP outage.
SPIKES = "26w"


def test_the_sync_page_shows_the_trends_the_kpi_returns(demo: Store) -> None:
    at = open_page(SYNC, {"period": SPIKES})
    no_errors(at)
    view = sync_view(ADMIN, demo.engine, demo.config, demo.filters(SPIKES), demo.as_of)
    t = view.kpi.totals
    shown = metrics(at)
    assert shown["First-attempt error rate"] == ui.fmt(t.first_attempt_error_rate, "share")
    assert shown["Failed first attempts"] == str(t.failed_first_attempts)
    assert shown["Failing records"] == str(t.failing_records)
    assert shown["Open exceptions"] == str(len(view.kpi.open_exceptions))
    assert shown["p50 time to resolve"] == ui.fmt(view.kpi.time_to_resolve.p50_hours, "hours")
    signatures = table(at, "signatures")
    assert list(signatures["error_signature"]) == list(view.kpi.top_signatures["error_signature"])
    assert list(table(at, "open")["trace_key"]) == list(view.kpi.open_exceptions["trace_key"])
    spikes = view.kpi.spikes
    assert len(spikes) >= 1
    assert "Spikes: " in " ".join(c.value for c in at.caption)


def test_clicking_a_spike_lists_its_failed_attempts_with_payload_and_lineage(demo: Store) -> None:
    view = sync_view(ADMIN, demo.engine, demo.config, demo.filters(SPIKES), demo.as_of)
    spike = view.kpi.spikes.iloc[0]
    at = open_page(SYNC, {"period": SPIKES})
    click_point(at, "rate", x=spike["day"].isoformat(), y=0.5, customdata=spike["flow"])
    no_errors(at)
    assert at.query_params["focus"] == f"point|{spike['day'].isoformat()}|{spike['flow']}"
    expected = failed_attempts(
        ADMIN, demo.engine, demo.filters(SPIKES), AttemptQuery(day=spike["day"], flow=spike["flow"])
    )
    attempts = table(at, "attempts")
    assert len(attempts) == len(expected) >= spike["failed_first_attempts"]
    assert list(attempts["trace_key"]) == list(expected["trace_key"])
    assert "id" not in attempts.columns
    select_row(at, "attempts", 0)
    no_errors(at)
    payload = json.loads(at.json[0].proto.body)
    masked = {k: v for k, v in payload.items() if k in ("tax_id", "iban", "billing_email")}
    assert masked and set(masked.values()) <= {"***", None}
    lineage = table_starting(at, "started_at", "attempt_number")
    assert len(lineage) >= 1
    assert lineage["attempt_number"].iloc[0] == 1
    assert set(lineage["status"]) <= {"failed", "success", "running"}


def test_a_signature_row_lists_its_attempts(demo: Store) -> None:
    view = sync_view(ADMIN, demo.engine, demo.config, demo.filters(), demo.as_of)
    top = view.kpi.top_signatures.iloc[0]
    at = open_page(SYNC)
    select_row(at, "signatures", 0)
    no_errors(at)
    attempts = table(at, "attempts")
    assert set(attempts["error_class"]) == {top["error_class"]}
    assert len(attempts) == top["failures"]


def test_a_stuck_deal_traces_across_systems_with_the_failure_that_holds_it(demo: Store) -> None:
    at = open_page(TRACE, {"case": f"deal:{STUCK_DEAL}"})
    no_errors(at)
    trace = case_trace(ADMIN, demo.engine, demo.config, "deal", STUCK_DEAL, demo.as_of)
    assert trace is not None and trace.delay is not None
    assert plain(at.subheader[0].value) == f"Deal {STUCK_DEAL}"
    warning = plain(at.warning[0].value)
    assert "Held up by crm-psa/project_provisioning" in warning
    assert "still failing" in warning and "has no tax id (VAT)" in warning
    timeline = table_starting(at, "at", "lane")
    assert list(timeline["what"]) == list(trace.timeline["what"])
    assert {"deal.won", "contract.signed", "sync failed"} <= set(timeline["what"])
    objects = table(at, "objects")
    assert set(objects["type"]) == {"deal", "contract"}
    assert objects["link"].str.startswith("http://127.0.0.1:").all()
    at.button(key="delay_attempts").click().run()
    assert at.title[0].value == "Sync errors"
    assert at.query_params["focus"] == f"trace|{trace.delay.trace_key}"
    assert table(at, "attempts")["trace_key"].eq(trace.delay.trace_key).all()


def test_a_project_trace_reaches_its_deal_work_and_invoices(demo: Store) -> None:
    at = open_page(TRACE, {"case": "project:PRJ-00101"})
    no_errors(at)
    objects = table(at, "objects")
    assert {"project", "deal", "invoice", "work_item"} <= set(objects["type"])
    row = objects.index[objects["type"] == "deal"][0]
    select_row(at, "objects", int(row))
    assert at.query_params["case"].startswith("deal:")


def test_searching_finds_cases_and_an_unknown_case_says_so(demo: Store) -> None:
    at = open_page(TRACE)
    no_errors(at)
    assert "Pick a case" in at.info[0].value
    at.text_input(key="trace_search").set_value("PRJ-0034").run()
    hits = table(at, "hits")
    assert list(hits["source_key"])[:3] == ["PRJ-00340", "PRJ-00341", "PRJ-00342"]
    select_row(at, "hits", 9)
    assert at.query_params["case"] == "project:PRJ-00349"
    assert plain(at.subheader[0].value) == "Project PRJ-00349"
    at = open_page(TRACE, {"case": "deal:NOPE"})
    no_errors(at)
    assert "There is no deal NOPE in the store" in at.info[0].value


def test_text_from_a_link_is_shown_as_typed_never_as_markdown(demo: Store) -> None:
    at = open_page(TRACE, {"case": "deal:[pay here](http://evil.example) :material/home:"})
    no_errors(at)
    shown = at.info[0].value
    assert "\\[pay here\\]\\(http\\://evil\\.example\\)" in shown
    assert "\\:material/home\\:" in shown
    assert plain(shown).startswith("There is no deal [pay here](http://evil.example)")

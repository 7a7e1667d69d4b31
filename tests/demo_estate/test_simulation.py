"""The simulated firm: deterministic, the right size, and every planted scenario present."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from collectors.demo_estate import MAPPINGS, Estate, ground_truth, simulate
from collectors.demo_estate.truth import GroundTruth

DAY = timedelta(days=1)
SF_ID = re.compile(r"^(001|005|006|017|800|a0X)[0-9A-Za-z]{12}[A-Z0-5]{3}$")


def at_midnight(t: datetime) -> datetime:
    return datetime.combine(t.date(), time(), UTC)


@pytest.fixture(scope="module")
def truth(estate: Estate) -> GroundTruth:
    return ground_truth(estate, estate.history_end)


def test_same_seed_gives_the_same_estate_and_another_seed_differs(small_estate: Estate) -> None:
    again = simulate(seed=3, months=2, horizon_months=1)
    other = simulate(seed=4, months=2, horizon_months=1)
    assert again.fingerprint() == small_estate.fingerprint()
    assert other.fingerprint() != small_estate.fingerprint()


def test_the_default_estate_is_generated_quickly(timed_estate: tuple[Estate, float]) -> None:
    # about 1.5 s on the 2-core dev box; the bound leaves room for a loaded CI runner
    assert timed_estate[1] < 5


def test_default_window_is_a_year_of_history_and_three_months_of_horizon(estate: Estate) -> None:
    assert estate.start == datetime(2025, 11, 1, tzinfo=UTC)
    assert estate.history_end == datetime(2026, 11, 1, tzinfo=UTC)
    assert estate.horizon_end == datetime(2027, 2, 1, tzinfo=UTC)
    later = ground_truth(estate, estate.horizon_end)
    assert later.objects["deal"] > ground_truth(estate, estate.history_end).objects["deal"]


def test_counts_are_within_the_intended_ranges(estate: Estate, truth: GroundTruth) -> None:
    assert [e.code for e in estate.legal_entities] == ["US", "UK", "DE"]
    assert len(estate.practices) >= 4
    assert len(estate.customers) >= 200
    roles = Counter(p.role for p in estate.people)
    assert roles["sales"] == 15 and roles["pm"] == 10 and roles["consultant"] == 40
    assert 1200 <= truth.objects["deal"] <= 1800
    won = truth.events["deal.won"]
    assert 0.35 < won / truth.objects["deal"] < 0.6
    assert truth.events["deal.lost"] > 0.3 * truth.objects["deal"]
    stuck = truth.scenario["stuck_handoff_deals"]
    assert 3 <= len(stuck) <= 12  # a handful, all in the last weeks (see below)
    projects = [v.state for _, v in estate.visible("project", estate.history_end)]
    tm = sum(p["billing_type"] == "T&M" for p in projects if p["crm_opportunity_id"])
    assert 0.62 < tm / sum(1 for p in projects if p["crm_opportunity_id"]) < 0.78
    voided = truth.events["invoice.voided"]
    assert 0.015 < voided / truth.objects["invoice"] < 0.05


def test_stage_history_has_reopened_deals_both_ways(truth: GroundTruth) -> None:
    scenario = truth.scenario
    assert scenario["deals_won_twice"] and scenario["deals_reopened_lost"]
    closed_again = len(scenario["deals_won_twice"]) + len(scenario["deals_reopened_lost"])
    # a deal reopened in the last days of history may still be open
    assert closed_again <= truth.events["deal.reopened"] <= closed_again + 3
    assert scenario["deals_no_project_required"]


def test_stuck_handoffs_never_get_a_project_and_some_are_recent(
    estate: Estate, truth: GroundTruth
) -> None:
    stuck = set(truth.scenario["stuck_handoff_deals"])
    provisioned = {
        v.state["crm_opportunity_id"] for _, v in estate.visible("project", estate.horizon_end)
    }
    assert not stuck & provisioned
    assert stuck <= set(truth.scenario["deals_without_project"])
    wins = {
        v.state["OpportunityId"]: v.state["CreatedDate"]
        for _, v in estate.visible("OpportunityFieldHistory", estate.history_end)
        if v.state["NewValue"] == "Closed Won"
    }
    recent = [d for d in stuck if wins[d] >= estate.history_end - timedelta(days=21)]
    assert len(recent) >= 2
    checks = estate.scenario.provisioning_checks_from
    assert checks == estate.history_end - timedelta(days=21)
    assert all(checks <= wins[d] < estate.history_end for d in stuck)
    late = [d for d in stuck if wins[d] <= estate.history_end - timedelta(days=7)]
    assert len(late) >= 2, "some have waited for more than a week at the end of history"


def test_stuck_handoffs_have_open_provisioning_exceptions(
    estate: Estate, truth: GroundTruth
) -> None:
    jobs = [v.state for _, v in estate.visible("job", estate.horizon_end)]
    for deal in truth.scenario["stuck_handoff_deals"]:
        chain = sorted((j for j in jobs if j["record"]["id"] == deal), key=lambda j: j["attempt"])
        assert chain and all(j["status"] == "error" for j in chain)
        assert all(j["error"]["code"] in ("VALIDATION", "DUPLICATE") for j in chain)


def test_projects_come_touchless_manual_late_and_in_two_phases(
    estate: Estate, truth: GroundTruth
) -> None:
    projects = [v.state for _, v in estate.visible("project", estate.history_end)]
    creators = Counter(p["created_by"] == "svc-integration" for p in projects)
    assert creators[True] > creators[False] > 0
    first_win: dict[str, datetime] = {}
    for _, v in estate.visible("OpportunityFieldHistory", estate.history_end):
        if v.state["NewValue"] == "Closed Won":
            first_win.setdefault(v.state["OpportunityId"], v.state["CreatedDate"])
    first_project: dict[str, datetime] = {}
    for p in projects:
        deal = p["crm_opportunity_id"]
        if deal in first_win:
            first_project[deal] = min(first_project.get(deal, p["created_at"]), p["created_at"])
    checks = estate.scenario.provisioning_checks_from
    assert checks is not None
    before = [first_project[d] - first_win[d] for d in first_project if first_win[d] < checks]
    since = [first_project[d] - first_win[d] for d in first_project if first_win[d] >= checks]
    # until the checks every deal gets its project within two business days (at most four
    # calendar days, a weekend included), by the integration or by hand
    assert max(before) <= timedelta(days=4)
    assert sum(d <= timedelta(minutes=15) for d in before) > 0.75 * len(before)
    assert sum(d > timedelta(hours=1) for d in before) > 0.1 * len(before)
    # since then some wait for a project manager to fix the data
    assert sum(d > timedelta(days=4) for d in since) >= 2
    assert truth.scenario["deals_with_two_projects"]
    assert any(p["crm_opportunity_id"] is None for p in projects)


def test_first_attempts_fail_only_in_the_planted_incidents(estate: Estate) -> None:
    start, end = estate.scenario.erp_outage
    release = estate.scenario.bad_release_day
    checks = estate.scenario.provisioning_checks_from
    assert checks is not None
    jobs = [v.state for _, v in estate.visible("job", estate.history_end)]
    failed = [j for j in jobs if j["attempt"] == 1 and j["status"] == "error"]
    outage_day = [j for j in failed if start <= j["started_at"] < at_midnight(end) + DAY]
    release_day = [j for j in failed if j["started_at"].date() == release]
    last_weeks = [j for j in failed if j["started_at"] >= checks]
    assert len(outage_day) + len(release_day) + len(last_weeks) == len(failed)
    assert {j["integration"] for j in outage_day} == {"psa-erp", "erp-crm"}
    assert {j["integration"] for j in release_day + last_weeks} == {"crm-psa"}
    assert {j["error"]["code"] for j in last_weeks} <= {"VALIDATION", "DUPLICATE"}
    # after the outage the recovering ERP times out, then rate-limits, and misses projects
    after = [j for j in jobs if end <= j["started_at"] < at_midnight(end) + DAY and j["error"]]
    assert {"ETIMEDOUT", "HTTP_429"} <= {j["error"]["code"] for j in after}
    assert any(j["error"]["message"].startswith("Unknown project code") for j in after)


def test_erp_outage_fails_every_erp_bound_job_and_retries_succeed_after(
    estate: Estate,
) -> None:
    start, end = estate.scenario.erp_outage
    assert end - start == timedelta(hours=6)
    jobs = {r.id: v.state for r, v in estate.visible("job", estate.history_end)}
    during = [
        j for j in jobs.values() if start <= j["started_at"] < end and j["integration"] != "crm-psa"
    ]
    assert len(during) >= 10
    assert all(j["status"] == "error" for j in during)
    assert {j["error"]["code"] for j in during} <= {"ECONNREFUSED", "HTTP_503"}
    retry_of = {j["retry_of"]: j for j in jobs.values() if j["retry_of"]}
    last_attempts = [j for j in during if retry_of[j["id"]]["started_at"] >= end]
    assert last_attempts
    for failed in last_attempts:
        retry = retry_of[failed["id"]]
        assert retry["correlation_id"] == failed["correlation_id"]
        assert retry["attempt"] == failed["attempt"] + 1
        while retry["status"] == "error":  # the recovering ERP may fail the backlog once more
            assert retry["error"]["code"] in ("ETIMEDOUT", "HTTP_429")
            retry = retry_of[retry["id"]]
        assert retry["status"] == "success" and retry["started_at"] >= end


def test_bad_release_day_fails_provisioning_with_validation_errors(estate: Estate) -> None:
    day = estate.scenario.bad_release_day
    jobs = [v.state for _, v in estate.visible("job", estate.history_end)]
    that_day = [j for j in jobs if j["integration"] == "crm-psa" and j["started_at"].date() == day]
    assert len(that_day) >= 5
    assert all(j["status"] == "error" for j in that_day)
    assert all("Field 'practice_code' is required" in j["error"]["message"] for j in that_day)
    assert all(j["payload"]["practice_code"] is None for j in that_day)


def test_job_errors_mix_transient_and_data_errors_with_ids_in_messages(estate: Estate) -> None:
    jobs = [v.state for _, v in estate.visible("job", estate.history_end)]
    codes = Counter(j["error"]["code"] for j in jobs if j["error"])
    assert set(codes) == {
        "ETIMEDOUT",
        "HTTP_429",
        "HTTP_503",
        "ECONNREFUSED",
        "VALIDATION",
        "DUPLICATE",
    }
    messages = [j["error"]["message"] for j in jobs if j["error"]]
    assert any(
        re.fullmatch(r"Customer 'C-\d{4}' has no tax id \(VAT\) on record \d+", m) for m in messages
    )
    assert any(m.startswith("Unknown project code 'PRJ-") for m in messages)
    assert any(j["attempt"] >= 3 for j in jobs)
    for job in jobs:
        assert {"tax_id", "iban", "billing_email"} <= set(job["payload"])
        assert job["record"]["system"] in ("crm", "psa", "erp")


def test_billing_has_voids_reissues_credit_notes_and_unpaid_invoices(
    estate: Estate, truth: GroundTruth
) -> None:
    invoices = {r.id: v.state for r, v in estate.visible("CustInvc", estate.history_end)}
    pairs = truth.scenario["voided_reissued_invoices"]
    assert pairs
    for voided, reissue in pairs:
        assert invoices[voided]["status"] == "Voided"
        assert invoices[reissue]["custbody_tl_replaces"] == voided
    assert truth.scenario["credit_notes"]
    assert any(i["status"] == "Open" for i in invoices.values())
    assert truth.links["reissued_as"] == len(pairs)
    assert truth.links_superseded["billed_on"] > 0


def test_unbilled_work_is_billed_within_60_days_except_the_never_billed_projects(
    estate: Estate, truth: GroundTruth
) -> None:
    assert all(truth.wip_items[bucket] > 0 for bucket in ("0-30", "31-60", "61-90"))
    never = set(truth.scenario["projects_never_billed"])
    assert len(never) == 3
    old: set[str] = set()
    for kind, worked in (("time_entry", "work_date"), ("expense", "expense_date")):
        for _, v in estate.visible(kind, estate.history_end):
            s = v.state
            unbilled = s["billable"] and s["status"] == "approved" and not s["invoice_id"]
            if unbilled and (estate.history_end.date() - s[worked]).days > 60:
                old.add(s["project_id"])
    assert old == never


def test_exactly_one_weekday_has_no_fx_rates(estate: Estate, truth: GroundTruth) -> None:
    (missing,) = truth.fx_missing_dates
    assert missing.weekday() < 5
    days = Counter(
        v.state["effectivedate"] for _, v in estate.visible("currencyrate", estate.history_end)
    )
    first, last = estate.start.date(), estate.history_end.date() - timedelta(days=1)
    expected = {first + timedelta(days=i) for i in range((last - first).days + 1)}
    assert expected - set(days) == {missing}
    assert set(days.values()) == {2}


def test_event_times_are_written_once_and_never_after_their_version(estate: Estate) -> None:
    for mapping in MAPPINGS:
        for record in estate.records[mapping.kind]:
            seen: dict[str, object] = {}
            for version in record.versions:
                for _, name in mapping.events:
                    value = version.state.get(name)
                    assert value is None or value <= version.valid_from
                    if seen.get(name) is not None:
                        assert value == seen[name], (record.kind, record.id, name)
                    seen[name] = value


def test_ids_look_like_the_vendors(estate: Estate) -> None:
    for kind in (
        "Account",
        "Opportunity",
        "OpportunityFieldHistory",
        "Contract",
        "Change_Order__c",
    ):
        assert all(SF_ID.match(r.id) for r in estate.records[kind])
    assert all(re.fullmatch(r"PRJ-\d{5}", r.id) for r in estate.records["project"])
    assert all(r.id.isdigit() for r in estate.records["CustInvc"])
    for customer in estate.customers:
        digits = "".join(str(int(c, 36)) for c in customer.iban[4:] + customer.iban[:4])
        assert int(digits) % 97 == 1


def test_truth_is_json_ready_and_amounts_are_decimal_strings(truth: GroundTruth) -> None:
    data = truth.to_dict()
    assert data["as_of"] == "2026-11-01T00:00:00Z"
    assert all(Decimal(v) > 0 for k, v in data["amount_totals"].items() if k != "account")
    assert set(data["object_keys_checksum"]) == set(data["objects"])
    assert truth.sync_attempts_failed < truth.sync_attempts
    assert truth.sync_open_exceptions >= len(truth.scenario["stuck_handoff_deals"])


def test_nothing_is_visible_before_it_happens(estate: Estate) -> None:
    assert ground_truth(estate, estate.start).objects["deal"] == 0
    early = ground_truth(estate, estate.start + timedelta(days=4))
    assert early.events["invoice.created"] == 0
    assert 0 < early.objects["deal"] < 40

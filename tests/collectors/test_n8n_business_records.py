"""n8n: a business record, not a retry chain, is what a failure is about.

Recorded executions in the public API's documented shape (`tests/fixtures/http/n8n/
executions_business_record.json`): a webhook run for customer C-1001 fails on a bad e-mail, its
retry fails too, another customer's run succeeds, and later a fresh webhook run (not a retry)
for C-1001 succeeds. With the trace key read from the webhook's body, that success resolves the
earlier failures; without it, they stay an open exception. SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, text

from collectors.ipaas_n8n import N8nConfig, map_execution, trigger_item
from collectors.registry import build_collector
from collectors.runner import run_collector
from foundation.settings import CollectorSettings, Settings
from metrics.facts import refresh_pending
from metrics.kpis.sync_trends import load_sync, sync_error_trends
from tests.collectors.fixture_api import FixtureApi, fixture

AS_OF = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
CUSTOMER_PATH = "trigger.body[0].customerId"


def executions() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = fixture("n8n", "executions_business_record.json")["data"]
    return data


def collect(engine: Engine, **options: Any) -> None:
    fake = FixtureApi("n8n")
    fake.tables["executions"] = executions()
    settings = Settings(
        database_url="sqlite://",
        collectors={"n8n": CollectorSettings(base_url="https://n8n.example.com/api/v1/")},
        secrets={"n8n_api_key": SecretStr("n8n-test-api-key")},
    )
    collector = build_collector(
        "n8n", settings, transport=fake.transport(), options={"n8n": {"limit": 2, **options}}
    )
    report = run_collector(engine, collector, now=AS_OF, refresh=refresh_pending)
    assert report.status == "success", report.error


def attempts(engine: Engine) -> dict[str, tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT source_key, trace_key, attempt_number, status, error_class, error_signature,"
                " flow FROM sync_attempts"
            )
        )
        return {r[0]: tuple(r[1:]) for r in rows}


def test_a_fresh_webhook_run_resolves_the_failures_of_the_same_customer(engine: Engine) -> None:
    collect(engine, trace_key_path=CUSTOMER_PATH)

    rows = attempts(engine)
    assert {k: v[:3] for k, v in rows.items()} == {
        "2101": ("C-1001", 1, "failed"),
        "2102": ("C-1001", 2, "failed"),  # the retry of 2101
        "2103": ("C-1002", 1, "success"),
        "2104": ("C-1001", 1, "success"),  # a new webhook call, not a retry
    }
    assert (
        rows["2101"][3:]
        == rows["2102"][3:]
        == (
            "validation",
            "Bad request - please check your parameters: Customer <id>: email <value> is"
            " not a valid e-mail address",
            "CRM customer → ERP",
        )
    )
    with engine.connect() as conn:
        trace = conn.execute(
            text(
                "SELECT attempts, failures, first_failed_at, resolved_at, latest_status"
                " FROM sync_traces WHERE trace_key = 'C-1001'"
            )
        ).one()
    assert trace[:2] == (3, 2) and trace[4] == "success"
    assert _utc(trace[2]) == datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
    assert _utc(trace[3]) == datetime(2026, 3, 6, 11, 0, tzinfo=UTC)

    kpi = sync_error_trends(load_sync(engine), AS_OF)
    assert kpi.open_exceptions.empty
    assert (kpi.time_to_resolve.resolved, kpi.time_to_resolve.p50_hours) == (1, 2.0)
    assert kpi.totals.failing_records == 1


def test_without_the_customer_path_the_fresh_run_is_its_own_record(engine: Engine) -> None:
    collect(engine)
    rows = attempts(engine)
    assert {k: v[0] for k, v in rows.items()} == {
        "2101": "2101",
        "2102": "2101",
        "2103": "2103",
        "2104": "2104",
    }
    kpi = sync_error_trends(load_sync(engine), AS_OF)
    assert list(kpi.open_exceptions["trace_key"]) == ["2101"]
    assert kpi.time_to_resolve.resolved == 0


def test_the_trigger_is_the_node_that_ran_first() -> None:
    first = executions()[0]
    item = trigger_item(first)
    assert item is not None and item["body"][0]["customerId"] == "C-1001"
    run_data = first["data"]["resultData"]["runData"]
    # listed last and without executionIndex (older n8n): the earliest startTime decides
    reordered = {
        "Create customer in ERP": run_data["Create customer in ERP"],
        "Webhook": run_data["Webhook"],
    }
    for runs in reordered.values():
        runs[0].pop("executionIndex")
    shuffled = {
        **first,
        "data": {"resultData": {**first["data"]["resultData"], "runData": reordered}},
    }
    assert trigger_item(shuffled) == item
    assert trigger_item({**first, "data": {"resultData": {"runData": {}}}}) is None


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("trigger.body[0].customerId", "C-1001"),
        ("trigger.body[-1].email", "bob@example.com"),
        ("trigger.headers.user-agent", "CRM-Webhooks/2.1"),
        ("data.resultData.runData.Webhook[0].data.main[0][0].json.body[0].customerId", "C-1001"),
        ('data.resultData.runData["Create customer in ERP"][0].data.main[0][0].json.id', "2101"),
        ("trigger.body[1].customerId", None),  # no second item: the chain's root instead
        ("trigger.body", None),  # a list, not a value
    ],
)
def test_a_trace_key_path_reaches_into_lists_and_quoted_node_names(
    path: str, key: str | None
) -> None:
    config = N8nConfig("https://n8n.example.com", trace_key_path=path)
    (attempt,) = map_execution(executions()[0], config).sync_attempts
    assert attempt.trace_key == (key or "2104")


@pytest.mark.parametrize("path", ["trigger.body[0", "body..id", ".body", "body[x]", ""])
def test_a_malformed_trace_key_path_is_refused_naming_the_option(path: str) -> None:
    with pytest.raises(ValueError, match=r"trace_key_path: "):
        N8nConfig("https://n8n.example.com", trace_key_path=path)


def _utc(value: Any) -> datetime:
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)

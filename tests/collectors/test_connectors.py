"""The SaaS connectors on recorded payloads: mappers, cross-system identity, HubSpot's search
restarts, n8n's newest-first polling and retry lineage, and the registry's configuration."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, text

from collectors import crm_hubspot, ipaas_n8n
from collectors.base import FetchWindow
from collectors.crm_hubspot import HubSpotFields, map_company, map_deal
from collectors.crm_salesforce import (
    SalesforceFields,
    SalesforceInvoiceObject,
    SalesforceProjectObject,
    map_invoice_object,
    map_opportunity,
    map_project_object,
)
from collectors.erp_netsuite import NetSuiteFields, localize, map_job, map_timebill
from collectors.errors import SchemaDrift
from collectors.http import make_client
from collectors.ipaas_n8n import N8nConfig, map_execution
from collectors.registry import (
    COLLECTORS,
    build_collector,
    enabled_collectors,
    load_connector_options,
)
from collectors.runner import run_collector
from foundation.settings import CollectorSettings, Settings
from metrics.facts import refresh_pending
from store.canonical import (
    Activity,
    ErrorClass,
    LinkQualifier,
    ObjectType,
    SyncStatus,
    object_id,
)
from tests.collectors.fixture_api import FixtureApi, fixture
from tests.collectors.sources import SAAS, saas_settings

HS = HubSpotFields(
    project_code="psa_project_code", practice="practice", legal_entity="legal_entity"
)


@pytest.fixture
def store(sqlite_engine: Engine) -> Engine:
    from store.migrate import upgrade

    upgrade(sqlite_engine)
    return sqlite_engine


def deal(i: int) -> dict[str, Any]:
    record: dict[str, Any] = fixture("hubspot", "deals_search.json")["results"][i]
    return record


# --- HubSpot ----------------------------------------------------------------------------------


def test_a_hubspot_deal_is_won_when_it_entered_the_closed_won_stage_not_on_its_close_date() -> None:
    record = {**deal(0), "_companies": [{"id": "9211000001", "name": "Acme GmbH", "primary": True}]}
    batch = map_deal(record, HS)
    (obj,) = batch.objects
    assert (obj.type, obj.source_system, obj.source_key) == (ObjectType.DEAL, "crm", "18233210761")
    assert (obj.customer, obj.practice, obj.legal_entity, obj.currency) == (
        "Acme GmbH",
        "Data & AI",
        "DE",
        "EUR",
    )
    assert obj.amount == Decimal("120000.5")
    (won,) = batch.events
    assert won.activity is Activity.DEAL_WON
    assert won.occurred_at == datetime(2026, 3, 2, 9, 29, 58, 417000, tzinfo=UTC)  # not closedate
    (link,) = batch.links
    assert (link.qualifier, link.to_system, link.to_key) == (
        LinkQualifier.PROVISIONS,
        "psa",
        "PRJ-2026-0042",
    )


def test_a_hubspot_deal_that_left_closed_won_for_an_open_stage_was_reopened() -> None:
    events = {e.activity: e.occurred_at for e in map_deal(deal(1), HS).events}
    assert events == {
        Activity.DEAL_WON: datetime(2026, 2, 20, 12, tzinfo=UTC),
        Activity.DEAL_REOPENED: datetime(2026, 2, 25, 8, 30, tzinfo=UTC),
    }
    assert [e.activity for e in map_deal(deal(2), HS).events] == [Activity.DEAL_LOST]


def test_custom_pipelines_name_their_won_stage_by_id() -> None:
    record = deal(0)
    props = {k: v for k, v in record["properties"].items() if "date_entered" not in k}
    props["hs_v2_date_entered_1043211"] = "2026-03-01T08:00:00Z"
    fields = HubSpotFields(won_stages=frozenset({"1043211"}))
    (won,) = map_deal({**record, "properties": props}, fields).events
    assert won.occurred_at == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert "hs_v2_date_entered_1043211" in fields.deal_properties()


def test_a_hubspot_company_becomes_an_account() -> None:
    company = fixture("hubspot", "companies_search.json")["results"][1]
    (obj,) = map_company(company, HS).objects
    assert (obj.type, obj.source_key, obj.customer, obj.region) == (
        ObjectType.ACCOUNT,
        "9211000002",
        "Globex Ltd",
        "United Kingdom",
    )


def test_the_deals_search_filters_and_sorts_on_hs_lastmodifieddate_and_reads_associations(
    store: Engine,
) -> None:
    fake = FixtureApi("hubspot")
    collector = build_collector(
        "hubspot",
        saas_settings("hubspot"),
        transport=fake.transport(),
        options={"hubspot": SAAS["hubspot"]["options"]},
    )
    run_collector(store, collector, now=datetime(2026, 3, 6, tzinfo=UTC), refresh=refresh_pending)
    run_collector(store, collector, now=datetime(2026, 3, 7, tzinfo=UTC), refresh=refresh_pending)
    last = fake.sent("search")[-1]
    assert last["sorts"] == [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}]
    (flt,) = last["filterGroups"][0]["filters"]
    since = datetime(2026, 3, 4, 15, 45, tzinfo=UTC).timestamp() - 300  # cursor minus look-back
    assert (flt["operator"], int(flt["value"])) == ("GTE", int(since * 1000))
    with store.connect() as conn:
        customers = dict(
            conn.execute(text("SELECT source_key, customer FROM objects WHERE type = 'deal'")).all()
        )
    assert customers["18233210763"] == "Initech Inc."  # only company, not primary


def test_the_search_starts_a_new_query_before_the_10000_result_cap() -> None:
    fake = FixtureApi("hubspot")
    stream = crm_hubspot.SearchStream(
        "deals", "deals", ("dealname",), "crm", HS, limit=2, max_results=3, with_companies=False
    )
    with make_client("https://api.hubapi.com/", httpx.Auth(), transport=fake.transport()) as c:
        fake.authorized = lambda request: True  # type: ignore[method-assign]
        pages = list(stream.fetch(c, FetchWindow(None, datetime(2026, 4, 1, tzinfo=UTC))))
    ids = [r["id"] for page in pages for r in page]
    assert ids == ["18233210761", "18233210762", "18233210762", "18233210763"]
    assert "filterGroups" not in fake.sent("search")[0]
    restarted = fake.sent("search")[1]["filterGroups"][0]["filters"][0]
    assert int(restarted["value"]) == int(datetime(2026, 3, 3, 11, tzinfo=UTC).timestamp() * 1000)


def test_the_search_refuses_to_loop_when_the_cap_is_reached_at_one_timestamp() -> None:
    fake = FixtureApi("hubspot")
    same = "2026-03-03T11:00:00.000Z"
    fake.tables["deals"] = [
        {
            **deal(i),
            "updatedAt": same,
            "properties": {**deal(i)["properties"], "hs_lastmodifieddate": same},
        }
        for i in range(3)
    ]
    fake.authorized = lambda request: True  # type: ignore[method-assign]
    stream = crm_hubspot.SearchStream(
        "deals", "deals", ("dealname",), "crm", HS, limit=2, max_results=3
    )
    window = FetchWindow(datetime(2026, 3, 3, 11, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    with (
        make_client("https://api.hubapi.com/", None, transport=fake.transport()) as c,
        pytest.raises(SchemaDrift, match="share one hs_lastmodifieddate"),
    ):
        list(stream.fetch(c, window))


# --- Salesforce ---------------------------------------------------------------------------------


def test_the_psa_project_code_on_an_opportunity_links_deal_to_project() -> None:
    record = fixture("salesforce", "query_opportunities.json")["records"][0]
    batch = map_opportunity(record, SalesforceFields(project_code="PSA_Project_Code__c"))
    (link,) = batch.links
    assert (link.from_key, link.to_system, link.to_key, link.qualifier) == (
        "006S7000002AcmeAAA",
        "psa",
        "PRJ-2026-0042",
        LinkQualifier.PROVISIONS,
    )
    assert map_opportunity(record, SalesforceFields()).links == []  # not configured: no link


def test_projects_and_invoices_kept_in_salesforce_objects_are_mapped() -> None:
    po = SalesforceProjectObject(
        "pse__Proj__c",
        opportunity="pse__Opportunity__c",
        account="pse__Account__c",
        activated_at="Activated_At__c",
    )
    assert "pse__Account__r.Name" in po.fields()
    project = {
        "Id": "a0PS7000000Prj1AAA",
        "Name": "Acme data platform",
        "pse__Opportunity__c": "006S7000002AcmeAAA",
        "pse__Account__c": "001S7000001AcmeAAA",
        "pse__Account__r": {"attributes": {"type": "Account"}, "Name": "Acme GmbH"},
        "CreatedDate": "2026-03-03T08:00:00.000+0000",
        "Activated_At__c": "2026-03-04T08:00:00.000+0000",
        "SystemModstamp": "2026-03-04T08:00:00.000+0000",
    }
    batch = map_project_object(project, po)
    assert batch.objects[0].customer == "Acme GmbH"
    assert [e.activity for e in batch.events] == [
        Activity.PROJECT_CREATED,
        Activity.PROJECT_ACTIVATED,
    ]
    assert batch.links[0].from_id == object_id("crm", ObjectType.DEAL, "006S7000002AcmeAAA")
    io = SalesforceInvoiceObject("Invoice__c")
    invoice = {
        "Id": "a0IS7000000Inv1AAA",
        "Name": "INV-1",
        "Amount__c": 1200,
        "CurrencyIsoCode": "EUR",
        "Project__c": "a0PS7000000Prj1AAA",
        "Posted_At__c": "2026-04-02T10:00:00.000+0000",
        "CreatedDate": "2026-04-01T10:00:00.000+0000",
        "SystemModstamp": "2026-04-02T10:00:00.000+0000",
    }
    ib = map_invoice_object(invoice, io)
    assert [e.activity for e in ib.events] == [Activity.INVOICE_CREATED, Activity.INVOICE_POSTED]
    assert ib.links[0].qualifier is LinkQualifier.BILLS


# --- NetSuite -----------------------------------------------------------------------------------


def ns_items(name: str) -> list[dict[str, Any]]:
    """Recorded SuiteQL items as the stream hands them on: date-times read in the account's
    time zone, as ISO 8601 UTC."""
    zone = ZoneInfo(SAAS["netsuite"]["options"]["timezone"])
    times = ("datecreated", "lastmodifieddate", "custcol_tl_approved_at")
    return [localize(i, times, zone) for i in fixture("netsuite", name)["items"]]


def test_a_netsuite_job_carries_the_crm_opportunity_id_as_configured() -> None:
    jobs = ns_items("suiteql_job.json")
    fields = NetSuiteFields(integration_users=frozenset({"svc-integration"}))
    batch = map_job(jobs[0], fields)
    (obj,) = batch.objects
    assert (obj.type, obj.source_system, obj.attributes["touchless"]) == (
        ObjectType.PROJECT,
        "erp",
        True,
    )
    (link,) = batch.links
    assert link.from_id == object_id("crm", ObjectType.DEAL, "006S7000002AcmeAAA")
    assert batch.events[0].activity is Activity.PROJECT_CREATED
    other = NetSuiteFields(job_opportunity="custentity_other")
    assert map_job(jobs[0], other).links == []


def test_a_time_bill_is_logged_approved_and_billed_when_the_fields_say_so() -> None:
    first, second = ns_items("suiteql_timebill.json")
    batch = map_timebill(first, NetSuiteFields())
    assert [e.activity for e in batch.events] == [Activity.WORK_LOGGED, Activity.WORK_APPROVED]
    assert {link.qualifier for link in batch.links} == {
        LinkQualifier.PART_OF,
        LinkQualifier.BILLED_ON,
    }
    assert batch.objects[0].attributes["billable"] is True
    pending = map_timebill(second, NetSuiteFields())
    assert [e.activity for e in pending.events] == [Activity.WORK_LOGGED]


# --- n8n ----------------------------------------------------------------------------------------

N8N = N8nConfig(
    "https://n8n.example.com",
    object_key_path="customData.opportunity_id",
    object_system="crm",
    object_type=ObjectType.DEAL,
)


def execution(execution_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        e for e in fixture("n8n", "executions.json")["data"] if e["id"] == execution_id
    )
    return found


def test_an_http_node_error_keeps_its_upstream_text_status_and_failing_node() -> None:
    (attempt,) = map_execution(
        {**execution("1044"), "_workflow_name": "CRM → PSA"}, N8N
    ).sync_attempts
    assert attempt.status is SyncStatus.FAILED
    assert attempt.error_class is ErrorClass.RATE_LIMIT  # httpCode "429" (a string)
    assert attempt.error_message == (
        "The service is receiving too many requests from you: Rate limit exceeded, retry after"
        " 30 seconds"
    )
    assert attempt.payload is not None and attempt.payload["failed_node"] == "Create project in PSA"
    assert (attempt.retry_of_key, attempt.attempt_number, attempt.flow) == ("1041", 2, "CRM → PSA")
    assert attempt.object_id == object_id("crm", ObjectType.DEAL, "006S7000002AcmeAAA")


def test_crashed_running_and_successful_executions_map_to_their_status() -> None:
    (crashed,) = map_execution(execution("1042"), N8N).sync_attempts
    assert (crashed.status, crashed.error_class) == (SyncStatus.FAILED, ErrorClass.CONNECTION)
    (running,) = map_execution(execution("1045"), N8N).sync_attempts
    assert (running.status, running.duration_ms) == (SyncStatus.RUNNING, None)
    (ok,) = map_execution(execution("1043"), N8N).sync_attempts
    assert (ok.status, ok.duration_ms, ok.error_class) == (SyncStatus.SUCCESS, 1120, None)


def n8n_collector(fake: FixtureApi, **options: Any) -> Any:
    settings = Settings(
        database_url="sqlite://",
        collectors={"n8n": CollectorSettings(base_url="https://n8n.example.com")},
        secrets={"n8n_api_key": SecretStr("n8n-test-api-key")},
    )
    return build_collector(
        "n8n", settings, transport=fake.transport(), options={"n8n": {"limit": 2, **options}}
    )


def test_retries_share_the_trace_key_of_the_first_execution_of_their_chain(store: Engine) -> None:
    fake = FixtureApi("n8n")
    assert run_collector(store, n8n_collector(fake), refresh=refresh_pending).status == "success"
    with store.connect() as conn:
        rows = {
            r[0]: r[1:]
            for r in conn.execute(
                text(
                    "SELECT source_key, trace_key, attempt_number, integration, flow FROM sync_attempts"
                )
            )
        }
    assert rows["1041"][:2] == ("1041", 1)
    assert rows["1044"][:2] == ("1041", 2)
    assert rows["1046"][:2] == ("1041", 3)  # read before its parent, resolved at the walk's end
    assert rows["1046"][2:] == ("n8n", "CRM won deal → PSA project")


def test_polling_reads_only_new_executions_and_stops_below_the_overlap(store: Engine) -> None:
    fake = FixtureApi("n8n")
    run_collector(store, n8n_collector(fake, overlap=1), refresh=refresh_pending)
    served = fake.served("executions")
    fake.tables["executions"][:0] = (
        {
            **execution("1043"),
            "id": "1048",
            "startedAt": "2026-03-05T11:00:00.000Z",
            "stoppedAt": "2026-03-05T11:00:01.000Z",
        },
        {
            **execution("1043"),
            "id": "1047",
            "startedAt": "2026-03-05T10:59:00.000Z",
            "stoppedAt": "2026-03-05T10:59:01.000Z",
        },
    )
    report = run_collector(store, n8n_collector(fake, overlap=1), refresh=refresh_pending)
    assert report.records_read == 3  # 1048, 1047 and the overlap (1046)
    # pages of two: [1048, 1047], [1046, 1045], then [1044, 1043] holds nothing newer than
    # 1046 - 1, so the walk stops there instead of reading the fourth page
    assert fake.served("executions") - served == 3
    with store.connect() as conn:
        (cursor,) = conn.execute(text("SELECT cursor FROM collector_state")).scalars().all()
    import json

    saved = json.loads(cursor) if isinstance(cursor, str) else cursor
    assert saved["last_id"] == "1048" and saved["since"] == "2026-03-05T11:00:00+00:00"


def test_the_page_size_is_capped_at_250() -> None:
    with pytest.raises(ValueError, match="1 to 250"):
        ipaas_n8n.N8nConfig("https://n8n.example.com", limit=500)


# --- registry -----------------------------------------------------------------------------------


def test_connectors_are_enabled_only_once_their_url_and_secrets_are_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("THROUGHLINE_CONNECTORS_FILE", raising=False)
    bare = Settings(database_url="sqlite://")
    assert enabled_collectors(bare) == []  # the demo collectors too need their base URL
    demo = [n for n in COLLECTORS if n.startswith("demo_")]
    pointed = Settings(
        database_url="sqlite://",
        collectors={n: CollectorSettings(base_url="http://127.0.0.1:9") for n in demo},
    )
    assert enabled_collectors(pointed) == demo
    url_only = Settings(
        database_url="sqlite://",
        collectors={"hubspot": CollectorSettings(base_url="https://api.hubapi.com")},
    )
    assert "hubspot" not in enabled_collectors(url_only)
    assert "hubspot" in enabled_collectors(saas_settings("hubspot"))
    path = tmp_path / "connectors.yaml"
    path.write_text(
        f"logfiles:\n  files:\n    - name: m\n      path: {tmp_path}/x.log\n"
        "      format: jsonl\n      fields: {integration: a, flow: b, status: c,"
        " started_at: d}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("THROUGHLINE_CONNECTORS_FILE", str(path))
    assert "logfiles" in enabled_collectors(bare)


def test_the_connectors_file_refuses_secrets(tmp_path: Path) -> None:
    path = tmp_path / "connectors.yaml"
    path.write_text("hubspot:\n  fields: {}\n  private_app_token: pat-123\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"hubspot.private_app_token looks like a secret"):
        load_connector_options(str(path))


def test_an_unknown_option_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"hubspot\.fields\.colour is not an option"):
        build_collector(
            "hubspot", saas_settings("hubspot"), options={"hubspot": {"fields": {"colour": "red"}}}
        )

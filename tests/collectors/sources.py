"""One "source" per registered collector for the contract suite: the live demo estate for the
demo collectors, a fake vendor API (recorded fixtures) for the SaaS connectors, a log file on disk
for the log-file collector."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from collectors.base import Collector
from collectors.registry import build_collector
from foundation.settings import CollectorSettings, Settings
from tests.collectors.conftest import settings_for
from tests.collectors.fake_apis import (
    NS_TIMEZONE,
    FakeApi,
    FakeHubSpot,
    FakeN8n,
    FakeNetSuite,
    FakeSalesforce,
)

BAD_SECRET = "wrong-token"


@dataclass
class Source:
    """How the contract suite drives one collector's source."""

    name: str
    build: Callable[..., Collector]  # (transport_wrapper=None, bad_credentials=False)
    backfill_since: datetime
    paged_prefix: str
    inject_429: Callable[[], None] = lambda: None
    statuses: Callable[[], list[int]] = list
    http: bool = True
    secrets: list[str] = field(default_factory=list)


Wrapper = Callable[[httpx.BaseTransport, str], httpx.BaseTransport] | None

SAAS: dict[str, dict[str, Any]] = {
    "salesforce": {
        "fake": FakeSalesforce,
        "url": "https://example.my.salesforce.com",
        "options": {
            "auth": "client_credentials",
            "client_id": "3MVG9-test-consumer-key",
            "fields": {"project_code": "PSA_Project_Code__c"},
        },
        "secrets": {"salesforce_client_secret": "cs-test-secret"},
        "paged": "/services/data/",
    },
    "hubspot": {
        "fake": FakeHubSpot,
        "url": "https://api.hubapi.com",
        "options": {
            "fields": {
                "project_code": "psa_project_code",
                "practice": "practice",
                "legal_entity": "legal_entity",
            }
        },
        "secrets": {"hubspot_token": "pat-eu1-test-token"},
        "paged": "/crm/v3/objects/companies/search",
    },
    "netsuite": {
        "fake": FakeNetSuite,
        "url": "https://1234567-sb1.suitetalk.api.netsuite.com",
        "options": {
            "account_id": "1234567_sb1",
            "limit": 2,
            "timezone": NS_TIMEZONE,
            "fields": {"integration_users": ["svc-integration"]},
        },
        "secrets": {
            "netsuite_consumer_key": "ck-test",
            "netsuite_consumer_secret": "cs-test",
            "netsuite_token_id": "tk-test",
            "netsuite_token_secret": "ts-test",
        },
        "paged": "/services/rest/",
    },
    "n8n": {
        "fake": FakeN8n,
        "url": "https://n8n.example.com",
        "options": {
            "integrations": {"CRM won deal → PSA project": "crm_to_psa"},
            "object_key_path": "customData.opportunity_id",
            "object_system": "crm",
            "object_type": "deal",
            "limit": 2,
        },
        "secrets": {"n8n_api_key": "n8n-test-api-key"},
        "paged": "/api/v1/executions",
    },
}


def saas_settings(name: str, *, bad: bool = False) -> Settings:
    spec = SAAS[name]
    secrets = dict(spec["secrets"])
    if bad and name != "salesforce":  # a refused key; Salesforce: a revoked session instead
        last = sorted(secrets)[-1]
        secrets[last] = BAD_SECRET
    return Settings(
        database_url="sqlite://",
        collectors={name: CollectorSettings(base_url=spec["url"])},
        secrets={k: SecretStr(v) for k, v in secrets.items()},
    )


def saas_source(name: str) -> tuple[Source, FakeApi]:
    spec = SAAS[name]
    fake: FakeApi = spec["fake"]()

    def build(transport_wrapper: Wrapper = None, bad_credentials: bool = False) -> Collector:
        if name == "salesforce":
            fake.reject_all = bad_credentials
        transport: httpx.BaseTransport = fake.transport()
        if transport_wrapper is not None:
            transport = transport_wrapper(transport, spec["paged"])
        settings = saas_settings(name, bad=bad_credentials)
        return build_collector(name, settings, transport=transport, options={name: spec["options"]})

    source = Source(
        name,
        build,
        datetime(2025, 1, 1, tzinfo=UTC),
        spec["paged"],
        inject_429=lambda: fake.inject(429),
        statuses=fake.statuses,
        secrets=list(spec["secrets"].values()),
    )
    return source, fake


LOG_LINES = [
    {
        "ts": "2026-03-05T10:00:00Z",
        "app": "mulesoft",
        "flow": "opportunity-to-project",
        "outcome": "FAILED",
        "error": {"message": "Customer 'C-0042' has no tax id"},
        "correlationId": "corr-1",
        "eventId": "evt-1",
        "attempt": 1,
    },
    {
        "ts": "2026-03-05T10:05:00Z",
        "app": "mulesoft",
        "flow": "opportunity-to-project",
        "outcome": "SUCCESS",
        "correlationId": "corr-1",
        "eventId": "evt-2",
        "attempt": 2,
        "retryOf": "evt-1",
    },
    {
        "ts": "2026-03-05T10:07:00Z",
        "app": "mulesoft",
        "flow": "time-to-erp",
        "outcome": "SUCCESS",
        "correlationId": "corr-2",
        "eventId": "evt-3",
    },
]
LOG_OPTIONS = {
    "integration": "app",
    "flow": "flow",
    "status": "outcome",
    "started_at": "ts",
    "error_message": "error.message",
    "trace_key": "correlationId",
    "record_id": "eventId",
    "attempt": "attempt",
    "retry_of": "retryOf",
}


def log_options(path: Path) -> dict[str, Any]:
    return {
        "files": [{"name": "mulesoft", "path": str(path), "format": "jsonl", "fields": LOG_OPTIONS}]
    }


def logfile_source(tmp_path: Path) -> Source:
    path = tmp_path / "sync.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in LOG_LINES), encoding="utf-8")

    def build(transport_wrapper: Wrapper = None, bad_credentials: bool = False) -> Collector:
        settings = Settings(database_url="sqlite://")
        return build_collector("logfiles", settings, options={"logfiles": log_options(path)})

    return Source("logfiles", build, datetime(2025, 1, 1, tzinfo=UTC), "", http=False)


def demo_source(request: pytest.FixtureRequest, name: str) -> Source:
    from collectors.registry import COLLECTORS

    server = request.getfixturevalue("demo_server")
    prefix = "/" + COLLECTORS[name].path

    def build(transport_wrapper: Wrapper = None, bad_credentials: bool = False) -> Collector:
        token = {"token": BAD_SECRET} if bad_credentials else {}
        transport = transport_wrapper(httpx.HTTPTransport(), prefix) if transport_wrapper else None
        return build_collector(name, settings_for(server, **token), transport=transport)

    return Source(
        name,
        build,
        server.estate.start,
        prefix,
        inject_429=lambda: server.inject(prefix, statuses=[429], count=1),
        statuses=lambda: [s for p, s in server.requests_log if p.startswith(prefix)],
        secrets=[BAD_SECRET],
    )

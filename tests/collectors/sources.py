"""One source per registered connector for the contract suite, from its spec alone: the live demo
estate for a demo connector; the generic fake API serving its recorded fixtures
(`tests.collectors.fixture_api`) when its fixtures describe an API; else a copy of its fixture
files (a log file). How the connector is configured against them is the `contract` section of its
`fixtures.yaml` (URL, options, secrets; see `tests/fixtures/http/README.md`)."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from collectors.base import Collector
from collectors.registry import COLLECTORS, build_collector
from foundation.settings import CollectorSettings, Settings
from tests.collectors.conftest import settings_for
from tests.collectors.fixture_api import FixtureApi, manifest, serves_api

BAD_SECRET = "wrong-token"
#: Where a contract's runs start a backfill (before any recorded record).
BACKFILL_SINCE = datetime(2025, 1, 1, tzinfo=UTC)


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
    contract: dict[str, Any] = field(default_factory=dict)


Wrapper = Callable[[httpx.BaseTransport, str], httpx.BaseTransport] | None


def contract(name: str) -> dict[str, Any]:
    """The `contract` section of the connector's `fixtures.yaml` ({} without fixtures)."""
    spec = COLLECTORS[name]
    return manifest(spec.fixtures)["contract"] if spec.fixtures else {}


def is_http(name: str) -> bool:
    """Whether the connector reads an HTTP API in the contract suite (the demo estate's, or a
    fake one serving its fixtures)."""
    spec = COLLECTORS[name]
    return spec.kind == "demo" or bool(spec.fixtures and serves_api(spec.fixtures))


#: The connectors read from a fake API serving their recorded fixtures, with their contracts.
SAAS: dict[str, dict[str, Any]] = {
    name: contract(name)
    for name, spec in COLLECTORS.items()
    if spec.kind == "connector" and is_http(name)
}


def saas_settings(name: str, *, bad: bool = False) -> Settings:
    """Settings pointing the connector at its fake API; `bad`: a refused secret (unless the
    contract refuses the credentials at the fake instead, `refused_by: reject_all`)."""
    spec = SAAS[name]
    secrets = dict(spec["secrets"])
    if bad and spec.get("refused_by") != "reject_all":
        last = sorted(secrets)[-1]
        secrets[last] = BAD_SECRET
    return Settings(
        database_url="sqlite://",
        collectors={name: CollectorSettings(base_url=spec["url"])},
        secrets={k: SecretStr(v) for k, v in secrets.items()},
    )


def saas_source(name: str) -> tuple[Source, FixtureApi]:
    """The connector against a fake API serving its fixtures."""
    spec = SAAS[name]
    fixtures = COLLECTORS[name].fixtures
    assert fixtures is not None
    fake = FixtureApi(fixtures)

    def build(transport_wrapper: Wrapper = None, bad_credentials: bool = False) -> Collector:
        if spec.get("refused_by") == "reject_all":
            fake.reject_all = bad_credentials
        transport: httpx.BaseTransport = fake.transport()
        if transport_wrapper is not None:
            transport = transport_wrapper(transport, spec["paged"])
        settings = saas_settings(name, bad=bad_credentials)
        return build_collector(name, settings, transport=transport, options={name: spec["options"]})

    source = Source(
        name,
        build,
        _backfill_since(spec),
        spec["paged"],
        inject_429=lambda: fake.inject(429),
        statuses=fake.statuses,
        secrets=list(spec["secrets"].values()),
        contract=spec,
    )
    return source, fake


def files_source(name: str, tmp_path: Path) -> Source:
    """The connector reading a copy of its fixture files (``{fixtures}`` in its options)."""
    fixtures = COLLECTORS[name].fixtures
    assert fixtures is not None, f"{name} has no fixtures: give its spec a fixture directory"
    here = tmp_path / "fixtures"
    shutil.copytree(Path(__file__).resolve().parents[2] / fixtures, here)
    spec = contract(name)
    options = _placed(copy.deepcopy(spec.get("options") or {}), str(here))

    def build(transport_wrapper: Wrapper = None, bad_credentials: bool = False) -> Collector:
        return build_collector(name, Settings(database_url="sqlite://"), options={name: options})

    return Source(name, build, _backfill_since(spec), "", http=False, contract=spec)


def _placed(value: Any, where: str) -> Any:
    if isinstance(value, str):
        return value.replace("{fixtures}", where)
    if isinstance(value, list):
        return [_placed(v, where) for v in value]
    if isinstance(value, dict):
        return {k: _placed(v, where) for k, v in value.items()}
    return value


def _backfill_since(spec: dict[str, Any]) -> datetime:
    since = spec.get("backfill_since")
    if isinstance(since, date) and not isinstance(since, datetime):
        return datetime(since.year, since.month, since.day, tzinfo=UTC)
    return since or BACKFILL_SINCE


def demo_source(request: pytest.FixtureRequest, name: str) -> Source:
    """A demo connector against the live demo estate on loopback."""
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


def source_for(request: pytest.FixtureRequest, name: str, tmp_path: Path) -> Source:
    """The source the contract suite runs connector `name` against, from its spec."""
    if COLLECTORS[name].kind == "demo":
        return demo_source(request, name)
    if name in SAAS:
        return saas_source(name)[0]
    return files_source(name, tmp_path)

"""The explicit registry of collectors: every source Throughline can poll, by name.

A collector's connection settings come from `Settings.collectors[name]` (base URL, schedule);
its secret comes from the environment only. The demo collectors point at the demo estate
(`throughline demo` starts it on `Settings.demo_port`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from collectors import crm_salesforce, erp_netsuite, ipaas_jobs, psa_rest
from collectors.base import Collector
from collectors.http import BearerAuth
from throughline.settings import Settings

Factory = Callable[[str, str, httpx.Auth, httpx.BaseTransport | None], Collector]


@dataclass(frozen=True)
class CollectorSpec:
    """How to build one registered collector."""

    factory: Factory
    path: str
    description: str


def _salesforce(name: str, url: str, auth: httpx.Auth, t: httpx.BaseTransport | None) -> Collector:
    return crm_salesforce.collector(name, crm_salesforce.SalesforceConfig(url), auth, transport=t)


def _psa(name: str, url: str, auth: httpx.Auth, t: httpx.BaseTransport | None) -> Collector:
    return psa_rest.collector(name, psa_rest.PsaConfig(url), auth, transport=t)


def _netsuite(name: str, url: str, auth: httpx.Auth, t: httpx.BaseTransport | None) -> Collector:
    return erp_netsuite.collector(name, erp_netsuite.NetSuiteConfig(url), auth, transport=t)


def _ipaas(name: str, url: str, auth: httpx.Auth, t: httpx.BaseTransport | None) -> Collector:
    return ipaas_jobs.collector(name, url, auth, transport=t)


COLLECTORS: dict[str, CollectorSpec] = {
    "demo_crm": CollectorSpec(_salesforce, "crm", "Demo CRM (Salesforce REST API shape)"),
    "demo_psa": CollectorSpec(_psa, "psa", "Demo PSA (project and time REST API)"),
    "demo_erp": CollectorSpec(_netsuite, "erp", "Demo ERP (NetSuite SuiteQL shape)"),
    "demo_ipaas": CollectorSpec(_ipaas, "ipaas", "Demo iPaaS job log"),
}


class UnknownCollector(KeyError):
    """A collector name that is not in the registry."""

    def __str__(self) -> str:
        return f"no collector named {self.args[0]!r}; known: {', '.join(sorted(COLLECTORS))}"


def enabled_collectors(settings: Settings) -> list[str]:
    """Registered collectors that are not disabled in the settings."""
    return [name for name in COLLECTORS if settings.collector(name).enabled]


def build_collector(
    name: str, settings: Settings, *, transport: httpx.BaseTransport | None = None
) -> Collector:
    """The configured collector `name` (credentials resolved from the environment)."""
    spec = COLLECTORS.get(name)
    if spec is None:
        raise UnknownCollector(name)
    base = settings.collector(name).base_url or f"http://127.0.0.1:{settings.demo_port}"
    url = f"{base.rstrip('/')}/{spec.path}"
    token = settings.demo_token.get_secret_value() if settings.demo_token else ""
    return spec.factory(name, url, BearerAuth(token), transport)


def collector_sources(settings: Settings) -> dict[str, tuple[str, int]]:
    """Enabled collectors → (source system, interval seconds), for freshness and SLO feeds."""
    return {
        name: (
            build_collector(name, settings).source_system,
            settings.collector(name).interval_seconds,
        )
        for name in enabled_collectors(settings)
    }

"""The explicit registry of collectors: every source Throughline can poll, by name.

A collector's connection settings come from `Settings.collectors[name]` (base URL, schedule);
its secret comes from the environment only. The demo collectors read the demo estate and are
enabled only where their base URL is set: `throughline demo` sets it for the processes it
starts.

The connectors for real systems (`salesforce`, `hubspot`, `netsuite`, `n8n`, `logfiles`) are
registered too but stay disabled until configured: an HTTP connector once its base URL
(`THROUGHLINE_COLLECTORS__<NAME>__BASE_URL`) and its secrets (`THROUGHLINE_SECRETS__…`) are set,
the log-file collector once the connectors file lists files for it. Their field mappings and
other options (nothing secret) come from the YAML file named by `THROUGHLINE_CONNECTORS_FILE`,
one section per connector; see the README's "Connectors" section.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml

from collectors import (
    auth,
    crm_hubspot,
    crm_salesforce,
    erp_netsuite,
    erp_tryton,
    ipaas_jobs,
    ipaas_n8n,
    logfiles,
    psa_rest,
)
from collectors.base import Collector
from collectors.errors import AuthFailed
from collectors.http import ApiKeyHeaderAuth, BearerAuth
from metrics.canonical import ObjectType, SyncStatus
from throughline.settings import Settings

Factory = Callable[[str, str, httpx.Auth, httpx.BaseTransport | None], Collector]
Options = dict[str, Any]
#: Builds a connector from the settings, its options and (in tests) a transport.
ConnectorFactory = Callable[[str, Settings, Options, httpx.BaseTransport | None], Collector]
CONNECTORS_FILE_ENV = "THROUGHLINE_CONNECTORS_FILE"
_SECRET_WORDS = ("secret", "token", "password", "private_key", "api_key", "apikey")
T = TypeVar("T")
Needs = Callable[[Options], list[str]]


@dataclass(frozen=True)
class CollectorSpec:
    """How to build one registered collector.

    A demo collector has a `factory` (URL and bearer token of the demo estate); a connector has
    a `connector` factory, the `secrets` it needs, and is enabled only once `configured`.
    """

    factory: Factory | None
    path: str
    description: str
    connector: ConnectorFactory | None = None
    secrets: Needs | None = None  # the secrets it needs, given its options

    def configured(self, name: str, settings: Settings, options: Options) -> bool:
        """Whether it has what it needs to run: a demo collector its base URL (which `throughline
        demo` sets for its worker, so a production `collect` never polls a demo estate); a
        connector its URL (or files) and secrets."""
        has_url = bool(name in settings.collectors and settings.collectors[name].base_url)
        if self.connector is None:
            return has_url
        if name == "logfiles":
            return bool(options.get("files"))
        return has_url and not _missing(settings, self.required_secrets(options))

    def required_secrets(self, options: Options) -> list[str]:
        """The secrets this collector needs with these options."""
        return self.secrets(options) if self.secrets is not None else []


def _salesforce(name: str, url: str, auth: httpx.Auth, t: httpx.BaseTransport | None) -> Collector:
    return crm_salesforce.collector(name, crm_salesforce.SalesforceConfig(url), auth, transport=t)


def _psa(name: str, url: str, auth: httpx.Auth, t: httpx.BaseTransport | None) -> Collector:
    return psa_rest.collector(name, psa_rest.PsaConfig(url), auth, transport=t)


def _netsuite(name: str, url: str, auth: httpx.Auth, t: httpx.BaseTransport | None) -> Collector:
    return erp_netsuite.collector(name, erp_netsuite.NetSuiteConfig(url), auth, transport=t)


def _ipaas(name: str, url: str, auth: httpx.Auth, t: httpx.BaseTransport | None) -> Collector:
    return ipaas_jobs.collector(name, url, auth, transport=t)


# --- connector options ------------------------------------------------------------------------


def load_connector_options(path: str | None = None) -> dict[str, Options]:
    """Every connector's options from the YAML file (``THROUGHLINE_CONNECTORS_FILE``), if any.

    Secrets are refused in it, with a message naming the file and the key."""
    path = path if path is not None else os.environ.get(CONNECTORS_FILE_ENV)
    if not path:
        return {}
    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ValueError(f"{CONNECTORS_FILE_ENV} points to {file}, which does not exist") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"{file}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ValueError(f"{file}: expected one mapping of options per connector name")
    leaked = sorted(_secret_keys(data))
    if leaked:
        raise ValueError(
            f"{file}: {', '.join(leaked)} looks like a secret; secrets are only read from the "
            "environment (THROUGHLINE_SECRETS__…); remove it from the file"
        )
    return {str(k): dict(v) for k, v in data.items()}


def _secret_keys(data: Any, where: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            here = f"{where}.{key}" if where else str(key)
            name = str(key).lower()
            secret_like = any(w in name for w in _SECRET_WORDS)
            if (
                secret_like
                and not name.endswith(("_file", "_path"))
                and not isinstance(value, dict | list)
            ):
                found.append(here)
            found.extend(_secret_keys(value, here))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found.extend(_secret_keys(value, f"{where}[{i}]"))
    return found


def _build(cls: type[T], data: Mapping[str, Any] | None, where: str, **extra: Any) -> T:
    """A frozen dataclass from plain options; unknown keys are refused, lists become frozensets
    where the field is one."""
    values = dict(data or {})
    known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"{where}: unknown option {', '.join(unknown)}; known: {sorted(known)}")
    for key, value in values.items():
        default = known[key].default
        if isinstance(default, frozenset) and isinstance(value, list):
            values[key] = frozenset(str(v) for v in value)
    return cls(**values, **extra)


def _secret(settings: Settings, name: str) -> str | None:
    value = settings.secrets.get(name)
    return value.get_secret_value() if value is not None else None


class MissingSecret(httpx.Auth):
    """Stands in for credentials that are not configured: every request fails with a sentence."""

    def __init__(self, collector: str, names: list[str]) -> None:
        self._message = f"{collector} has no credentials: set " + ", ".join(
            f"THROUGHLINE_SECRETS__{n.upper()}" for n in names
        )

    def __repr__(self) -> str:
        return "MissingSecret()"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise AuthFailed(self._message)
        yield request  # unreachable: makes this a generator, as httpx expects


def _missing(settings: Settings, names: list[str]) -> list[str]:
    return [n for n in names if n not in settings.secrets]


def _salesforce_secrets(options: Options) -> list[str]:
    if options.get("auth", "client_credentials") == "jwt_bearer":
        return [] if options.get("private_key_file") else ["salesforce_private_key"]
    return ["salesforce_client_secret"]


def _fixed(*names: str) -> Needs:
    return lambda _options: list(names)


def _base_url(name: str, settings: Settings, default: str | None = None) -> str:
    url = settings.collector(name).base_url or default
    if not url:
        variable = f"THROUGHLINE_COLLECTORS__{name.upper()}__BASE_URL"
        raise ValueError(f"{name} has no base URL: set {variable}")
    return url


def _salesforce_connector(
    name: str, settings: Settings, options: Options, t: httpx.BaseTransport | None
) -> Collector:
    url = _base_url(name, settings)
    o = dict(options)
    mode = o.pop("auth", "client_credentials")
    client_id = o.pop("client_id", None) or _secret(settings, "salesforce_client_id") or ""
    token_url = o.pop("token_url", None)
    username, audience = o.pop("username", None), o.pop("audience", "https://login.salesforce.com")
    key_file = o.pop("private_key_file", None)
    fields = _build(crm_salesforce.SalesforceFields, o.pop("fields", None), f"{name}.fields")
    project = o.pop("project_object", None)
    invoice = o.pop("invoice_object", None)
    config = _build(
        crm_salesforce.SalesforceConfig, {"change_orders": False, **o}, name, instance_url=url,
        fields=fields,
        project_object=_build(crm_salesforce.SalesforceProjectObject, project,
                              f"{name}.project_object") if project else None,
        invoice_object=_build(crm_salesforce.SalesforceInvoiceObject, invoice,
                              f"{name}.invoice_object") if invoice else None,
    )  # fmt: skip
    missing = _missing(settings, _salesforce_secrets(options))
    credentials: httpx.Auth
    if missing:
        credentials = MissingSecret(name, missing)
    else:
        grant: auth.Grant
        if mode == "jwt_bearer":
            key = (
                Path(key_file).read_text(encoding="utf-8") if key_file
                else _secret(settings, "salesforce_private_key") or ""
            )  # fmt: skip
            grant = auth.JwtBearerGrant(client_id, str(username or ""), key, audience)
            token_url = token_url or f"{audience.rstrip('/')}/services/oauth2/token"
        elif mode == "client_credentials":
            secret = _secret(settings, "salesforce_client_secret") or ""
            grant = auth.ClientCredentialsGrant(client_id, secret)
            token_url = token_url or f"{url.rstrip('/')}/services/oauth2/token"
        else:
            raise ValueError(f"{name}.auth must be client_credentials or jwt_bearer, not {mode!r}")
        provider = auth.OAuthTokenProvider(token_url, grant, transport=t)
        credentials = BearerAuth(provider.token, refresh=provider.refresh)
    return crm_salesforce.collector(name, config, credentials, transport=t)


def _hubspot_connector(
    name: str, settings: Settings, options: Options, t: httpx.BaseTransport | None
) -> Collector:
    o = dict(options)
    fields = _build(crm_hubspot.HubSpotFields, o.pop("fields", None), f"{name}.fields")
    url = _base_url(name, settings, "https://api.hubapi.com")
    config = _build(crm_hubspot.HubSpotConfig, o, name, base_url=url, fields=fields)
    token = _secret(settings, "hubspot_token")
    credentials = BearerAuth(token) if token else MissingSecret(name, ["hubspot_token"])
    return crm_hubspot.collector(name, config, credentials, transport=t)


NETSUITE_SECRETS = (
    "netsuite_consumer_key", "netsuite_consumer_secret", "netsuite_token_id",
    "netsuite_token_secret",
)  # fmt: skip


def _netsuite_connector(
    name: str, settings: Settings, options: Options, t: httpx.BaseTransport | None
) -> Collector:
    o = dict(options)
    account = str(o.pop("account_id", "") or "")
    url = _base_url(name, settings)
    fields = _build(erp_netsuite.NetSuiteFields, o.pop("fields", None), f"{name}.fields")
    config = _build(erp_netsuite.NetSuiteConfig, {"projects": True, **o}, name, base_url=url,
                    fields=fields)  # fmt: skip
    missing = _missing(settings, list(NETSUITE_SECRETS))
    credentials: httpx.Auth
    if missing or not account:
        credentials = MissingSecret(name, missing or ["(and the account_id option)"])
    else:
        key, secret, token, token_secret = (_secret(settings, s) or "" for s in NETSUITE_SECRETS)
        realm = auth.netsuite_realm(account)
        credentials = auth.NetSuiteTokenAuth(realm, key, secret, token, token_secret)
    return erp_netsuite.collector(name, config, credentials, transport=t)


def _n8n_connector(
    name: str, settings: Settings, options: Options, t: httpx.BaseTransport | None
) -> Collector:
    o = dict(options)
    if o.get("object_type") is not None:
        o["object_type"] = ObjectType(o["object_type"])
    config = _build(ipaas_n8n.N8nConfig, o, name, base_url=_base_url(name, settings))
    key = _secret(settings, "n8n_api_key")
    credentials = ApiKeyHeaderAuth("X-N8N-API-KEY", key) if key else MissingSecret(
        name, ["n8n_api_key"])  # fmt: skip
    return ipaas_n8n.collector(name, config, credentials, transport=t)


def log_sources(options: Options, where: str = "logfiles") -> list[logfiles.LogSource]:
    """The log files declared under ``files`` (see the README's "Connectors")."""
    sources = []
    for i, entry in enumerate(options.get("files") or []):
        here = f"{where}.files[{i}]"
        if not isinstance(entry, dict):
            raise ValueError(f"{here}: expected a mapping")
        e = dict(entry)
        words = e.pop("status_values", {}) or {}
        statuses = {str(k): SyncStatus(str(v)) for k, v in words.items()}
        object_type = e.pop("object_type", None)
        mapping = logfiles.FieldMap(
            columns={str(k): str(v) for k, v in (e.pop("fields", {}) or {}).items()},
            defaults={str(k): str(v) for k, v in (e.pop("defaults", {}) or {}).items()},
            status_values=statuses, timezone=e.pop("timezone", None),
            object_system=e.pop("object_system", None),
            object_type=ObjectType(object_type) if object_type else None,
        )  # fmt: skip
        if "rotated" in e:
            e["rotated"] = tuple(str(p) for p in e["rotated"])
        sources.append(_build(logfiles.LogSource, e, here, fields=mapping))
    return sources


def _logfiles_connector(
    name: str, settings: Settings, options: Options, t: httpx.BaseTransport | None
) -> Collector:
    unknown = sorted(set(options) - {"files"})
    if unknown:
        raise ValueError(f"{name}: unknown option {', '.join(unknown)}; known: ['files']")
    return logfiles.collector(name, log_sources(options, name))


def _tryton_connector(
    name: str, settings: Settings, options: Options, t: httpx.BaseTransport | None
) -> Collector:
    if options:
        raise ValueError(f"{name}: takes no options in the connectors file; see the README")
    return erp_tryton.from_settings(name, settings, transport=t)


COLLECTORS: dict[str, CollectorSpec] = {
    "demo_crm": CollectorSpec(_salesforce, "crm", "Demo CRM (Salesforce REST API shape)"),
    "demo_psa": CollectorSpec(_psa, "psa", "Demo PSA (project and time REST API)"),
    "demo_erp": CollectorSpec(_netsuite, "erp", "Demo ERP (NetSuite SuiteQL shape)"),
    "demo_ipaas": CollectorSpec(_ipaas, "ipaas", "Demo iPaaS job log"),
    "salesforce": CollectorSpec(None, "salesforce", "Salesforce (REST, SOQL; OAuth 2.0)",
                                _salesforce_connector, _salesforce_secrets),
    "hubspot": CollectorSpec(None, "hubspot", "HubSpot CRM v3 (private-app token)",
                             _hubspot_connector, _fixed("hubspot_token")),
    "netsuite": CollectorSpec(None, "netsuite", "NetSuite SuiteQL (token-based auth)",
                              _netsuite_connector, _fixed(*NETSUITE_SECRETS)),
    "n8n": CollectorSpec(None, "n8n", "n8n executions (public API)", _n8n_connector,
                         _fixed("n8n_api_key")),
    "logfiles": CollectorSpec(None, "logfiles", "Integration log files (JSON lines, CSV)",
                              _logfiles_connector),
    "tryton": CollectorSpec(None, "tryton", "Tryton ERP (JSON-RPC): opportunities, projects, "
                            "timesheets, invoices, payments", _tryton_connector,
                            _fixed("tryton_password")),
}  # fmt: skip


class UnknownCollector(KeyError):
    """A collector name that is not in the registry."""

    def __str__(self) -> str:
        return f"no collector named {self.args[0]!r}; known: {', '.join(sorted(COLLECTORS))}"


def enabled_collectors(settings: Settings) -> list[str]:
    """Registered collectors that are configured (see `CollectorSpec.configured`) and not
    disabled."""
    options = load_connector_options()
    return [
        name for name, spec in COLLECTORS.items()
        if settings.collector(name).enabled
        and spec.configured(name, settings, options.get(name, {}))
    ]  # fmt: skip


def build_collector(
    name: str,
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None = None,
    options: Mapping[str, Options] | None = None,
) -> Collector:
    """The configured collector `name` (credentials resolved from the environment).

    ``options`` overrides the connectors file (tests pass them directly)."""
    spec = COLLECTORS.get(name)
    if spec is None:
        raise UnknownCollector(name)
    if spec.connector is not None:
        every = load_connector_options() if options is None else options
        return spec.connector(name, settings, dict(every.get(name, {})), transport)
    assert spec.factory is not None
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

"""The explicit registry of collectors: every source Throughline can poll, by name.

A collector's connection settings come from `Settings.collectors[name]` (base URL, schedule);
its secret comes from the environment only. The demo collectors read the demo estate and are
enabled only where their base URL is set: `throughline demo` sets it for the processes it
starts.

The connectors for real systems (`salesforce`, `hubspot`, `netsuite`, `n8n`, `logfiles`,
`tryton`) are registered too but stay disabled until configured: an HTTP connector once its base
URL (`THROUGHLINE_COLLECTORS__<NAME>__BASE_URL`) and its secrets (`THROUGHLINE_SECRETS__…`) are
set, the log-file collector once the connectors file lists files for it. Their field mappings and
other options (nothing secret) come from the YAML file named by `THROUGHLINE_CONNECTORS_FILE`,
one section per connector, validated against each connector's declared options
(`collectors.connector_options`); see the README's "Connectors" section. A configuration mistake
is a `ConfigurationError` (a `ValueError`) in one sentence naming the variable or the option.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from collectors.connector_options import SPECS, build_config, option_error, validate_options
from collectors.erp_netsuite_lookups import Entity
from collectors.errors import AuthFailed, ConfigurationError
from collectors.http import ApiKeyHeaderAuth, BearerAuth
from collectors.logfile_options import LogFilesConfig
from foundation.settings import Settings

Factory = Callable[[str, str, httpx.Auth, httpx.BaseTransport | None], Collector]
Options = dict[str, Any]
#: Builds a connector from its settings and validated options and (in tests) a transport.
ConnectorFactory = Callable[["Build", httpx.BaseTransport | None], Collector]
CONNECTORS_FILE_ENV = "THROUGHLINE_CONNECTORS_FILE"
_SECRET_WORDS = ("secret", "token", "password", "private_key", "api_key", "apikey")
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

    Each section is validated against its connector's options (`collectors.connector_options`);
    secrets, unknown connectors and options, wrong types and bad values are refused with a
    message naming the file, the connector and the key."""
    path = path if path is not None else os.environ.get(CONNECTORS_FILE_ENV)
    if not path:
        return {}
    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ConfigurationError(
            f"{CONNECTORS_FILE_ENV} points to {file}, which does not exist"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{file}: cannot be read ({exc})") from exc
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{file}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(v, dict | None) for v in data.values()):
        raise ConfigurationError(f"{file}: expected one mapping of options per connector name")
    leaked = sorted(_secret_keys(data))
    if leaked:
        raise ConfigurationError(
            f"{file}: {', '.join(leaked)} looks like a secret; secrets are only read from the "
            "environment (THROUGHLINE_SECRETS__…); remove it from the file"
        )
    sections = {str(k): dict(v or {}) for k, v in data.items()}
    for name, section in sections.items():
        if name not in SPECS:
            close = difflib.get_close_matches(name, list(SPECS), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigurationError(
                f"{file}: {name} is not a connector{hint}; known: {', '.join(SPECS)}"
            )
        validate_options(name, section, str(file))
    return sections


def _secret_keys(data: Any, where: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            here = f"{where}.{key}" if where else str(key)
            name = str(key).lower()
            secret_like = any(w in name for w in _SECRET_WORDS)
            if (
                secret_like
                and not name.endswith(("_file", "_path", "_url"))
                and not isinstance(value, dict | list)
            ):
                found.append(here)
            found.extend(_secret_keys(value, here))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found.extend(_secret_keys(value, f"{where}[{i}]"))
    return found


@dataclass(frozen=True)
class Build:
    """What a connector is built from: its settings and its validated options (`source` names
    where the options came from, for messages)."""

    name: str
    settings: Settings
    options: Options
    source: str

    def config(self, **elsewhere: Any) -> Any:
        """The connector's configuration dataclass from its options and `elsewhere`."""
        return build_config(self.name, self.options, self.source, **elsewhere)

    def error(self, key: str | None, problem: str) -> ConfigurationError:
        return option_error(self.source, self.name, key, problem)


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


def _base_url(b: Build, default: str | None = None) -> str:
    """The connector's URL (``THROUGHLINE_COLLECTORS__<NAME>__BASE_URL``), checked to be one."""
    variable = f"THROUGHLINE_COLLECTORS__{b.name.upper()}__BASE_URL"
    url = (b.settings.collector(b.name).base_url or default or "").strip()
    if not url:
        raise ConfigurationError(f"{b.name} has no base URL: set {variable}")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigurationError(
            f"{variable} must be an http(s) URL such as https://{b.name}.example.com,"
            f" not {url!r:.80}"
        )
    return url


def _salesforce_connector(b: Build, t: httpx.BaseTransport | None) -> Collector:
    url, o, settings = _base_url(b), b.options, b.settings
    config = b.config(instance_url=url)
    missing = _missing(settings, _salesforce_secrets(o))
    if missing:
        return crm_salesforce.collector(b.name, config, MissingSecret(b.name, missing), transport=t)
    client_id = o["client_id"] or _secret(settings, "salesforce_client_id")
    if not client_id:
        raise b.error(
            "client_id",
            "is required: the connected app's consumer key (or set"
            " THROUGHLINE_SECRETS__SALESFORCE_CLIENT_ID)",
        )
    grant: auth.Grant
    if o["auth"] == "jwt_bearer":
        if not o["username"]:
            raise b.error("username", "is required with auth: jwt_bearer (the user to act as)")
        grant = auth.JwtBearerGrant(client_id, o["username"], _private_key(b), o["audience"])
        token_url = o["token_url"] or f"{o['audience'].rstrip('/')}/services/oauth2/token"
    else:
        secret = _secret(settings, "salesforce_client_secret") or ""
        grant = auth.ClientCredentialsGrant(client_id, secret)
        token_url = o["token_url"] or f"{url.rstrip('/')}/services/oauth2/token"
    provider = auth.OAuthTokenProvider(token_url, grant, transport=t)
    credentials = BearerAuth(provider.token, refresh=provider.refresh)
    return crm_salesforce.collector(b.name, config, credentials, transport=t)


def _private_key(b: Build) -> str:
    path = b.options["private_key_file"]
    if not path:
        return _secret(b.settings, "salesforce_private_key") or ""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise b.error("private_key_file", f"{path} cannot be read ({reason})") from None


def _hubspot_connector(b: Build, t: httpx.BaseTransport | None) -> Collector:
    config = b.config(base_url=_base_url(b, "https://api.hubapi.com"))
    token = _secret(b.settings, "hubspot_token")
    credentials = BearerAuth(token) if token else MissingSecret(b.name, ["hubspot_token"])
    return crm_hubspot.collector(b.name, config, credentials, transport=t)


NETSUITE_SECRETS = (
    "netsuite_consumer_key",
    "netsuite_consumer_secret",
    "netsuite_token_id",
    "netsuite_token_secret",
)


def _netsuite_connector(b: Build, t: httpx.BaseTransport | None) -> Collector:
    _check_entities(b)
    entities = tuple(Entity(e.code, e.name, e.country) for e in b.settings.legal_entities)
    config = b.config(base_url=_base_url(b), entities=entities)
    account = (b.options["account_id"] or "").strip()
    missing = _missing(b.settings, list(NETSUITE_SECRETS))
    credentials: httpx.Auth
    if missing:
        credentials = MissingSecret(b.name, missing)
    elif not account:
        raise b.error("account_id", "is required: the account's id as in its URL (1234567_SB1)")
    else:
        key, secret, token, token_secret = (_secret(b.settings, s) or "" for s in NETSUITE_SECRETS)
        realm = auth.netsuite_realm(account)
        credentials = auth.NetSuiteTokenAuth(realm, key, secret, token, token_secret)
    return erp_netsuite.collector(b.name, config, credentials, transport=t)


def _n8n_connector(b: Build, t: httpx.BaseTransport | None) -> Collector:
    config = b.config(base_url=_base_url(b))
    key = _secret(b.settings, "n8n_api_key")
    credentials = (
        ApiKeyHeaderAuth("X-N8N-API-KEY", key) if key else MissingSecret(b.name, ["n8n_api_key"])
    )
    return ipaas_n8n.collector(b.name, config, credentials, transport=t)


def log_sources(options: Options, where: str = "logfiles") -> list[logfiles.LogSource]:
    """The log files declared under ``files`` (see the README's "Connectors")."""
    values = validate_options("logfiles", options, where)
    config: LogFilesConfig = build_config("logfiles", values, where)
    return config.sources()


def _logfiles_connector(b: Build, t: httpx.BaseTransport | None) -> Collector:
    config: LogFilesConfig = b.config()
    return logfiles.collector(b.name, config.sources())


def _check_entities(b: Build) -> None:
    """`legal_entities` maps to configured entity codes only (else: no business calendar)."""
    codes = [e.code for e in b.settings.legal_entities]
    unknown = sorted(set(b.options["legal_entities"].values()) - set(codes))
    if unknown:
        raise b.error(
            "legal_entities",
            f"{', '.join(unknown)} is not a configured legal entity"
            f" (known: {', '.join(codes)}; see THROUGHLINE_LEGAL_ENTITIES)",
        )


def _tryton_connector(b: Build, t: httpx.BaseTransport | None) -> Collector:
    _check_entities(b)
    return erp_tryton.from_settings(b.name, b.settings, b.options, transport=t)


COLLECTORS: dict[str, CollectorSpec] = {
    "demo_crm": CollectorSpec(_salesforce, "crm", "Demo CRM (Salesforce REST API shape)"),
    "demo_psa": CollectorSpec(_psa, "psa", "Demo PSA (project and time REST API)"),
    "demo_erp": CollectorSpec(_netsuite, "erp", "Demo ERP (NetSuite SuiteQL shape)"),
    "demo_ipaas": CollectorSpec(_ipaas, "ipaas", "Demo iPaaS job log"),
    "salesforce": CollectorSpec(
        None,
        "salesforce",
        "Salesforce (REST, SOQL; OAuth 2.0)",
        _salesforce_connector,
        _salesforce_secrets,
    ),
    "hubspot": CollectorSpec(
        None,
        "hubspot",
        "HubSpot CRM v3 (private-app token)",
        _hubspot_connector,
        _fixed("hubspot_token"),
    ),
    "netsuite": CollectorSpec(
        None,
        "netsuite",
        "NetSuite SuiteQL (token-based auth)",
        _netsuite_connector,
        _fixed(*NETSUITE_SECRETS),
    ),
    "n8n": CollectorSpec(
        None, "n8n", "n8n executions (public API)", _n8n_connector, _fixed("n8n_api_key")
    ),
    "logfiles": CollectorSpec(
        None, "logfiles", "Integration log files (JSON lines, CSV)", _logfiles_connector
    ),
    "tryton": CollectorSpec(
        None,
        "tryton",
        "Tryton ERP (JSON-RPC): opportunities, projects, timesheets, invoices, payments",
        _tryton_connector,
        _fixed("tryton_password"),
    ),
}


class UnknownCollector(KeyError):
    """A collector name that is not in the registry."""

    def __str__(self) -> str:
        return f"no collector named {self.args[0]!r}; known: {', '.join(sorted(COLLECTORS))}"


def enabled_collectors(settings: Settings) -> list[str]:
    """Registered collectors that are configured (see `CollectorSpec.configured`) and not
    disabled."""
    options = load_connector_options()
    return [
        name
        for name, spec in COLLECTORS.items()
        if settings.collector(name).enabled
        and spec.configured(name, settings, options.get(name, {}))
    ]


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
        every: Mapping[str, Options]
        if options is None:
            source = os.environ.get(CONNECTORS_FILE_ENV) or "the connectors file"
            every = load_connector_options()
        else:
            source, every = "the connector options", options
        values = validate_options(name, dict(every.get(name) or {}), source)
        return spec.connector(Build(name, settings, values, source), transport)
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

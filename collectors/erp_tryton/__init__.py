"""Tryton (open-source ERP) over JSON-RPC: opportunities, projects, timesheets, invoices, payments.

API: https://docs.tryton.org/projects/server/en/latest/topics/rpc.html — `POST /<database>/rpc/`,
`common.db.login` then `Authorization: Session …` (see `client`). Each stream calls
`model.<name>.search_read(domain, offset, limit, order, fields_names, context)` over one model,
sorted by (`last_modified_at`, `id`) and paged by keyset (see `keyset`); a page holds
`page_size` rows (default 200). Tryton has no request rate limit of its own (a login rate limit
answers 429, retried by the shared client); an expired session answers 401 and the collector
logs in again once. Models and fields were checked against trytond 8.2's source:

==================  =========================  ==========================================
stream              model                      canonical rows
==================  =========================  ==========================================
opportunities       `sale.opportunity`         `deal`, `deal.won` / `lost` / `reopened`
                    + `sale.sale`, audit log   (replayed from the sales' transitions)
projects            `project.work` (projects)  `project`, `project.created`, `provisions`
timesheet_lines     `timesheet.line`           `work_item`, `work.logged` / `approved`,
                                               `part_of`, `billed_on`, invoice `bills`
invoices            `account.invoice` (out)    `invoice`, `invoice.created` / `posted` /
                    + `payment_lines`          `voided`; `payment`, `payment.received`,
                                               `settled_by`
==================  =========================  ==========================================

Core Tryton stores no link from an opportunity to a project: `DealLink` says how to find it
(the party's last won opportunity, or a field of the project). Every object's source system is
`tryton`, so Tryton's records never collide with another source's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from collectors.base import Collector, HttpCollector
from collectors.connector_options import OptionsSpec, url_variable
from collectors.erp_tryton.client import TrytonError, TrytonModelMissing, TrytonSession
from collectors.erp_tryton.enrich import DealLink
from collectors.erp_tryton.keyset import TrytonStream
from collectors.erp_tryton.streams import StreamOptions, streams
from collectors.erp_tryton.values import SYSTEM, TrytonMapping
from collectors.errors import ConfigurationError
from collectors.spec import ConnectorSpec, Context
from foundation.settings import Settings

__all__ = [
    "SPEC",
    "SYSTEM",
    "DealLink",
    "TrytonConfig",
    "TrytonError",
    "TrytonModelMissing",
    "TrytonSession",
    "TrytonStream",
    "collector",
    "database_url",
    "from_settings",
    "streams_for",
]


@dataclass(frozen=True)
class TrytonConfig:
    """Where the Tryton database is and how its records are read.

    `base_url` is the database's URL, `http(s)://<host>:<port>/<database>/`.
    `legal_entities` maps a company's name to a legal entity code (its business calendar);
    an unlisted company is its own entity (weekends only). `integration_users` are the logins
    whose projects count as touchless handoffs.
    """

    base_url: str
    login: str = "admin"
    legal_entities: Mapping[str, str] = field(default_factory=dict)
    deal_link: DealLink = field(default_factory=DealLink)
    integration_users: frozenset[str] = frozenset()
    page_size: int = 200
    language: str = "en"

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= 10_000:
            raise ValueError(f"page_size: 1 to 10000 records a call, not {self.page_size}")

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/") + "/"


def streams_for(config: TrytonConfig) -> list[TrytonStream]:
    """The Tryton streams for this configuration."""
    mapping = TrytonMapping(dict(config.legal_entities), config.integration_users)
    return streams(StreamOptions(mapping, config.deal_link, config.page_size))


def collector(
    name: str,
    config: TrytonConfig,
    session: TrytonSession,
    *,
    transport: httpx.BaseTransport | None = None,
) -> HttpCollector:
    """A Tryton collector that logs in through `session` (and again after a 401)."""
    return HttpCollector(
        name=name,
        source_system=SYSTEM,
        streams=streams_for(config),
        base_url=config.url,
        auth=session.auth(),
        transport=transport,
    )


def database_url(url: str, variable: str) -> str:
    """`url` as the database's URL, `http(s)://host:port/<database>/` (a trailing ``rpc/``
    dropped); a URL without a database name is refused naming `variable` and the expected form
    (Tryton would answer every call as if a module were missing)."""
    parsed = httpx.URL(url.strip())
    path = parsed.path.strip("/").removesuffix("rpc").strip("/")
    if parsed.scheme not in ("http", "https") or not parsed.host or not path:
        raise ConfigurationError(
            f"{variable} must be the database's URL, https://host:8000/<database>/, with the"
            f" database name; not {url!r:.80}"
        )
    return str(parsed.copy_with(path=f"/{path}/", query=None, fragment=None))


def from_settings(
    name: str,
    settings: Settings,
    options: Mapping[str, Any] | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
) -> HttpCollector:
    """The collector `name` as the settings and its (validated) options describe it.

    URL: `THROUGHLINE_COLLECTORS__<NAME>__BASE_URL` (`http(s)://host:port/<database>/`);
    credentials from the environment only: `THROUGHLINE_SECRETS__<NAME>_PASSWORD` and
    `THROUGHLINE_SECRETS__<NAME>_LOGIN` (default `admin`). A Tryton company whose name is a
    configured legal entity's name reports as that entity (its calendar and currency), and so
    does one `options["legal_entities"]` maps to an entity code. Options: the fields of
    `TrytonConfig` but the URL and the login (`deal_link`, `integration_users`, …).
    """
    variable = f"THROUGHLINE_COLLECTORS__{name.upper()}__BASE_URL"
    base_url = settings.collector(name).base_url
    if not base_url:
        raise ConfigurationError(f"{name} has no base URL: set {variable} (the database's URL)")
    url = database_url(base_url, variable)
    password = settings.secrets.get(f"{name}_password")
    if password is None:
        raise ConfigurationError(
            f"{name} has no password: set THROUGHLINE_SECRETS__{name.upper()}_PASSWORD"
        )
    login = settings.secrets.get(f"{name}_login")
    values = dict(options or {})
    entities = {e.name: e.code for e in settings.legal_entities}
    values["legal_entities"] = {**entities, **dict(values.get("legal_entities") or {})}
    config = TrytonConfig(url, login=login.get_secret_value() if login else "admin", **values)
    session = TrytonSession(
        config.url,
        config.login,
        password.get_secret_value(),
        language=config.language,
        transport=transport,
    )
    return collector(name, config, session, transport=transport)


def _build(c: Context) -> Collector:
    c.check_entities()
    return from_settings(c.name, c.settings, c.options, transport=c.transport)


SPEC = ConnectorSpec(
    name="tryton",
    kind="connector",
    description="Tryton ERP (JSON-RPC): opportunities, projects, timesheets, invoices, payments",
    build=_build,
    streams=("opportunities", "projects", "timesheet_lines", "invoices"),
    options=OptionsSpec(
        TrytonConfig, {**url_variable("tryton"), "login": "THROUGHLINE_SECRETS__TRYTON_LOGIN"}
    ),
    secrets=("tryton_password",),
    fixtures="tests/fixtures/http/tryton",
)

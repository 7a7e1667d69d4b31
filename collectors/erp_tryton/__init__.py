"""Tryton (open-source ERP) over JSON-RPC: opportunities, projects, timesheets, invoices, payments.

API: https://docs.tryton.org/projects/server/en/latest/topics/rpc.html — `POST /<database>/rpc/`,
`common.db.login` then `Authorization: Session …` (see `client`). Each stream calls
`model.<name>.search_read(domain, offset, limit, order, fields_names, context)` over one model,
sorted by (`last_modified_at`, `id`) and paged by keyset (see `streams`); a page holds
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

import httpx

from collectors.base import HttpCollector
from collectors.erp_tryton.client import TrytonError, TrytonModelMissing, TrytonSession
from collectors.erp_tryton.mapping import SYSTEM, TrytonMapping
from collectors.erp_tryton.streams import DealLink, StreamOptions, TrytonStream, streams
from throughline.settings import Settings

__all__ = [
    "SYSTEM", "DealLink", "TrytonConfig", "TrytonError", "TrytonModelMissing", "TrytonSession",
    "TrytonStream", "collector", "from_settings", "streams_for",
]  # fmt: skip


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

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/") + "/"


def streams_for(config: TrytonConfig) -> list[TrytonStream]:
    """The Tryton streams for this configuration."""
    mapping = TrytonMapping(dict(config.legal_entities), config.integration_users)
    return streams(StreamOptions(mapping, config.deal_link, config.page_size))


def collector(
    name: str, config: TrytonConfig, session: TrytonSession,
    *, transport: httpx.BaseTransport | None = None,
) -> HttpCollector:  # fmt: skip
    """A Tryton collector that logs in through `session` (and again after a 401)."""
    return HttpCollector(
        name=name, source_system=SYSTEM, streams=streams_for(config), base_url=config.url,
        auth=session.auth(), transport=transport,
    )  # fmt: skip


def from_settings(
    name: str, settings: Settings, *, transport: httpx.BaseTransport | None = None
) -> HttpCollector:
    """The collector `name` as the settings describe it (the registry's way in).

    URL: `THROUGHLINE_COLLECTORS__<NAME>__BASE_URL` (`http(s)://host:port/<database>/`);
    credentials from the environment only: `THROUGHLINE_SECRETS__<NAME>_PASSWORD` and
    `THROUGHLINE_SECRETS__<NAME>_LOGIN` (default `admin`). A Tryton company whose name is a
    configured legal entity's name reports as that entity (its calendar and currency).
    """
    base_url = settings.collector(name).base_url
    password = settings.secrets.get(f"{name}_password")
    if not base_url or password is None:
        raise ValueError(
            f"the {name} collector needs THROUGHLINE_COLLECTORS__{name.upper()}__BASE_URL (the"
            f" database URL) and THROUGHLINE_SECRETS__{name.upper()}_PASSWORD"
        )
    login = settings.secrets.get(f"{name}_login")
    config = TrytonConfig(
        base_url,
        login=login.get_secret_value() if login else "admin",
        legal_entities={e.name: e.code for e in settings.legal_entities},
    )
    session = TrytonSession(
        config.url, config.login, password.get_secret_value(), language=config.language,
        transport=transport,
    )  # fmt: skip
    return collector(name, config, session, transport=transport)

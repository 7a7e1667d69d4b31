"""NetSuite SuiteQL (and the demo ERP, which speaks it): customers, invoices, credit notes,
payments and daily exchange rates.

API: https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_157909186990.html
`POST /services/rest/query/v1/suiteql?limit=<≤1000>&offset=<n>` with `Prefer: transient` and
`{"q": "<SuiteQL>"}`; pages while `hasMore`. Every value comes back as a string and nulls are
omitted. Order: `ORDER BY lastmodifieddate, id` (sorted by the cursor). Limits: concurrency per
account; 429 is retried by the shared client.

Dates: SuiteQL answers a plain DATE or date-time column in the integration user's date
preference ("11/24/2026", "24.11.2026"; date-times as "11/24/2026 3:05 pm" in the user's time
zone), so every query names its columns and formats the date ones itself:
``TO_CHAR(col, 'YYYY-MM-DD')`` for dates and ``TO_CHAR(col, 'YYYY-MM-DD"T"HH24:MI:SS')`` for
date-times (Oracle format models; SuiteQL supports TO_CHAR/TO_DATE,
https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_158513731864.html). The
date-times are wall-clock times in the user's time zone preference, so they are read in
`NetSuiteConfig.timezone` (default UTC) and handed on as ISO 8601 UTC; the cursor filter is
``lastmodifieddate >= TO_DATE('<wall clock>', 'YYYY-MM-DD HH24:MI:SS')`` in that zone. A value in
another shape (a column that was not formatted) is quarantined, never guessed.

A real account authenticates with token-based authentication (OAuth 1.0a, HMAC-SHA256; see
`collectors.auth.NetSuiteTokenAuth`). With `NetSuiteConfig.projects` the collector also reads
projects (the `job` table) and time bills (`timebill`); which custom entity field on the job holds
the CRM opportunity id (deal → project `provisions`) is configuration. Every column a query names
must exist in the account: a custom field the firm does not have is set to null in `fields`.

Currencies and subsidiaries come back as internal ids; `collectors.erp_netsuite.lookups` turns
them into ISO codes and legal entities (one read of each list per run), so amounts convert. A
time bill's `hours` may come as a duration `H:MM` (`7:30`) or a decimal (`7.5`); both are hours.
"""

from __future__ import annotations

from collectors import auth
from collectors.base import Collector
from collectors.connector_options import OptionsSpec, url_variable
from collectors.erp_netsuite.config import SYSTEM, NetSuiteConfig, NetSuiteFields
from collectors.erp_netsuite.lookups import Entity, Lookups
from collectors.erp_netsuite.mapping import (
    hours,
    map_currency_rate,
    map_customer,
    map_invoice,
    map_job,
    map_payment,
    map_timebill,
)
from collectors.erp_netsuite.streams import collector, streams
from collectors.erp_netsuite.suiteql import (
    LOOKBACK,
    QUERY_PATH,
    SuiteQLStream,
    localize,
    wall_clock,
)
from collectors.spec import ConnectorSpec, Context

__all__ = [
    "LOOKBACK",
    "QUERY_PATH",
    "SECRETS",
    "SPEC",
    "SYSTEM",
    "Entity",
    "Lookups",
    "NetSuiteConfig",
    "NetSuiteFields",
    "SuiteQLStream",
    "collector",
    "hours",
    "localize",
    "map_currency_rate",
    "map_customer",
    "map_invoice",
    "map_job",
    "map_payment",
    "map_timebill",
    "streams",
    "wall_clock",
]
SECRETS = (
    "netsuite_consumer_key",
    "netsuite_consumer_secret",
    "netsuite_token_id",
    "netsuite_token_secret",
)


def _build(c: Context) -> Collector:
    c.check_entities()
    entities = tuple(Entity(e.code, e.name, e.country) for e in c.settings.legal_entities)
    config = c.config(base_url=c.base_url(), entities=entities)
    account = (c.options["account_id"] or "").strip()

    def token_auth(key: str, secret: str, token: str, token_secret: str) -> auth.NetSuiteTokenAuth:
        if not account:
            raise c.error("account_id", "is required: the account's id as in its URL (1234567_SB1)")
        realm = auth.netsuite_realm(account)
        return auth.NetSuiteTokenAuth(realm, key, secret, token, token_secret)

    credentials = c.credentials(SECRETS, token_auth)
    return collector(c.name, config, credentials, transport=c.transport)


SPEC = ConnectorSpec(
    name="netsuite",
    kind="connector",
    description="NetSuite SuiteQL (token-based auth)",
    build=_build,
    streams=(
        "customers",
        "invoices",
        "credit_notes",
        "payments",
        "currency_rates",
        "projects",
        "time_bills",
    ),
    options=OptionsSpec(
        NetSuiteConfig,
        {**url_variable("netsuite"), "entities": "THROUGHLINE_LEGAL_ENTITIES"},
        connection={"account_id": (str | None, None)},
        defaults={"projects": True},
    ),
    secrets=SECRETS,
    fixtures="tests/fixtures/http/netsuite",
)

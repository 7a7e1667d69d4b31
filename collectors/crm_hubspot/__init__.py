"""HubSpot CRM v3: deals (won time = the date a deal entered its closed-won stage) and companies.

API: https://developers.hubspot.com/docs/api/crm/search (``POST /crm/v3/objects/{deals|companies}
/search``), associations https://developers.hubspot.com/docs/api/crm/associations (``POST
/crm/v4/associations/deals/companies/batch/read``) and ``POST /crm/v3/objects/companies/batch/read``
for the associated companies' names. Auth: a private-app access token as a bearer token.

Paging: the search body's ``after`` ← ``paging.next.after``; no ``paging`` on the last page.
Order: filtered on ``hs_lastmodifieddate`` ≥ the cursor (milliseconds since the epoch) and sorted
ascending by it, so the streams are sorted by their cursor (the record's ``updatedAt``). Search
returns at most 10,000 results per query: past that the walk starts a new query from the newest
``hs_lastmodifieddate`` it has read (boundary duplicates are absorbed by the upsert). New writes
take a few seconds to reach the search index, hence the look-back. Limits: 100 requests per 10 s
per account and about 5 search requests per second; 429s are retried by the shared client.

Won time: HubSpot's stage-calculated property ``hs_v2_date_entered_<stage id>`` (the legacy
``hs_date_entered_<stage id>`` was sunset) of the won stage(s) — never the editable close date. A
deal whose current stage is open but that has left a closed stage (``hs_v2_date_exited_…``) was
reopened then. Which property carries the PSA project code is configuration.

Owners: a deal's ``hubspot_owner_id`` is resolved to the owner's name (else email) through the
owners API, read once a run (`collectors.crm_hubspot.owners`); an owner the API does not list
(deactivated, or unknown) stays its id, kept in the deal's attributes either way.
"""

from __future__ import annotations

from collectors.base import Collector
from collectors.connector_options import OptionsSpec, url_variable
from collectors.crm_hubspot.associations import attach_companies
from collectors.crm_hubspot.config import (
    COMPANIES_KEY,
    LOOKBACK,
    PRIMARY_COMPANY_TYPE_ID,
    SEARCH_RESULT_CAP,
    HubSpotConfig,
    HubSpotFields,
)
from collectors.crm_hubspot.mapping import map_company, map_deal
from collectors.crm_hubspot.search import SearchStream, collector, streams
from collectors.http import BearerAuth
from collectors.spec import ConnectorSpec, Context

__all__ = [
    "COMPANIES_KEY",
    "LOOKBACK",
    "PRIMARY_COMPANY_TYPE_ID",
    "SEARCH_RESULT_CAP",
    "SPEC",
    "HubSpotConfig",
    "HubSpotFields",
    "SearchStream",
    "attach_companies",
    "collector",
    "map_company",
    "map_deal",
    "streams",
]


def _build(c: Context) -> Collector:
    config = c.config(base_url=c.base_url("https://api.hubapi.com"))
    credentials = c.credentials(["hubspot_token"], BearerAuth)
    return collector(c.name, config, credentials, transport=c.transport)


SPEC = ConnectorSpec(
    name="hubspot",
    kind="connector",
    description="HubSpot CRM v3 (private-app token)",
    build=_build,
    streams=("companies", "deals"),
    options=OptionsSpec(HubSpotConfig, url_variable("hubspot")),
    secrets=("hubspot_token",),
    fixtures="tests/fixtures/http/hubspot",
)

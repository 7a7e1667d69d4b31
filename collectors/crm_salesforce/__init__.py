"""Salesforce REST (and the demo CRM, which speaks it): deals, stage history, contracts.

API: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query.htm
Paging: `nextRecordsUrl` (relative to the instance URL) until `done`; `Sforce-Query-Options:
batchSize=N` (200–2000). Order: `ORDER BY <cursor>, Id`, so streams are sorted by their cursor
(`SystemModstamp`; `CreatedDate` for the immutable field history). Limits: a daily API request
allocation; 429 and 503 are retried by the shared client, honouring `Retry-After`.
The won time of a deal is the first `OpportunityFieldHistory` row whose new stage is the won
stage — never the editable `CloseDate`.

Cross-system identity is configuration: `SalesforceFields.project_code` names the Opportunity
field holding the PSA project code (deal → project `provisions`); a firm that keeps projects or
invoices in Salesforce objects (e.g. a PSA package's project object) declares them with
`SalesforceProjectObject` / `SalesforceInvoiceObject`. Authentication for a real org: OAuth 2.0
client credentials or JWT bearer (`collectors.auth`), refreshed once on a 401.
"""

from __future__ import annotations

from collectors.connector_options import OptionsSpec
from collectors.crm_salesforce import connect
from collectors.crm_salesforce.config import (
    PSA_SYSTEM,
    SYSTEM,
    SalesforceConfig,
    SalesforceFields,
    SalesforceInvoiceObject,
    SalesforceProjectObject,
)
from collectors.crm_salesforce.mapping import (
    map_account,
    map_change_order,
    map_contract,
    map_invoice_object,
    map_opportunity,
    map_project_object,
    map_stage_history,
    stage_activity,
)
from collectors.crm_salesforce.streams import LOOKBACK, SoqlStream, collector, streams
from collectors.spec import ConnectorSpec

__all__ = [
    "LOOKBACK",
    "PSA_SYSTEM",
    "SPEC",
    "SYSTEM",
    "SalesforceConfig",
    "SalesforceFields",
    "SalesforceInvoiceObject",
    "SalesforceProjectObject",
    "SoqlStream",
    "collector",
    "map_account",
    "map_change_order",
    "map_contract",
    "map_invoice_object",
    "map_opportunity",
    "map_project_object",
    "map_stage_history",
    "stage_activity",
    "streams",
]

SPEC = ConnectorSpec(
    name="salesforce",
    kind="connector",
    description="Salesforce (REST, SOQL; OAuth 2.0)",
    build=connect.build,
    streams=(
        "accounts",
        "opportunities",
        "stage_history",
        "contracts",
        "change_orders",
        "projects",
        "invoices",
    ),
    options=OptionsSpec(
        SalesforceConfig,
        elsewhere={"instance_url": "THROUGHLINE_COLLECTORS__SALESFORCE__BASE_URL"},
        connection=connect.CONNECTION,
        defaults={"change_orders": False},
    ),
    secrets=connect.secrets,
    fixtures="tests/fixtures/http/salesforce",
)

"""The demo estate's CRM, which speaks Salesforce's REST API (`collectors.crm_salesforce`)."""

from __future__ import annotations

from collectors.base import Collector
from collectors.crm_salesforce import SalesforceConfig, collector
from collectors.spec import ConnectorSpec, Context


def _build(c: Context) -> Collector:
    return collector(c.name, SalesforceConfig(c.demo_url()), c.demo_auth(), transport=c.transport)


SPEC = ConnectorSpec(
    name="demo_crm",
    kind="demo",
    description="Demo CRM (Salesforce REST API shape)",
    build=_build,
    streams=("accounts", "opportunities", "stage_history", "contracts", "change_orders"),
    path="crm",
)

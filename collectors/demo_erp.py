"""The demo estate's ERP, which speaks NetSuite's SuiteQL (`collectors.erp_netsuite`)."""

from __future__ import annotations

from collectors.base import Collector
from collectors.erp_netsuite import NetSuiteConfig, collector
from collectors.spec import ConnectorSpec, Context


def _build(c: Context) -> Collector:
    return collector(c.name, NetSuiteConfig(c.demo_url()), c.demo_auth(), transport=c.transport)


SPEC = ConnectorSpec(
    name="demo_erp",
    kind="demo",
    description="Demo ERP (NetSuite SuiteQL shape)",
    build=_build,
    streams=("customers", "invoices", "credit_notes", "payments", "currency_rates"),
    path="erp",
)

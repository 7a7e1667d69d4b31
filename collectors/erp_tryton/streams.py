"""The Tryton streams: opportunities, projects, timesheet lines and customer invoices, each one
model read by its keyset walk (`keyset`) and enriched (`enrich`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from collectors.erp_tryton.billing import map_invoice, map_timesheet_line
from collectors.erp_tryton.enrich import (
    DealLink,
    attach_payments,
    attach_projects,
    attach_sales_history,
    link_projects,
)
from collectors.erp_tryton.keyset import TrytonStream
from collectors.erp_tryton.mapping import map_opportunity, map_project
from collectors.erp_tryton.values import TrytonMapping

OPPORTUNITY_FIELDS = (
    "id",
    "number",
    "description",
    "state",
    "start_date",
    "end_date",
    "amount",
    "party.rec_name",
    "company.rec_name",
    "currency.code",
    "employee.rec_name",
)


@dataclass(frozen=True)
class StreamOptions:
    """What the streams are configured with."""

    mapping: TrytonMapping
    deal_link: DealLink = field(default_factory=DealLink)
    page_size: int = 200


def streams(o: StreamOptions) -> list[TrytonStream]:
    """Opportunities, projects, timesheet lines and customer invoices (with their payments)."""
    m, n = o.mapping, o.page_size
    project_fields = (
        "id",
        "name",
        "number",
        "type",
        "project_invoice_method",
        "party.rec_name",
        "company.rec_name",
        "currency.code",
        "status.rec_name",
        "create_uid.login",
    ) + ((o.deal_link.field,) if o.deal_link.rule == "field" else ())
    return [
        TrytonStream(
            "opportunities",
            "sale.opportunity",
            OPPORTUNITY_FIELDS,
            lambda r: map_opportunity(r, m),
            enrich=attach_sales_history,
            page_size=n,
        ),
        TrytonStream(
            "projects",
            "project.work",
            project_fields,
            lambda r: map_project(r, m),
            domain=(("type", "=", "project"),),
            enrich=link_projects(o.deal_link),
            page_size=n,
        ),
        TrytonStream(
            "timesheet_lines",
            "timesheet.line",
            (
                "id",
                "date",
                "duration",
                "description",
                "work.origin",
                "employee.rec_name",
                "company.rec_name",
                "invoice_line.invoice",
            ),
            lambda r: map_timesheet_line(r, m),
            enrich=attach_projects,
            page_size=n,
        ),
        TrytonStream(
            "invoices",
            "account.invoice",
            (
                "id",
                "number",
                "type",
                "state",
                "invoice_date",
                "total_amount",
                "payment_lines",
                "party.rec_name",
                "company.rec_name",
                "currency.code",
                "move.create_date",
                "cancel_move.create_date",
            ),
            lambda r: map_invoice(r, m),
            domain=(("type", "=", "out"),),
            enrich=attach_payments,
            page_size=n,
        ),
    ]

"""Salesforce records → canonical rows: accounts, deals and their stage history, contracts,
change orders, and the projects and invoices an org keeps in (custom) objects."""

from __future__ import annotations

from collectors.base import Record, optional_timestamp
from collectors.crm_salesforce.config import (
    SYSTEM,
    SalesforceFields,
    SalesforceInvoiceObject,
    SalesforceProjectObject,
)
from collectors.mapping import amount, flag, nested, required_text, text
from store.canonical import (
    Activity,
    Batch,
    EventObject,
    EventRow,
    LinkQualifier,
    LinkRow,
    ObjectRow,
    ObjectType,
)


def _deal(key: str) -> EventObject:
    return EventObject(SYSTEM, ObjectType.DEAL, key, "deal")


def map_account(r: Record, f: SalesforceFields) -> Batch:
    """Account → `account` object."""
    return Batch(
        objects=[
            ObjectRow(
                type=ObjectType.ACCOUNT,
                source_system=SYSTEM,
                source_key=required_text(r, "Id"),
                customer=text(r, "Name"),
                legal_entity=text(r, f.legal_entity),
                region=text(r, "BillingCountry"),
                attributes={"name": text(r, "Name")},
                source_updated_at=optional_timestamp(r, "SystemModstamp"),
            )
        ]
    )


def map_opportunity(r: Record, f: SalesforceFields) -> Batch:
    """Opportunity → `deal` object (its won time comes from the stage history).

    With `f.project_code` set, the PSA project code on the opportunity links deal → project."""
    key = required_text(r, "Id")
    project = text(r, f.project_code) if f.project_code else None
    links = (
        [
            LinkRow(
                SYSTEM,
                ObjectType.DEAL,
                key,
                f.project_system,
                ObjectType.PROJECT,
                project,
                LinkQualifier.PROVISIONS,
                SYSTEM,
            )
        ]
        if project
        else []
    )
    return Batch(
        links=links,
        objects=[
            ObjectRow(
                type=ObjectType.DEAL,
                source_system=SYSTEM,
                source_key=key,
                customer=nested(r, "Account.Name") or text(r, "AccountId"),
                legal_entity=text(r, f.legal_entity),
                practice=text(r, f.practice),
                owner=nested(r, "Owner.Name") or text(r, "OwnerId"),
                currency=text(r, "CurrencyIsoCode"),
                amount=amount(r, "Amount"),
                attributes={
                    "name": text(r, "Name"),
                    "stage": text(r, "StageName"),
                    "account_id": text(r, "AccountId"),
                    "close_date": text(r, "CloseDate"),
                    "no_project_required": flag(r, f.no_project_required),
                    **({"project_code": project} if f.project_code else {}),
                },
                source_updated_at=optional_timestamp(r, "SystemModstamp"),
            )
        ],
    )


def stage_activity(old: str | None, new: str | None, f: SalesforceFields) -> Activity | None:
    """The canonical activity of one stage change, or None for an in-pipeline move."""
    if new in f.won_stages:
        return Activity.DEAL_WON
    if new in f.lost_stages:
        return Activity.DEAL_LOST
    if old in f.closed_stages and new not in f.closed_stages:
        return Activity.DEAL_REOPENED
    return None


def map_stage_history(r: Record, f: SalesforceFields) -> Batch:
    """OpportunityFieldHistory (StageName) → `deal.won` / `deal.lost` / `deal.reopened`."""
    if text(r, "Field") != "StageName":
        return Batch()
    activity = stage_activity(text(r, "OldValue"), text(r, "NewValue"), f)
    at = optional_timestamp(r, "CreatedDate")
    if activity is None or at is None:
        return Batch()
    return Batch(
        events=[
            EventRow(
                activity=activity,
                occurred_at=at,
                source_system=SYSTEM,
                source_key=required_text(r, "Id"),
                objects=(_deal(required_text(r, "OpportunityId")),),
                attributes={"from": text(r, "OldValue"), "to": text(r, "NewValue")},
            )
        ]
    )


def map_contract(r: Record, f: SalesforceFields) -> Batch:
    """Contract → `contract` object, `contract.signed`, deal → contract `contracted_by`."""
    key = required_text(r, "Id")
    opportunity = text(r, f.contract_opportunity)
    batch = Batch(
        objects=[
            ObjectRow(
                type=ObjectType.CONTRACT,
                source_system=SYSTEM,
                source_key=key,
                attributes={
                    "status": text(r, "Status"),
                    "account_id": text(r, "AccountId"),
                    "opportunity_id": opportunity,
                },
                source_updated_at=optional_timestamp(r, "SystemModstamp"),
            )
        ]
    )
    signed = optional_timestamp(r, f.contract_signed_at)
    related = [EventObject(SYSTEM, ObjectType.CONTRACT, key, "contract")]
    if opportunity:
        related.append(_deal(opportunity))
        batch.links.append(
            LinkRow(
                SYSTEM,
                ObjectType.DEAL,
                opportunity,
                SYSTEM,
                ObjectType.CONTRACT,
                key,
                LinkQualifier.CONTRACTED_BY,
                SYSTEM,
            )
        )
    if signed is not None:
        batch.events.append(EventRow(Activity.CONTRACT_SIGNED, signed, SYSTEM, key, tuple(related)))
    return batch


def map_change_order(r: Record, f: SalesforceFields) -> Batch:
    """Change order → object, `change_order.approved`, change order → project `amends`."""
    key = required_text(r, "Id")
    project = text(r, "Project_Code__c")
    opportunity = text(r, "Opportunity__c")
    batch = Batch(
        objects=[
            ObjectRow(
                type=ObjectType.CHANGE_ORDER,
                source_system=SYSTEM,
                source_key=key,
                currency=text(r, "CurrencyIsoCode"),
                amount=amount(r, "Amount__c"),
                attributes={
                    "status": text(r, "Status__c"),
                    "opportunity_id": opportunity,
                    "project_code": project,
                },
                source_updated_at=optional_timestamp(r, "SystemModstamp"),
            )
        ]
    )
    related = [EventObject(SYSTEM, ObjectType.CHANGE_ORDER, key, "change_order")]
    if opportunity:
        related.append(_deal(opportunity))
    if project:
        related.append(EventObject(f.project_system, ObjectType.PROJECT, project, "project"))
        batch.links.append(
            LinkRow(
                SYSTEM,
                ObjectType.CHANGE_ORDER,
                key,
                f.project_system,
                ObjectType.PROJECT,
                project,
                LinkQualifier.AMENDS,
                SYSTEM,
            )
        )
    approved = optional_timestamp(r, "Approved_At__c")
    if approved is not None:
        batch.events.append(
            EventRow(Activity.CHANGE_ORDER_APPROVED, approved, SYSTEM, key, tuple(related))
        )
    return batch


def map_project_object(r: Record, o: SalesforceProjectObject) -> Batch:
    """A project record → `project`, `project.created`/`activated`, deal → project `provisions`."""
    key = required_text(r, "Id")
    opportunity = text(r, o.opportunity) if o.opportunity else None
    batch = Batch(
        objects=[
            ObjectRow(
                type=ObjectType.PROJECT,
                source_system=o.system,
                source_key=key,
                customer=(nested(r, o.account_name) if o.account_name else None)
                or (text(r, o.account) if o.account else None),
                currency=text(r, "CurrencyIsoCode"),
                attributes={
                    "name": text(r, o.name),
                    "crm_opportunity_id": opportunity,
                    "status": text(r, o.status) if o.status else None,
                },
                source_updated_at=optional_timestamp(r, "SystemModstamp"),
            )
        ]
    )
    related = [EventObject(o.system, ObjectType.PROJECT, key, "project")]
    if opportunity:
        related.append(_deal(opportunity))
        batch.links.append(
            LinkRow(
                SYSTEM,
                ObjectType.DEAL,
                opportunity,
                o.system,
                ObjectType.PROJECT,
                key,
                LinkQualifier.PROVISIONS,
                SYSTEM,
            )
        )
    for activity, column in (
        (Activity.PROJECT_CREATED, "CreatedDate"),
        (Activity.PROJECT_ACTIVATED, o.activated_at),
    ):
        at = optional_timestamp(r, column) if column else None
        if at is not None:
            batch.events.append(EventRow(activity, at, o.system, key, tuple(related)))
    return batch


def map_invoice_object(r: Record, o: SalesforceInvoiceObject) -> Batch:
    """An invoice record → `invoice`, its lifecycle events, invoice → project `bills`."""
    key = required_text(r, "Id")
    project = text(r, o.project) if o.project else None
    batch = Batch(
        objects=[
            ObjectRow(
                type=ObjectType.INVOICE,
                source_system=SYSTEM,
                source_key=key,
                currency=text(r, "CurrencyIsoCode"),
                amount=amount(r, o.amount),
                attributes={"kind": "invoice", "number": text(r, "Name"), "project_code": project},
                source_updated_at=optional_timestamp(r, "SystemModstamp"),
            )
        ]
    )
    related = [EventObject(SYSTEM, ObjectType.INVOICE, key, "invoice")]
    if project:
        related.append(EventObject(o.project_system, ObjectType.PROJECT, project, "project"))
        batch.links.append(
            LinkRow(
                SYSTEM,
                ObjectType.INVOICE,
                key,
                o.project_system,
                ObjectType.PROJECT,
                project,
                LinkQualifier.BILLS,
                SYSTEM,
            )
        )
    for activity, column in (
        (Activity.INVOICE_CREATED, "CreatedDate"),
        (Activity.INVOICE_POSTED, o.posted_at),
        (Activity.INVOICE_SENT, o.sent_at),
        (Activity.INVOICE_VOIDED, o.voided_at),
    ):
        at = optional_timestamp(r, column) if column else None
        if at is not None:
            batch.events.append(EventRow(activity, at, SYSTEM, key, tuple(related)))
    return batch

"""How one Salesforce org is reached and which of its (custom) fields and objects carry what."""

from __future__ import annotations

from dataclasses import dataclass, field

SYSTEM = "crm"


PSA_SYSTEM = "psa"


@dataclass(frozen=True)
class SalesforceFields:
    """Which (custom) fields carry Throughline's dimensions in this org."""

    practice: str = "Practice__c"
    legal_entity: str = "Legal_Entity__c"
    no_project_required: str = "No_Project_Required__c"
    won_stages: frozenset[str] = frozenset({"Closed Won"})
    lost_stages: frozenset[str] = frozenset({"Closed Lost"})
    contract_opportunity: str = "Opportunity__c"
    contract_signed_at: str = "Signed_At__c"
    change_order_object: str = "Change_Order__c"
    project_system: str = PSA_SYSTEM
    project_code: str | None = None  # Opportunity field with the PSA project code

    @property
    def closed_stages(self) -> frozenset[str]:
        return self.won_stages | self.lost_stages


@dataclass(frozen=True)
class SalesforceProjectObject:
    """A (custom) object that holds projects in this org, and which of its fields carry what."""

    sobject: str
    opportunity: str | None = "Opportunity__c"  # lookup to the won opportunity
    name: str = "Name"
    account: str | None = "Account__c"
    status: str | None = None
    activated_at: str | None = None
    system: str = SYSTEM  # the source system its projects belong to

    @property
    def account_name(self) -> str | None:
        """The account's name through the lookup's relationship (`Account__r.Name`)."""
        if self.account is None:
            return None
        if self.account.endswith("__c"):
            return f"{self.account[:-3]}__r.Name"
        return f"{self.account.removesuffix('Id')}.Name"

    def fields(self) -> tuple[str, ...]:
        optional = (
            self.opportunity,
            self.account,
            self.account_name,
            self.status,
            self.activated_at,
        )
        return ("Id", self.name, *(f for f in optional if f), "CreatedDate", "SystemModstamp")


@dataclass(frozen=True)
class SalesforceInvoiceObject:
    """A (custom) object that holds invoices in this org, and which of its fields carry what."""

    sobject: str
    project: str | None = "Project__c"  # lookup to the project it bills
    amount: str = "Amount__c"
    posted_at: str | None = "Posted_At__c"
    sent_at: str | None = None
    voided_at: str | None = None
    project_system: str = SYSTEM

    def fields(self) -> tuple[str, ...]:
        optional = (self.project, self.posted_at, self.sent_at, self.voided_at)
        return (
            "Id",
            "Name",
            self.amount,
            "CurrencyIsoCode",
            *(f for f in optional if f),
            "CreatedDate",
            "SystemModstamp",
        )


@dataclass(frozen=True)
class SalesforceConfig:
    """Where and how to reach one Salesforce org (the token is resolved by the caller)."""

    instance_url: str
    fields: SalesforceFields = field(default_factory=SalesforceFields)
    api_version: str = "v60.0"
    batch_size: int = 200
    change_orders: bool = True  # the demo org has the change-order object; not every org does
    project_object: SalesforceProjectObject | None = None
    invoice_object: SalesforceInvoiceObject | None = None

"""Which NetSuite account is read, how its custom fields are named and its integration user's
time zone."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from collectors.erp_netsuite.lookups import Entity

SYSTEM = "erp"


_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class NetSuiteFields:
    """Custom fields that carry Throughline's links (configurable per account; None: the
    account has no such field, it is not queried)."""

    project_code: str | None = "custbody_tl_project_code"
    billing_type: str | None = "custbody_tl_billing_type"
    milestone: str | None = "custbody_tl_milestone_id"
    period_end: str | None = "custbody_tl_period_end"  # a date
    posted_at: str | None = "custbody_tl_posted_at"  # date-times from here to voided_at
    sent_at: str | None = "custbody_tl_sent_at"
    voided_at: str | None = "custbody_tl_voided_at"
    replaces: str | None = "custbody_tl_replaces"
    credits: str | None = "custbody_tl_credits"
    applied_invoice: str | None = "custbody_tl_applied_invoice"
    tax_id: str | None = "custentity_tax_id"
    project_system: str = "psa"
    job_opportunity: str | None = "custentity_tl_crm_opportunity_id"  # CRM opportunity id
    job_system: str = SYSTEM  # the source system of NetSuite's projects
    crm_system: str = "crm"
    integration_users: frozenset[str] = frozenset()  # who creates projects automatically
    timebill_approved: frozenset[str] = frozenset({"3", "Approved"})  # approvalstatus values
    timebill_approved_at: str | None = "custcol_tl_approved_at"  # when it was approved
    timebill_invoice: str | None = "custcol_tl_invoice"  # the invoice that billed it

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_system") or not isinstance(value, str):
                continue
            if not _COLUMN.fullmatch(value):
                raise ValueError(f"{f.name}: {value!r:.40} is not a SuiteQL column name")


def columns_of(*names: str | None) -> tuple[str, ...]:
    """The configured columns among ``names``, each once, in order."""
    return tuple(dict.fromkeys(n for n in names if n))


def time_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"timezone: {name!r:.60} is not an IANA time zone name") from exc


@dataclass(frozen=True)
class NetSuiteConfig:
    """Where the account's REST API lives, how its custom fields are named, and the time zone
    of its integration user (Set Preferences → Time Zone; SuiteQL answers date-times in it)."""

    base_url: str
    fields: NetSuiteFields = field(default_factory=NetSuiteFields)
    limit: int = 200
    projects: bool = False  # also read projects (jobs) and time bills
    timezone: str = "UTC"  # an IANA name, e.g. America/Los_Angeles
    #: Subsidiary id or name → legal entity code (before the name and country rules).
    legal_entities: Mapping[str, str] = field(default_factory=dict)
    #: The configured legal entities a subsidiary may match by name or country.
    entities: tuple[Entity, ...] = ()

    def __post_init__(self) -> None:
        time_zone(self.timezone)
        if not 1 <= self.limit <= 1000:
            raise ValueError(f"limit: SuiteQL pages hold 1 to 1000 rows, not {self.limit}")

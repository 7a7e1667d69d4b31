"""Which HubSpot account is read and how its pipeline stages and (custom) properties map."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

LOOKBACK = timedelta(minutes=5)


SEARCH_RESULT_CAP = 10_000


#: HubSpot's association type id of a deal's primary company (category HUBSPOT_DEFINED).
PRIMARY_COMPANY_TYPE_ID = 5


COMPANIES_KEY = "_companies"  # where the fetch puts a deal's associated companies


@dataclass(frozen=True)
class HubSpotFields:
    """Which pipeline stages close a deal, and which (custom) properties carry what."""

    won_stages: frozenset[str] = frozenset({"closedwon"})
    lost_stages: frozenset[str] = frozenset({"closedlost"})
    date_entered_prefix: str = "hs_v2_date_entered_"
    date_exited_prefix: str = "hs_v2_date_exited_"
    project_code: str | None = None  # deal property holding the PSA project code
    practice: str | None = None
    legal_entity: str | None = None
    no_project_required: str | None = None
    company_legal_entity: str | None = None
    project_system: str = "psa"

    @property
    def closed_stages(self) -> frozenset[str]:
        return self.won_stages | self.lost_stages

    def deal_properties(self) -> list[str]:
        """The properties the deals search asks for."""
        stage_props = [
            f"{prefix}{stage}"
            for stage in sorted(self.closed_stages)
            for prefix in (self.date_entered_prefix, self.date_exited_prefix)
        ]
        custom = [self.project_code, self.practice, self.legal_entity, self.no_project_required]
        return [
            "dealname",
            "amount",
            "deal_currency_code",
            "dealstage",
            "pipeline",
            "closedate",
            "hubspot_owner_id",
            "createdate",
            "hs_lastmodifieddate",
            *stage_props,
            *(c for c in custom if c),
        ]

    def company_properties(self) -> list[str]:
        extra = [self.company_legal_entity] if self.company_legal_entity else []
        return ["name", "domain", "country", "hs_lastmodifieddate", *extra]


@dataclass(frozen=True)
class HubSpotConfig:
    """Where the API lives (``https://api.hubapi.com``), the system name and the field mapping."""

    base_url: str = "https://api.hubapi.com"
    fields: HubSpotFields = field(default_factory=HubSpotFields)
    system: str = "crm"
    limit: int = 100
    max_results: int = SEARCH_RESULT_CAP

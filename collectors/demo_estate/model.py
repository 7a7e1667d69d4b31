"""The simulated world: reference data and source records kept as lists of versions.

A source record (an Opportunity, a PSA time entry, an ERP invoice, an iPaaS job, ...) is a
``Record`` of ``kind`` with time-ordered ``versions``. The state visible at simulated time ``t``
is the latest version with ``valid_from <= t``; that version's ``valid_from`` is the record's
last-modified time. States hold Python values (``datetime`` in UTC, ``date``, ``Decimal``,
``bool``, ``str``, ``None``, lists and dicts); the API modules format them per vendor.

Record kinds, by system::

    crm    User  Account  Opportunity  OpportunityFieldHistory  Contract  Change_Order__c
    psa    project  time_entry  expense  milestone
    erp    customer  CustInvc  CustCred  CustPymt  currencyrate
    ipaas  job
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

State = Mapping[str, Any]

KIND_SYSTEM: dict[str, str] = {
    "User": "crm",
    "Account": "crm",
    "Opportunity": "crm",
    "OpportunityFieldHistory": "crm",
    "Contract": "crm",
    "Change_Order__c": "crm",
    "project": "psa",
    "time_entry": "psa",
    "expense": "psa",
    "milestone": "psa",
    "customer": "erp",
    "CustInvc": "erp",
    "CustCred": "erp",
    "CustPymt": "erp",
    "currencyrate": "erp",
    "job": "ipaas",
}


class _Removed:
    """Marker for ``Estate.corrupt``: drop the field from the served record."""

    def __repr__(self) -> str:
        return "REMOVED"


REMOVED: Any = _Removed()


class Version(NamedTuple):
    """One state of a record, visible from ``valid_from`` on (a tuple: cheap to make)."""

    valid_from: datetime
    state: State


@dataclass(frozen=True)
class Record:
    """A source record and its history of versions (sorted by ``valid_from``)."""

    kind: str
    id: str
    versions: tuple[Version, ...]

    def at(self, t: datetime) -> Version | None:
        """The version visible at ``t``, or None when the record does not exist yet."""
        i = bisect.bisect_right(self.versions, t, key=lambda v: v.valid_from)
        return self.versions[i - 1] if i else None

    @property
    def first_seen(self) -> datetime:
        """When the record first became visible."""
        return self.versions[0].valid_from


@dataclass(frozen=True)
class LegalEntity:
    """A billing company of the firm."""

    code: str
    currency: str
    country: str
    name: str


@dataclass(frozen=True)
class Person:
    """A sales owner, project manager or consultant."""

    id: str
    name: str
    username: str
    role: str
    legal_entity: str
    rate_tier: int = 0


@dataclass(frozen=True)
class Customer:
    """A client, known in the CRM, the PSA and the ERP under different ids."""

    number: str
    name: str
    legal_entity: str
    country: str
    tax_id: str | None
    email: str
    iban: str
    crm_id: str
    erp_id: str
    created_at: datetime


@dataclass(frozen=True)
class Scenario:
    """The planted scenarios that cannot be read back from the records themselves.

    Everything else (deals won twice, second projects, voided and re-issued invoices, ...) is
    derived from the records by ``truth.ground_truth`` for a given ``as_of``.
    """

    stuck_handoff_deals: tuple[str, ...]
    erp_outage: tuple[datetime, datetime]
    bad_release_day: date
    fx_missing_dates: tuple[date, ...]
    projects_never_billed: tuple[str, ...]
    #: From then on the PSA rejects projects for customers with incomplete master data (the
    #: provisioning failures, late manual fixes and stuck handoffs of the last weeks).
    provisioning_checks_from: datetime | None = None


@dataclass
class Estate:
    """The whole simulated firm over ``[start, horizon_end)``; history ends at ``history_end``."""

    seed: int
    start: datetime
    history_end: datetime
    horizon_end: datetime
    legal_entities: tuple[LegalEntity, ...]
    practices: tuple[str, ...]
    people: tuple[Person, ...]
    customers: tuple[Customer, ...]
    records: dict[str, tuple[Record, ...]]
    scenario: Scenario
    _corruptions: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict, repr=False)
    _index: dict[str, dict[str, Record]] = field(default_factory=dict, repr=False)

    def get(self, kind: str, record_id: str) -> Record:
        """One record by kind and id (KeyError when unknown)."""
        if kind not in self._index:
            self._index[kind] = {r.id: r for r in self.records.get(kind, ())}
        return self._index[kind][record_id]

    def visible(self, kind: str, t: datetime) -> Iterator[tuple[Record, Version]]:
        """Each record of ``kind`` that exists at ``t`` with its state then."""
        for record in self.records.get(kind, ()):
            version = record.at(t)
            if version is not None:
                yield record, version

    def corrupt(self, kind: str, record_id: str, field_name: str, value: Any = REMOVED) -> None:
        """Serve ``record_id`` with ``field_name`` set to ``value`` (or removed) in every version.

        A test hook for malformed input: the API adds it after formatting, so ``value`` is sent
        as given (e.g. ``Amount="abc"``). Ground truth ignores corruptions.
        """
        self.get(kind, record_id)
        self._corruptions.setdefault((kind, record_id), {})[field_name] = value

    def clear_corruptions(self) -> None:
        """Undo every ``corrupt`` call."""
        self._corruptions.clear()

    def corruption(self, kind: str, record_id: str) -> Mapping[str, Any] | None:
        """The overrides for one record, if any."""
        return self._corruptions.get((kind, record_id))

    def fingerprint(self) -> str:
        """A sha256 over every record version, for determinism checks."""
        digest = hashlib.sha256()
        for kind in sorted(self.records):
            for record in self.records[kind]:
                for version in record.versions:
                    line = f"{kind}|{record.id}|{version.valid_from!r}|{version.state!r}\n"
                    digest.update(line.encode())
        return digest.hexdigest()

"""The canonical vocabulary and row types every collector maps its source to.

Modelled on OCEL 2.0: *objects* (a deal, a project, an invoice …), *events* that happened to
them at a point in time, *links* between objects, plus the integration platform's *sync
attempts*. Rows are plain frozen dataclasses: collectors build them, `store.write` writes them.
Every timestamp must be timezone-aware; a naive one is refused with the field named. What else
the store refuses (text too long for its column, far-future times, …) is `store.checks`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Any

from foundation.timestamps import NaiveTimestampError as NaiveTimestampError
from foundation.timestamps import require_aware as require_aware


class ObjectType(StrEnum):
    """Business object types of the quote-to-cash process."""

    ACCOUNT = "account"
    DEAL = "deal"
    CONTRACT = "contract"
    PROJECT = "project"
    WORK_ITEM = "work_item"
    MILESTONE = "milestone"
    INVOICE = "invoice"
    PAYMENT = "payment"
    CHANGE_ORDER = "change_order"


class Activity(StrEnum):
    """The fixed event vocabulary (docs/architecture.md, "The canonical model")."""

    DEAL_WON = "deal.won"
    DEAL_LOST = "deal.lost"
    DEAL_REOPENED = "deal.reopened"
    CONTRACT_SIGNED = "contract.signed"
    CHANGE_ORDER_APPROVED = "change_order.approved"
    PROJECT_CREATED = "project.created"
    PROJECT_ACTIVATED = "project.activated"
    WORK_LOGGED = "work.logged"
    WORK_APPROVED = "work.approved"
    WORK_WRITTEN_OFF = "work.written_off"
    MILESTONE_ACCEPTED = "milestone.accepted"
    INVOICE_CREATED = "invoice.created"
    INVOICE_POSTED = "invoice.posted"
    INVOICE_SENT = "invoice.sent"
    INVOICE_VOIDED = "invoice.voided"
    PAYMENT_RECEIVED = "payment.received"


class LinkQualifier(StrEnum):
    """Object-to-object relations (from → to)."""

    PROVISIONS = "provisions"  # deal → project
    PART_OF = "part_of"  # work_item / milestone → project
    BILLED_ON = "billed_on"  # work_item → invoice
    SETTLED_BY = "settled_by"  # invoice → payment
    AMENDS = "amends"  # change_order → project
    CONTRACTED_BY = "contracted_by"  # deal → contract
    BILLS = "bills"  # invoice → project
    REISSUED_AS = "reissued_as"  # voided invoice → its re-issue
    CREDITS = "credits"  # credit note → invoice


class SyncStatus(StrEnum):
    """Outcome of one sync attempt."""

    SUCCESS = "success"
    FAILED = "failed"
    RUNNING = "running"


class ErrorClass(StrEnum):
    """Why a sync attempt failed (`store.signatures.classify` decides).

    ``connection``: the target could not be reached (refused, reset, DNS); ``server``: it
    answered with a server error (HTTP 5xx other than 504); ``timeout``: no answer in time (or
    HTTP 408/504); ``rate_limit``: HTTP 429 or throttling; ``auth``: credentials refused;
    ``validation``: the record was refused (HTTP 400/404/422, a missing or invalid field);
    ``duplicate``: it already exists (HTTP 409); ``parse``: an answer that could not be read;
    ``unknown``: none of these."""

    CONNECTION = "connection"
    SERVER = "server"
    TIMEOUT = "timeout"
    RATE_LIMIT = "rate_limit"
    AUTH = "auth"
    VALIDATION = "validation"
    DUPLICATE = "duplicate"
    PARSE = "parse"
    UNKNOWN = "unknown"


def stable_id(*parts: object) -> int:
    """A deterministic positive 63-bit id from the given parts (same parts → same id)."""
    text = "\x1f".join(map(str, parts))
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & 0x7FFF_FFFF_FFFF_FFFF


@lru_cache(maxsize=1 << 16)
def object_id(source_system: str, type_: str, source_key: str) -> int:
    """Id of the object with this natural key; collectors use it to link across systems.
    Cached: a batch names the same object about a dozen times (its events, links, facts)."""
    return stable_id("object", source_system, type_, source_key)


@dataclass(frozen=True, slots=True)
class ObjectRow:
    """One business object as a source currently shows it (mutable: later reads overwrite)."""

    type: ObjectType
    source_system: str
    source_key: str
    customer: str | None = None
    legal_entity: str | None = None
    practice: str | None = None
    region: str | None = None
    owner: str | None = None
    currency: str | None = None
    amount: Decimal | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    source_updated_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "source_updated_at", require_aware(self.source_updated_at, "source_updated_at")
        )
        if self.currency is not None:  # "eur " → "EUR"; `check_currency` refuses non-codes
            object.__setattr__(self, "currency", self.currency.strip().upper() or None)

    @property
    def id(self) -> int:
        return object_id(self.source_system, self.type, self.source_key)


@dataclass(frozen=True, slots=True)
class EventObject:
    """An event's relation to one object, with its role (e.g. `deal`, `project`)."""

    source_system: str
    type: ObjectType
    source_key: str
    qualifier: str

    @property
    def object_id(self) -> int:
        return object_id(self.source_system, self.type, self.source_key)


@dataclass(frozen=True, slots=True)
class EventRow:
    """Something that happened to one or more objects; immutable once stored."""

    activity: Activity
    occurred_at: datetime
    source_system: str
    source_key: str
    objects: tuple[EventObject, ...] = ()
    attributes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "occurred_at", require_aware(self.occurred_at, "occurred_at"))

    @property
    def id(self) -> int:
        """Deterministic from (source, activity, source key, occurred_at): re-reads never add."""
        return stable_id(
            "event", self.source_system, self.activity, self.source_key, self.occurred_at
        )


@dataclass(frozen=True, slots=True)
class LinkRow:
    """An object-to-object relation, e.g. deal → project `provisions`."""

    from_system: str
    from_type: ObjectType
    from_key: str
    to_system: str
    to_type: ObjectType
    to_key: str
    qualifier: LinkQualifier
    source_system: str

    @property
    def from_id(self) -> int:
        return object_id(self.from_system, self.from_type, self.from_key)

    @property
    def to_id(self) -> int:
        return object_id(self.to_system, self.to_type, self.to_key)


@dataclass(frozen=True, slots=True)
class SyncAttemptRow:
    """One run of one integration flow for one record."""

    source_system: str
    source_key: str
    integration: str
    flow: str
    status: SyncStatus
    started_at: datetime
    direction: str | None = None
    attempt_number: int = 1
    retry_of_key: str | None = None
    error_class: ErrorClass | None = None
    error_message: str | None = None
    error_signature: str | None = None
    trace_key: str | None = None
    duration_ms: int | None = None
    object_system: str | None = None
    object_type: ObjectType | None = None
    object_key: str | None = None
    payload: dict[str, Any] | None = None
    source_updated_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "started_at", require_aware(self.started_at, "started_at"))
        object.__setattr__(
            self, "source_updated_at", require_aware(self.source_updated_at, "source_updated_at")
        )

    @property
    def id(self) -> int:
        return stable_id("sync", self.source_system, self.source_key)

    @property
    def retry_of_id(self) -> int | None:
        if self.retry_of_key is None:
            return None
        return stable_id("sync", self.source_system, self.retry_of_key)

    @property
    def object_id(self) -> int | None:
        if self.object_system is None or self.object_type is None or self.object_key is None:
            return None
        return object_id(self.object_system, self.object_type, self.object_key)


@dataclass(frozen=True, slots=True)
class QuarantineRow:
    """Input that could not be mapped: kept with its reason, never dropped silently."""

    collector: str
    stream: str
    reason: str
    raw: dict[str, Any] | str
    source_key: str | None = None

    @property
    def id(self) -> int:
        return stable_id("quarantine", self.collector, self.stream, self.source_key, self.reason)


@dataclass(frozen=True, slots=True)
class FxRateRow:
    """Units of `quote` currency for one unit of `base` currency on `day`."""

    day: date
    base: str
    quote: str
    rate: Decimal
    source_system: str = "manual"


@dataclass(slots=True)
class Batch:
    """Rows a collector writes in one transaction together with its cursor."""

    objects: list[ObjectRow] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    links: list[LinkRow] = field(default_factory=list)
    sync_attempts: list[SyncAttemptRow] = field(default_factory=list)
    quarantined: list[QuarantineRow] = field(default_factory=list)
    fx_rates: list[FxRateRow] = field(default_factory=list)

    def extend(self, other: Batch) -> None:
        """Append another batch's rows to this one."""
        self.objects.extend(other.objects)
        self.events.extend(other.events)
        self.links.extend(other.links)
        self.sync_attempts.extend(other.sync_attempts)
        self.quarantined.extend(other.quarantined)
        self.fx_rates.extend(other.fx_rates)

    def __len__(self) -> int:
        return (
            len(self.objects)
            + len(self.events)
            + len(self.links)
            + len(self.sync_attempts)
            + len(self.fx_rates)
        )

"""SQLAlchemy 2.0 typed models of the canonical store (docs/architecture.md, "The event store").

Ids of objects, events and sync attempts are deterministic 63-bit hashes of their natural keys
(`store.canonical.stable_id`), so every write is an idempotent upsert and collectors can link
across systems without reading the database first. Timestamps are stored in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from store.canonical import require_aware

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC; naive values are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        aware = require_aware(value, "timestamp")
        if aware is not None and dialect.name == "sqlite":
            return aware.replace(tzinfo=None)
        return aware

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")
Money = Numeric(18, 4)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Object(Base):
    """A business object (deal, project, invoice …) as its source system last showed it."""

    __tablename__ = "objects"
    __table_args__ = (
        UniqueConstraint("source_system", "type", "source_key"),
        Index(None, "type", "legal_entity"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(32))
    source_system: Mapped[str] = mapped_column(String(32))
    source_key: Mapped[str] = mapped_column(String(200))
    customer: Mapped[str | None] = mapped_column(String(200))
    legal_entity: Mapped[str | None] = mapped_column(String(32))
    practice: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    owner: Mapped[str | None] = mapped_column(String(200))
    currency: Mapped[str | None] = mapped_column(String(3))
    amount: Mapped[Decimal | None] = mapped_column(Money)
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    source_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Event(Base):
    """Something that happened at `occurred_at`; immutable once stored."""

    __tablename__ = "events"
    __table_args__ = (Index(None, "activity", "occurred_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    activity: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source_system: Mapped[str] = mapped_column(String(32))
    source_key: Mapped[str] = mapped_column(String(200))
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EventObject(Base):
    """Event-to-object relation with the object's role in the event."""

    __tablename__ = "event_objects"
    __table_args__ = (Index(None, "object_id"),)

    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    object_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    qualifier: Mapped[str] = mapped_column(String(32), primary_key=True)


class ObjectLink(Base):
    """Object-to-object relation, e.g. deal → project `provisions`."""

    __tablename__ = "object_links"
    __table_args__ = (Index(None, "to_object_id"),)

    from_object_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    to_object_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    qualifier: Mapped[str] = mapped_column(String(32), primary_key=True)
    source_system: Mapped[str] = mapped_column(String(32))
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SyncAttempt(Base):
    """One run of one integration flow for one record."""

    __tablename__ = "sync_attempts"
    __table_args__ = (
        UniqueConstraint("source_system", "source_key"),
        Index(None, "integration", "flow", "started_at"),
        Index(None, "trace_key"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    source_system: Mapped[str] = mapped_column(String(32))
    source_key: Mapped[str] = mapped_column(String(200))
    integration: Mapped[str] = mapped_column(String(100))
    flow: Mapped[str] = mapped_column(String(100))
    direction: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    attempt_number: Mapped[int] = mapped_column(Integer)
    retry_of_id: Mapped[int | None] = mapped_column(BigInteger)
    error_class: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_signature: Mapped[str | None] = mapped_column(String(500))
    trace_key: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    object_id: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    source_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CollectorState(Base):
    """A collector stream's cursor, written in the same transaction as the rows it covers."""

    __tablename__ = "collector_state"

    collector: Mapped[str] = mapped_column(String(100), primary_key=True)
    stream: Mapped[str] = mapped_column(String(100), primary_key=True)
    cursor: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CollectorRun(Base):
    """One run of one collector: what it read, stored, quarantined, and how it ended."""

    __tablename__ = "collector_runs"
    __table_args__ = (Index(None, "collector", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    collector: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32), default="collect")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    rows_in: Mapped[int] = mapped_column(Integer, default=0)
    rows_quarantined: Mapped[int] = mapped_column(Integer, default=0)
    cursor_before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    cursor_after: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text)


class Quarantine(Base):
    """Input that could not be mapped, with its reason and the (masked) raw record."""

    __tablename__ = "quarantine"
    __table_args__ = (Index(None, "collector", "last_seen_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    collector: Mapped[str] = mapped_column(String(100))
    stream: Mapped[str] = mapped_column(String(100))
    source_key: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    times_seen: Mapped[int] = mapped_column(Integer, default=1)


class FxRate(Base):
    """Daily exchange rate: `rate` units of `quote` for one unit of `base`."""

    __tablename__ = "fx_rates"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    base: Mapped[str] = mapped_column(String(3), primary_key=True)
    quote: Mapped[str] = mapped_column(String(3), primary_key=True)
    rate: Mapped[Decimal] = mapped_column(Numeric(20, 10))
    source_system: Mapped[str] = mapped_column(String(32))
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- case facts and rollups (metrics.facts keeps them up to date in the ingest transaction) ----


class CaseHandoff(Base):
    """One won deal: first `deal.won` → `project.created` of its first linked project."""

    __tablename__ = "case_handoffs"

    deal_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    deal_key: Mapped[str | None] = mapped_column(String(200))
    legal_entity: Mapped[str | None] = mapped_column(String(32))
    practice: Mapped[str | None] = mapped_column(String(100))
    customer: Mapped[str | None] = mapped_column(String(200))
    owner: Mapped[str | None] = mapped_column(String(200))
    currency: Mapped[str | None] = mapped_column(String(3))
    amount: Mapped[Decimal | None] = mapped_column(Money)
    won_at: Mapped[datetime] = mapped_column(UTCDateTime)
    wins: Mapped[int] = mapped_column(Integer)
    excluded: Mapped[str | None] = mapped_column(String(32))
    project_id: Mapped[int | None] = mapped_column(BigInteger)
    project_key: Mapped[str | None] = mapped_column(String(200))
    project_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    projects: Mapped[int] = mapped_column(Integer)
    touchless: Mapped[bool | None] = mapped_column(Boolean)


class CaseInvoice(Base):
    """One invoice or credit note: billing trigger → posted / sent → paid."""

    __tablename__ = "case_invoices"
    __table_args__ = (Index(None, "milestone_id"),)

    invoice_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    invoice_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    billing_type: Mapped[str | None] = mapped_column(String(32))
    legal_entity: Mapped[str | None] = mapped_column(String(32))
    practice: Mapped[str | None] = mapped_column(String(100))
    customer: Mapped[str | None] = mapped_column(String(200))
    currency: Mapped[str | None] = mapped_column(String(3))
    amount: Mapped[Decimal | None] = mapped_column(Money)
    project_id: Mapped[int | None] = mapped_column(BigInteger)
    milestone_id: Mapped[int | None] = mapped_column(BigInteger)
    reissue_of: Mapped[int | None] = mapped_column(BigInteger)
    work_items: Mapped[int] = mapped_column(Integer)
    period_end_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    milestone_accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    trigger_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


WORK_SETTLED_AT = (
    "(CASE WHEN status = 'on_hold' THEN NULL ELSE coalesce(written_off_at, billed_at) END)"
)


class CaseWorkItem(Base):
    """One time entry or expense: logged → approved → billed (or written off / on hold)."""

    __tablename__ = "case_work_items"
    __table_args__ = (
        Index(None, "approved_at"),
        # When the item stopped counting for good (written off, else billed on an invoice
        # never voided; never while on hold): a period's loader reads the items unsettled by
        # its start (`metrics.kpis.unbilled`).
        Index("ix_case_work_items_settled_at", text(WORK_SETTLED_AT)),
    )

    work_item_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    work_item_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str | None] = mapped_column(String(16))
    project_id: Mapped[int | None] = mapped_column(BigInteger)
    legal_entity: Mapped[str | None] = mapped_column(String(32))
    practice: Mapped[str | None] = mapped_column(String(100))
    customer: Mapped[str | None] = mapped_column(String(200))
    currency: Mapped[str | None] = mapped_column(String(3))
    amount: Mapped[Decimal | None] = mapped_column(Money)
    billable: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str | None] = mapped_column(String(32))
    work_date: Mapped[date | None] = mapped_column(Date)
    logged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    written_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    invoice_id: Mapped[int | None] = mapped_column(BigInteger)
    billed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CaseDimension(Base):
    """A value the sidebar filters offer: a legal entity, practice or customer that a deal,
    invoice or work item has carried. The refresh adds values as cases arrive; a full rebuild
    recomputes the set, dropping values no case carries any more."""

    __tablename__ = "case_dimensions"

    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), primary_key=True)


class CaseWorkBilling(Base):
    """An invoice a work item was billed on (its re-issue chain included), posted and voided."""

    __tablename__ = "case_work_billing"
    __table_args__ = (Index(None, "invoice_id"),)

    work_item_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    invoice_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SyncDaily(Base):
    """Sync attempts per day, integration, flow, dimensions, error class and signature.

    Dimension and error columns hold '' (not NULL) when unknown, so they can be in the key.
    """

    __tablename__ = "sync_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    integration: Mapped[str] = mapped_column(String(100), primary_key=True)
    flow: Mapped[str] = mapped_column(String(100), primary_key=True)
    legal_entity: Mapped[str] = mapped_column(String(32), primary_key=True)
    practice: Mapped[str] = mapped_column(String(100), primary_key=True)
    customer: Mapped[str] = mapped_column(String(200), primary_key=True)
    error_class: Mapped[str] = mapped_column(String(32), primary_key=True)
    error_signature: Mapped[str] = mapped_column(String(500), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)
    first_attempts: Mapped[int] = mapped_column(Integer)
    failed_first_attempts: Mapped[int] = mapped_column(Integer)
    retries: Mapped[int] = mapped_column(Integer)
    failed_retries: Mapped[int] = mapped_column(Integer)
    running: Mapped[int] = mapped_column(Integer)


class SyncFailure(Base):
    """One record (trace key) failing on one day with one error class and signature."""

    __tablename__ = "sync_failures"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    integration: Mapped[str] = mapped_column(String(100), primary_key=True)
    flow: Mapped[str] = mapped_column(String(100), primary_key=True)
    trace_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    error_class: Mapped[str] = mapped_column(String(32), primary_key=True)
    error_signature: Mapped[str] = mapped_column(String(500), primary_key=True)
    legal_entity: Mapped[str | None] = mapped_column(String(32))
    practice: Mapped[str | None] = mapped_column(String(100))
    customer: Mapped[str | None] = mapped_column(String(200))
    failures: Mapped[int] = mapped_column(Integer)


class SyncTrace(Base):
    """All attempts for one record of one flow (one trace key): first failure → resolution."""

    __tablename__ = "sync_traces"
    __table_args__ = (Index(None, "object_id"),)

    trace_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    integration: Mapped[str] = mapped_column(String(100), primary_key=True)
    flow: Mapped[str] = mapped_column(String(100), primary_key=True)
    object_id: Mapped[int | None] = mapped_column(BigInteger)
    legal_entity: Mapped[str | None] = mapped_column(String(32))
    practice: Mapped[str | None] = mapped_column(String(100))
    customer: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer)
    failures: Mapped[int] = mapped_column(Integer)
    first_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_error_class: Mapped[str | None] = mapped_column(String(32))
    first_error_signature: Mapped[str | None] = mapped_column(String(500))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    latest_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    latest_status: Mapped[str] = mapped_column(String(16))
    latest_error_class: Mapped[str | None] = mapped_column(String(32))
    latest_error_signature: Mapped[str | None] = mapped_column(String(500))


class AlertEpisode(Base):
    """One alert episode: from the first firing evaluation until it resolved."""

    __tablename__ = "alert_episodes"
    __table_args__ = (
        Index(None, "opened_at"),
        Index(
            "uq_alert_episodes_open_key",
            "key",
            unique=True,
            sqlite_where=text("resolved_at IS NULL"),
            postgresql_where=text("resolved_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(400))
    severity: Mapped[str] = mapped_column(String(16))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened: Mapped[dict[str, Any]] = mapped_column(JSONType)
    resolved: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class AlertDelivery(Base):
    """One notification of one episode event to one webhook target (an outbox row)."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (Index(None, "state", "created_at"),)

    episode_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event: Mapped[str] = mapped_column(String(16), primary_key=True)
    target: Mapped[str] = mapped_column(String(100), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class StoredSloBoard(Base):
    """The SLO board and each SLO's weekly history last evaluated for one SLO configuration,
    kept for the pages to read (`metrics.slo.stored_board`): current while the reporting clock
    and the collector runs are those it was evaluated at. A change of the case facts marks it
    out of date (`data_version` emptied)."""

    __tablename__ = "slo_boards"

    config: Mapped[str] = mapped_column(String(64), primary_key=True)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    data_version: Mapped[str] = mapped_column(String(200))
    evaluated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seconds: Mapped[float] = mapped_column(Float)
    content: Mapped[str] = mapped_column(Text)


# --- dashboard: what the pages persist (PMO work-queue actions, admin run requests) -------------


class WorkQueueAction(Base):
    """One PMO action on a case of the work queue: assign, snooze or note, by whom and when.

    The queue shows, per case, the latest assignment, the latest snooze and the latest note.
    """

    __tablename__ = "work_queue_actions"
    __table_args__ = (Index(None, "case_type", "case_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_type: Mapped[str] = mapped_column(String(32))
    case_id: Mapped[int] = mapped_column(BigInteger)
    case_key: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(16))
    assignee: Mapped[str | None] = mapped_column(String(200))
    snoozed_until: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RunRequest(Base):
    """A request (from the admin page) to run one collector now; the worker claims and runs it.

    `status` goes pending → running → done (the run finished, whatever its own status) or
    failed (the run could not be started); `run_id` points at the collector run it became.
    """

    __tablename__ = "run_requests"
    __table_args__ = (Index(None, "status", "requested_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    collector: Mapped[str] = mapped_column(String(100))
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    run_id: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """One audited act on the dashboard: a sign-in (or a refused one), a role change seen at
    sign-in, an export, a work-queue action or a "run now" request. A signed-in user is
    identified by the provider's `subject` (``sub``); `actor` is their e-mail or name."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "at"), Index(None, "subject"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    subject: Mapped[str | None] = mapped_column(String(255))
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)


class FactsPending(Base):
    """A case whose facts are behind the event log: marked in the ingest transaction that
    stored its rows, cleared by the refresh that recomputes it (`metrics.facts.refresh_pending`).

    `kind` names the fact table's case (deal, invoice, work_item, sync_group, sync_trace);
    `key` is the case's id, or for a sync group ``integration␟flow␟day``.
    """

    __tablename__ = "facts_pending"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(420), primary_key=True)

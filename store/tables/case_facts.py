"""Case facts and rollups: one row per case (a won deal, an invoice, a work item, a sync trace)
or per day, derived from the event log; `metrics.facts` keeps them up to date in the ingest
transaction (the cases behind the log wait in `facts_pending`)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, Date, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from store.tables.base import Base, Money, UTCDateTime


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


class FactsPending(Base):
    """A case whose facts are behind the event log: marked in the ingest transaction that
    stored its rows, cleared by the refresh that recomputes it (`metrics.facts.refresh_pending`).

    `kind` names the fact table's case (deal, invoice, work_item, sync_group, sync_trace);
    `key` is the case's id, or for a sync group ``integration␟flow␟day``.
    """

    __tablename__ = "facts_pending"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(420), primary_key=True)

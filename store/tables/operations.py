"""The store's own bookkeeping: collectors' cursors, runs and quarantined input; SLO alert
episodes, their webhook deliveries and the stored SLO board; and what the dashboard persists
(PMO work-queue actions, admin run requests, the audit log)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, Float, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from store.tables.base import Base, JSONType, UTCDateTime

# --- collectors ---------------------------------------------------------------------------------


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


# --- SLO alerts and the stored board (metrics.slo) ------------------------------------------------


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

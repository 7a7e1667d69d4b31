"""The event log: business objects, the events that happened to them, links between objects, the
integration platform's sync attempts, and exchange rates, as the sources show them.

Ids of objects, events and sync attempts are deterministic 63-bit hashes of their natural keys
(`store.canonical.stable_id`), so every write is an idempotent upsert and collectors can link
across systems without reading the database first.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Date, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.tables.base import Base, JSONType, Money, UTCDateTime


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


class FxRate(Base):
    """Daily exchange rate: `rate` units of `quote` for one unit of `base`."""

    __tablename__ = "fx_rates"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    base: Mapped[str] = mapped_column(String(3), primary_key=True)
    quote: Mapped[str] = mapped_column(String(3), primary_key=True)
    rate: Mapped[Decimal] = mapped_column(Numeric(20, 10))
    source_system: Mapped[str] = mapped_column(String(32))
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime)

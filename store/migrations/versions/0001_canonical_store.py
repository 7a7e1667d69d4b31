"""Canonical store: objects, events, links, sync attempts, collector state and runs, quarantine, FX.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "collector_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("collector", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rows_in", sa.Integer(), nullable=False),
        sa.Column("rows_quarantined", sa.Integer(), nullable=False),
        sa.Column(
            "cursor_before", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column(
            "cursor_after", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collector_runs")),
    )
    with op.batch_alter_table("collector_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_collector_runs_collector_started_at"),
            ["collector", "started_at"],
            unique=False,
        )

    op.create_table(
        "collector_state",
        sa.Column("collector", sa.String(length=100), nullable=False),
        sa.Column("stream", sa.String(length=100), nullable=False),
        sa.Column(
            "cursor", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("collector", "stream", name=op.f("pk_collector_state")),
    )
    op.create_table(
        "event_objects",
        sa.Column("event_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("object_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("qualifier", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint(
            "event_id", "object_id", "qualifier", name=op.f("pk_event_objects")
        ),
    )
    with op.batch_alter_table("event_objects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_objects_object_id"), ["object_id"], unique=False)

    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("activity", sa.String(length=40), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_system", sa.String(length=32), nullable=False),
        sa.Column("source_key", sa.String(length=200), nullable=False),
        sa.Column(
            "attributes", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_events_activity_occurred_at"), ["activity", "occurred_at"], unique=False
        )

    op.create_table(
        "fx_rates",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("base", sa.String(length=3), nullable=False),
        sa.Column("quote", sa.String(length=3), nullable=False),
        sa.Column("rate", sa.Numeric(precision=20, scale=10), nullable=False),
        sa.Column("source_system", sa.String(length=32), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", "base", "quote", name=op.f("pk_fx_rates")),
    )
    op.create_table(
        "object_links",
        sa.Column("from_object_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("to_object_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("qualifier", sa.String(length=32), nullable=False),
        sa.Column("source_system", sa.String(length=32), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "from_object_id", "to_object_id", "qualifier", name=op.f("pk_object_links")
        ),
    )
    with op.batch_alter_table("object_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_object_links_to_object_id"), ["to_object_id"], unique=False
        )

    op.create_table(
        "objects",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("source_system", sa.String(length=32), nullable=False),
        sa.Column("source_key", sa.String(length=200), nullable=False),
        sa.Column("customer", sa.String(length=200), nullable=True),
        sa.Column("legal_entity", sa.String(length=32), nullable=True),
        sa.Column("practice", sa.String(length=100), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("amount", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column(
            "attributes", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column("source_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_objects")),
        sa.UniqueConstraint(
            "source_system",
            "type",
            "source_key",
            name=op.f("uq_objects_source_system_type_source_key"),
        ),
    )
    with op.batch_alter_table("objects", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_objects_type_legal_entity"), ["type", "legal_entity"], unique=False
        )

    op.create_table(
        "quarantine",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("collector", sa.String(length=100), nullable=False),
        sa.Column("stream", sa.String(length=100), nullable=False),
        sa.Column("source_key", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("times_seen", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
    )
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quarantine_collector_last_seen_at"),
            ["collector", "last_seen_at"],
            unique=False,
        )

    op.create_table(
        "sync_attempts",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("source_system", sa.String(length=32), nullable=False),
        sa.Column("source_key", sa.String(length=200), nullable=False),
        sa.Column("integration", sa.String(length=100), nullable=False),
        sa.Column("flow", sa.String(length=100), nullable=False),
        sa.Column("direction", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempt_number", sa.Integer(), nullable=False),
        sa.Column("retry_of_id", sa.BigInteger(), nullable=True),
        sa.Column("error_class", sa.String(length=32), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("error_signature", sa.String(length=500), nullable=True),
        sa.Column("trace_key", sa.String(length=200), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("object_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column("source_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_attempts")),
        sa.UniqueConstraint(
            "source_system", "source_key", name=op.f("uq_sync_attempts_source_system_source_key")
        ),
    )
    with op.batch_alter_table("sync_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sync_attempts_integration_flow_started_at"),
            ["integration", "flow", "started_at"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_sync_attempts_trace_key"), ["trace_key"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("sync_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_attempts_trace_key"))
        batch_op.drop_index(batch_op.f("ix_sync_attempts_integration_flow_started_at"))

    op.drop_table("sync_attempts")
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quarantine_collector_last_seen_at"))

    op.drop_table("quarantine")
    with op.batch_alter_table("objects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_objects_type_legal_entity"))

    op.drop_table("objects")
    with op.batch_alter_table("object_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_object_links_to_object_id"))

    op.drop_table("object_links")
    op.drop_table("fx_rates")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_activity_occurred_at"))

    op.drop_table("events")
    with op.batch_alter_table("event_objects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_objects_object_id"))

    op.drop_table("event_objects")
    op.drop_table("collector_state")
    with op.batch_alter_table("collector_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_collector_runs_collector_started_at"))

    op.drop_table("collector_runs")

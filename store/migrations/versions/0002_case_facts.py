"""Case facts (handoffs, invoices, work items and their billing) and sync rollups.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "case_handoffs",
        sa.Column("deal_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("deal_key", sa.String(length=200), nullable=True),
        sa.Column("legal_entity", sa.String(length=32), nullable=True),
        sa.Column("practice", sa.String(length=100), nullable=True),
        sa.Column("customer", sa.String(length=200), nullable=True),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("amount", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("won_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("wins", sa.Integer(), nullable=False),
        sa.Column("excluded", sa.String(length=32), nullable=True),
        sa.Column("project_id", sa.BigInteger(), nullable=True),
        sa.Column("project_key", sa.String(length=200), nullable=True),
        sa.Column("project_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("projects", sa.Integer(), nullable=False),
        sa.Column("touchless", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("deal_id", name=op.f("pk_case_handoffs")),
    )
    op.create_table(
        "case_invoices",
        sa.Column("invoice_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("invoice_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("billing_type", sa.String(length=32), nullable=True),
        sa.Column("legal_entity", sa.String(length=32), nullable=True),
        sa.Column("practice", sa.String(length=100), nullable=True),
        sa.Column("customer", sa.String(length=200), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("amount", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("project_id", sa.BigInteger(), nullable=True),
        sa.Column("milestone_id", sa.BigInteger(), nullable=True),
        sa.Column("reissue_of", sa.BigInteger(), nullable=True),
        sa.Column("work_items", sa.Integer(), nullable=False),
        sa.Column("period_end_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("milestone_accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("trigger_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("invoice_id", name=op.f("pk_case_invoices")),
    )
    with op.batch_alter_table("case_invoices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_invoices_milestone_id"), ["milestone_id"], unique=False
        )

    op.create_table(
        "case_work_billing",
        sa.Column("work_item_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("invoice_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("work_item_id", "invoice_id", name=op.f("pk_case_work_billing")),
    )
    with op.batch_alter_table("case_work_billing", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_work_billing_invoice_id"), ["invoice_id"], unique=False
        )

    op.create_table(
        "case_work_items",
        sa.Column("work_item_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("work_item_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("project_id", sa.BigInteger(), nullable=True),
        sa.Column("legal_entity", sa.String(length=32), nullable=True),
        sa.Column("practice", sa.String(length=100), nullable=True),
        sa.Column("customer", sa.String(length=200), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("amount", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("billable", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("work_date", sa.Date(), nullable=True),
        sa.Column("logged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("written_off_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("invoice_id", sa.BigInteger(), nullable=True),
        sa.Column("billed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("work_item_id", name=op.f("pk_case_work_items")),
    )
    with op.batch_alter_table("case_work_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_work_items_approved_at"), ["approved_at"], unique=False
        )

    op.create_table(
        "sync_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("integration", sa.String(length=100), nullable=False),
        sa.Column("flow", sa.String(length=100), nullable=False),
        sa.Column("legal_entity", sa.String(length=32), nullable=False),
        sa.Column("practice", sa.String(length=100), nullable=False),
        sa.Column("customer", sa.String(length=200), nullable=False),
        sa.Column("error_class", sa.String(length=32), nullable=False),
        sa.Column("error_signature", sa.String(length=500), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_attempts", sa.Integer(), nullable=False),
        sa.Column("failed_first_attempts", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("failed_retries", sa.Integer(), nullable=False),
        sa.Column("running", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day",
            "integration",
            "flow",
            "legal_entity",
            "practice",
            "customer",
            "error_class",
            "error_signature",
            name=op.f("pk_sync_daily"),
        ),
    )
    op.create_table(
        "sync_failures",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("integration", sa.String(length=100), nullable=False),
        sa.Column("flow", sa.String(length=100), nullable=False),
        sa.Column("trace_key", sa.String(length=200), nullable=False),
        sa.Column("error_class", sa.String(length=32), nullable=False),
        sa.Column("error_signature", sa.String(length=500), nullable=False),
        sa.Column("legal_entity", sa.String(length=32), nullable=True),
        sa.Column("practice", sa.String(length=100), nullable=True),
        sa.Column("customer", sa.String(length=200), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day",
            "integration",
            "flow",
            "trace_key",
            "error_class",
            "error_signature",
            name=op.f("pk_sync_failures"),
        ),
    )
    op.create_table(
        "sync_traces",
        sa.Column("trace_key", sa.String(length=200), nullable=False),
        sa.Column("integration", sa.String(length=100), nullable=False),
        sa.Column("flow", sa.String(length=100), nullable=False),
        sa.Column("object_id", sa.BigInteger(), nullable=True),
        sa.Column("legal_entity", sa.String(length=32), nullable=True),
        sa.Column("practice", sa.String(length=100), nullable=True),
        sa.Column("customer", sa.String(length=200), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_error_class", sa.String(length=32), nullable=True),
        sa.Column("first_error_signature", sa.String(length=500), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("latest_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("latest_status", sa.String(length=16), nullable=False),
        sa.Column("latest_error_class", sa.String(length=32), nullable=True),
        sa.Column("latest_error_signature", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("trace_key", "integration", "flow", name=op.f("pk_sync_traces")),
    )
    with op.batch_alter_table("sync_traces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sync_traces_object_id"), ["object_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("sync_traces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_traces_object_id"))

    op.drop_table("sync_traces")
    op.drop_table("sync_failures")
    op.drop_table("sync_daily")
    with op.batch_alter_table("case_work_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_work_items_approved_at"))

    op.drop_table("case_work_items")
    with op.batch_alter_table("case_work_billing", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_work_billing_invoice_id"))

    op.drop_table("case_work_billing")
    with op.batch_alter_table("case_invoices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_invoices_milestone_id"))

    op.drop_table("case_invoices")
    op.drop_table("case_handoffs")

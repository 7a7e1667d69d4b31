"""The values the sidebar filters offer, kept beside the case facts (`case_dimensions`), filled
from the case facts already stored.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As this revision found them (metrics.facts.filter_values may change later).
TABLES = ("case_handoffs", "case_invoices", "case_work_items")
DIMENSIONS = ("legal_entity", "practice", "customer")


def upgrade() -> None:
    op.create_table(
        "case_dimensions",
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("dimension", "value", name=op.f("pk_case_dimensions")),
    )
    values = " UNION ".join(
        f"SELECT '{name}', {name} FROM {table} WHERE {name} <> ''"  # noqa: S608
        for table in TABLES
        for name in DIMENSIONS
    )
    op.execute(f"INSERT INTO case_dimensions (dimension, value) {values}")


def downgrade() -> None:
    op.drop_table("case_dimensions")

"""Cases whose facts wait for the refresh that follows the ingest transaction.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "facts_pending",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=420), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", name=op.f("pk_facts_pending")),
    )


def downgrade() -> None:
    op.drop_table("facts_pending")

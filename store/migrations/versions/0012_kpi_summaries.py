"""What the pages read at one instant without scanning history: a partial index on when a work
item was written off (the aging at one instant reads open work and the period's write-offs).

Revision ID: 0012
Revises: 0010 (re-chained after 0011 when merged beside it)
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WRITTEN_OFF = sa.text("written_off_at IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_case_work_items_written_off_at",
        "case_work_items",
        ["written_off_at"],
        sqlite_where=WRITTEN_OFF,
        postgresql_where=WRITTEN_OFF,
    )


def downgrade() -> None:
    op.drop_index("ix_case_work_items_written_off_at", table_name="case_work_items")

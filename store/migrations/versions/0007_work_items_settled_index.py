"""An index on when a work item was settled for good (written off, else billed on an invoice
never voided; never while on hold): the unbilled loaders read only what a period can count.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# The expression as this revision made it (store.tables.WORK_SETTLED_AT may change later).
SETTLED_AT = "(CASE WHEN status = 'on_hold' THEN NULL ELSE coalesce(written_off_at, billed_at) END)"

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_case_work_items_settled_at",
        "case_work_items",
        [sa.text(SETTLED_AT)],
    )


def downgrade() -> None:
    op.drop_index("ix_case_work_items_settled_at", table_name="case_work_items")

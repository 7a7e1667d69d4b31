"""What the pages read without scanning history: running counts of what the store holds
(`store_counts`, kept by the write path: the collectors page), counted once here for an existing
store; a partial index on when a work item was written off (the unbilled aging at one instant
reads open work and the period's write-offs).

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
# The counts as `store.counts.recount` makes them, as of this revision.
RECOUNT = (
    "INSERT INTO store_counts (kind, name, source, rows, first_at, last_at) "
    "SELECT 'objects', type, source_system, count(*), NULL, NULL FROM objects "
    "GROUP BY type, source_system",
    "INSERT INTO store_counts (kind, name, source, rows, first_at, last_at) "
    "SELECT 'activity', activity, '', count(*), min(occurred_at), max(occurred_at) FROM events "
    "GROUP BY activity",
    "INSERT INTO store_counts (kind, name, source, rows, first_at, last_at) "
    "SELECT 'sync_attempts', '', '', count(*), NULL, NULL FROM sync_attempts HAVING count(*) > 0",
    "INSERT INTO store_counts (kind, name, source, rows, first_at, last_at) "
    "SELECT 'quarantine', collector, '', count(*), NULL, NULL FROM quarantine GROUP BY collector",
)


def upgrade() -> None:
    op.create_table(
        "store_counts",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kind", "name", "source", name=op.f("pk_store_counts")),
    )
    for statement in RECOUNT:  # what the store holds now; the write path keeps it from here on
        op.execute(statement)
    op.create_index(
        "ix_case_work_items_written_off_at",
        "case_work_items",
        ["written_off_at"],
        sqlite_where=WRITTEN_OFF,
        postgresql_where=WRITTEN_OFF,
    )


def downgrade() -> None:
    op.drop_index("ix_case_work_items_written_off_at", table_name="case_work_items")
    op.drop_table("store_counts")

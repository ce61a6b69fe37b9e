"""Issued-card records keep only the indexes a query uses: the primary key (feedback, quieting),
`tenant` and `issued_at` (the feedback report, the purge). Every hook call inserts its cards,
and each index is one more B-tree the insert writes: the four dropped here (`service_id`,
`hook_instance`, `kind`, `issuer`) no query reads through.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UNUSED = ("service_id", "hook_instance", "kind", "issuer")


def upgrade() -> None:
    for column in UNUSED:
        op.drop_index(f"ix_issued_card_{column}", table_name="issued_card")


def downgrade() -> None:
    for column in UNUSED:
        op.create_index(f"ix_issued_card_{column}", "issued_card", [column])

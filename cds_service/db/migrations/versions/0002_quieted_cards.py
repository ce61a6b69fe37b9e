"""Quiet once answered: the patient's keyed hash on issued cards, and the quieted-card table.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Nullable: cards issued before this release, and cards that cannot be quieted, have none.
    with op.batch_alter_table("issued_card") as batch:
        batch.add_column(sa.Column("patient_key", sa.String(64), nullable=True))

    op.create_table(
        "quieted_card",
        sa.Column(
            "card_uuid",
            sa.String(36),
            sa.ForeignKey("issued_card.uuid", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("patient_key", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("reason_code", sa.String(128), nullable=False),
        sa.Column("answered_at", UTC_TIME, nullable=False),
        sa.Column("quiet_until", UTC_TIME, nullable=False),
        sa.Column("tenant", sa.String(128), nullable=False),
    )
    op.create_index(
        "ix_quieted_card_lookup", "quieted_card", ["patient_key", "kind", "quiet_until"]
    )
    op.create_index("ix_quieted_card_tenant", "quieted_card", ["tenant"])


def downgrade() -> None:
    op.drop_table("quieted_card")
    with op.batch_alter_table("issued_card") as batch:
        batch.drop_column("patient_key")

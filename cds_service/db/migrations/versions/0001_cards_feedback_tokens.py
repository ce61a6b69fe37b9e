"""Issued cards, clinicians' feedback on them, and seen token ids (replay protection).

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "issued_card",
        sa.Column("uuid", sa.String(36), primary_key=True),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("hook_instance", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("suggestion_uuids", sa.JSON(), nullable=False),
        sa.Column("override_reasons", sa.JSON(), nullable=False),
        sa.Column("issuer", sa.String(255), nullable=True),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("issued_at", UTC_TIME, nullable=False),
    )
    for column in ("service_id", "hook_instance", "kind", "issuer", "tenant", "issued_at"):
        op.create_index(f"ix_issued_card_{column}", "issued_card", [column])

    op.create_table(
        "card_feedback",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column(
            "card_uuid",
            sa.String(36),
            sa.ForeignKey("issued_card.uuid", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("accepted_suggestions", sa.JSON(), nullable=False),
        sa.Column("override_reason_system", sa.String(255), nullable=True),
        sa.Column("override_reason_code", sa.String(128), nullable=True),
        sa.Column("user_comment", sa.Text(), nullable=True),
        sa.Column("outcome_timestamp", UTC_TIME, nullable=False),
        sa.Column("received_at", UTC_TIME, nullable=False),
        sa.Column("issuer", sa.String(255), nullable=True),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.UniqueConstraint(
            "card_uuid", "outcome", "outcome_timestamp", name="uq_card_feedback_item"
        ),
    )
    op.create_index("ix_card_feedback_card_uuid", "card_feedback", ["card_uuid"])
    op.create_index("ix_card_feedback_tenant", "card_feedback", ["tenant"])

    op.create_table(
        "seen_token",
        sa.Column("token_key", sa.String(64), primary_key=True),
        sa.Column("expires_at", UTC_TIME, nullable=False),
    )
    op.create_index("ix_seen_token_expires_at", "seen_token", ["expires_at"])


def downgrade() -> None:
    op.drop_table("seen_token")
    op.drop_table("card_feedback")
    op.drop_table("issued_card")

"""A repeated answer on a card is one feedback row: unique (card, answer) replaces unique
(card, outcome, time), which let an EHR's retries with a new time each count again.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _answer_key(outcome: str, system: str | None, code: str | None, accepted: object) -> str:
    # Frozen copy of cds_service.feedback.models.answer_key, as of this revision.
    suggestions = json.loads(accepted) if isinstance(accepted, str) else accepted
    answer = [outcome, system or "", code or "", sorted(suggestions or [])]
    return hashlib.sha256(json.dumps(answer).encode()).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table("card_feedback") as batch:
        batch.add_column(sa.Column("answer_key", sa.String(64), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT id, card_uuid, outcome, override_reason_system, override_reason_code, "
            "accepted_suggestions FROM card_feedback ORDER BY outcome_timestamp, id"
        )
    ).all()
    latest: dict[tuple[str, str], int] = {}  # the same answer, repeated: its latest row stays
    for row_id, card, outcome, system, code, accepted in rows:
        latest[(card, _answer_key(outcome, system, code, accepted))] = row_id
    kept = set(latest.values())
    for row_id, *_ in rows:
        if row_id not in kept:
            connection.execute(sa.text("DELETE FROM card_feedback WHERE id = :id"), {"id": row_id})
    for (_, key), row_id in latest.items():
        connection.execute(
            sa.text("UPDATE card_feedback SET answer_key = :key WHERE id = :id"),
            {"key": key, "id": row_id},
        )
    with op.batch_alter_table("card_feedback") as batch:
        batch.alter_column("answer_key", existing_type=sa.String(64), nullable=False)
        batch.drop_constraint("uq_card_feedback_item", type_="unique")
        batch.create_unique_constraint("uq_card_feedback_answer", ["card_uuid", "answer_key"])


def downgrade() -> None:
    with op.batch_alter_table("card_feedback") as batch:
        batch.drop_constraint("uq_card_feedback_answer", type_="unique")
        batch.create_unique_constraint(
            "uq_card_feedback_item", ["card_uuid", "outcome", "outcome_timestamp"]
        )
        batch.drop_column("answer_key")

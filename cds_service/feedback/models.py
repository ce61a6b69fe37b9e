"""Tables for the cards the service returned and the feedback clinicians gave on them.

No patient name or identifier is stored: a card is known by its uuid, its service, the hook
instance (a random UUID per hook event), its kind and the calling tenant. A card that can be
quieted also keeps the patient's keyed hash (`cds_service.quieting.patient_key`), which cannot
be matched to a patient id without the deployment's secret. The one free-text
field, `user_comment`, is what a clinician typed when overriding a card; it may hold patient
data, so it is stored for review but never logged or printed by the report.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cds_service.db import Base, UtcDateTime

# SQLite autoincrements only an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


class IssuedCard(Base):
    __tablename__ = "issued_card"

    # Indexed only where a query reads through the index (migration 0004): every hook call
    # inserts these rows, and each index is one more B-tree written.
    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    service_id: Mapped[str] = mapped_column(String(64))
    hook_instance: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))  # card.source.topic.code
    suggestion_uuids: Mapped[list[str]] = mapped_column(JSON)
    override_reasons: Mapped[list[dict[str, str]]] = mapped_column(JSON)  # offered {system, code}
    issuer: Mapped[str | None] = mapped_column(String(255))  # None: dev mode call
    tenant: Mapped[str] = mapped_column(String(128), index=True)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    # The patient's keyed hash, on cards that can be quieted only (cds_service.quieting).
    patient_key: Mapped[str | None] = mapped_column(String(64))


def answer_key(
    outcome: str,
    reason_system: str | None,
    reason_code: str | None,
    accepted_suggestions: Iterable[str],
) -> str:
    """What makes two feedback items on one card the same answer: the outcome, the override
    reason and the suggestions accepted (not the time, not the comment). A hash, so the
    database can hold it unique beside the card (NULL reasons never compare equal in SQL)."""
    answer = [outcome, reason_system or "", reason_code or "", sorted(accepted_suggestions)]
    return hashlib.sha256(json.dumps(answer).encode()).hexdigest()


def _row_answer_key(context: Any) -> str:
    row = context.get_current_parameters()
    return answer_key(
        row["outcome"],
        row.get("override_reason_system"),
        row.get("override_reason_code"),
        row.get("accepted_suggestions") or (),
    )


class CardFeedback(Base):
    __tablename__ = "card_feedback"
    # The spec lets a client send the same feedback more than once, and EHRs retry: a repeated
    # answer on a card is one row (its time the latest sent), so counts and rates stay true.
    __table_args__ = (
        UniqueConstraint("card_uuid", "answer_key", name="uq_card_feedback_answer"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    card_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("issued_card.uuid", ondelete="CASCADE"), index=True
    )
    outcome: Mapped[str] = mapped_column(String(16))  # accepted | overridden
    # answer_key(): the same answer, once; computed from the row when an insert leaves it out
    answer_key: Mapped[str] = mapped_column(String(64), default=_row_answer_key)
    accepted_suggestions: Mapped[list[str]] = mapped_column(JSON)
    override_reason_system: Mapped[str | None] = mapped_column(String(255))
    override_reason_code: Mapped[str | None] = mapped_column(String(128))
    user_comment: Mapped[str | None] = mapped_column(Text)  # free text: never log it
    outcome_timestamp: Mapped[datetime] = mapped_column(UtcDateTime())
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    issuer: Mapped[str | None] = mapped_column(String(255))
    tenant: Mapped[str] = mapped_column(String(128), index=True)

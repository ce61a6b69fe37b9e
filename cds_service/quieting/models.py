"""The quieted-card table: which card kind is quiet for which keyed patient hash, until when.

One row per answered card whose latest answer was a quieting override. The row holds the
patient's keyed hash (`patient_key.py`), never a patient identifier, and is removed with its
issued card.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from cds_service.db import Base, UtcDateTime


class QuietedCard(Base):
    __tablename__ = "quieted_card"
    __table_args__ = (
        Index("ix_quieted_card_lookup", "patient_key", "kind", "quiet_until"),
    )

    card_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("issued_card.uuid", ondelete="CASCADE"), primary_key=True
    )
    patient_key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    reason_code: Mapped[str] = mapped_column(String(128))
    answered_at: Mapped[datetime] = mapped_column(UtcDateTime())  # the override's timestamp
    quiet_until: Mapped[datetime] = mapped_column(UtcDateTime())
    tenant: Mapped[str] = mapped_column(String(128), index=True)

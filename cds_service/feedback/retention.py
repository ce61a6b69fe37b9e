"""`cds-service feedback purge`: what is kept about people, and for how long.

A clinician's override comment is free text and may name a patient: it is removed once older
than the comment limit (`CDS_FEEDBACK_RETENTION_DAYS`), the rest of its feedback row kept for
the report. Past the record limit (`CDS_FEEDBACK_RECORD_RETENTION_DAYS`) whole feedback rows
and the issued-card rows they refer to are removed. Age is counted from when the service
stored the row (`received_at`, `issued_at`). One transaction: all of it or nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, or_, select, update
from sqlalchemy.orm import Session

from cds_service.feedback.models import CardFeedback, IssuedCard


@dataclass(frozen=True)
class Retention:
    comment_days: int
    record_days: int

    def __post_init__(self) -> None:
        if self.comment_days < 0 or self.record_days < 0:
            raise ValueError("retention periods are whole days, 0 or more")
        if self.record_days < self.comment_days:
            raise ValueError(
                f"records ({self.record_days} days) cannot be kept for less time than the "
                f"comments on them ({self.comment_days} days)"
            )


@dataclass(frozen=True)
class Purged:
    comments_before: datetime  # comments stored before this were removed
    records_before: datetime  # feedback and issued-card rows stored before this were removed
    comments: int  # comments removed from feedback rows that are kept
    feedback_rows: int
    issued_cards: int

    def as_dict(self) -> dict[str, int | str]:
        values = asdict(self)
        values["comments_before"] = self.comments_before.isoformat()
        values["records_before"] = self.records_before.isoformat()
        return values


def purge(engine: Engine, retention: Retention, now: datetime) -> Purged:
    """Removes what is older than `retention` at `now` (an aware UTC datetime)."""
    comments_before = now - timedelta(days=retention.comment_days)
    records_before = now - timedelta(days=retention.record_days)
    old_cards = select(IssuedCard.uuid).where(IssuedCard.issued_at < records_before)
    with Session(engine) as session, session.begin():
        feedback_rows = session.execute(
            delete(CardFeedback).where(
                or_(
                    CardFeedback.received_at < records_before,
                    CardFeedback.card_uuid.in_(old_cards),  # feedback on a card to be removed
                )
            )
        ).rowcount
        issued_cards = session.execute(
            delete(IssuedCard).where(IssuedCard.issued_at < records_before)
        ).rowcount
        comments = session.execute(
            update(CardFeedback)
            .where(CardFeedback.received_at < comments_before)
            .where(CardFeedback.user_comment.is_not(None))
            .values(user_comment=None)
        ).rowcount
    return Purged(comments_before, records_before, comments, feedback_rows, issued_cards)


def format_purged(result: Purged, retention: Retention) -> str:
    return "\n".join(
        [
            f"comments removed: {result.comments} (stored more than {retention.comment_days} "
            f"days ago, before {result.comments_before:%Y-%m-%d %H:%M} UTC)",
            f"feedback rows removed: {result.feedback_rows}, issued-card rows removed: "
            f"{result.issued_cards} (stored more than {retention.record_days} days ago, before "
            f"{result.records_before:%Y-%m-%d %H:%M} UTC)",
        ]
    )

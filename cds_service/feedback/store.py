"""The feedback store: records the cards the service returns and the feedback given on them.

Feedback is checked against what was issued — the card exists, came from this service, was
issued to the same client (issuer), and the accepted suggestions and override reason were on
it — and a request is stored whole or not at all (one transaction). A repeated answer (same
card, outcome, override reason and accepted suggestions; any time) is kept once, by a unique
index, which also makes concurrent resends from several workers safe.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cds_service.feedback.issued import IssuedCardWriter
from cds_service.feedback.models import CardFeedback, IssuedCard, answer_key
from cds_service.feedback.schemas import FeedbackItem

if TYPE_CHECKING:
    from cds_service.quieting import Quieting

log = logging.getLogger(__name__)


class FeedbackRejected(Exception):
    """Some items do not match what was issued: `problems` names each (path → message)."""

    def __init__(self, problems: dict[str, str], unknown_cards: bool = False) -> None:
        super().__init__("feedback rejected")
        self.problems = problems
        self.unknown_cards = unknown_cards  # some card was not (yet) recorded as issued


@dataclass(frozen=True)
class Submitted:
    received: int
    stored: int  # received minus items already stored by an earlier request


def card_record(
    card: dict[str, Any],
    service_id: str,
    hook_instance: str,
    issuer: str | None,
    tenant: str,
    now: datetime,
    patient_key: str | None = None,
) -> dict[str, Any]:
    """What is kept of a card: identifiers and codes only, no text, no patient identifier
    (a card that can be quieted keeps the patient's keyed hash, `cds_service.quieting`)."""
    return {
        "uuid": str(card["uuid"]),
        "service_id": service_id,
        "hook_instance": hook_instance,
        "kind": str(((card.get("source") or {}).get("topic") or {}).get("code") or "unknown"),
        "suggestion_uuids": [
            str(s["uuid"]) for s in card.get("suggestions") or () if s.get("uuid")
        ],
        "override_reasons": [
            {"system": r.get("system"), "code": r.get("code")}
            for r in card.get("overrideReasons") or ()
        ],
        "issuer": issuer,
        "tenant": tenant,
        "issued_at": now,
        "patient_key": patient_key,
    }


class FeedbackStore:
    def __init__(self, engine: Engine, quieting: Quieting | None = None) -> None:
        self.engine = engine
        self.quieting = quieting
        self.issued = IssuedCardWriter(self._insert_cards)

    def record_cards(
        self,
        service_id: str,
        hook_instance: str,
        cards: Iterable[dict[str, Any]],
        issuer: str | None,
        tenant: str,
        patient_keys: dict[str, str] | None = None,
    ) -> int:
        now = datetime.now(UTC)
        keys = patient_keys or {}
        rows = [
            card_record(
                c, service_id, hook_instance, issuer, tenant, now, keys.get(str(c.get("uuid")))
            )
            for c in cards
            if c.get("uuid")
        ]
        if rows:
            self.issued.add(rows)  # now, or in the next batch in background mode
        return len(rows)

    def _insert_cards(self, rows: list[dict[str, Any]]) -> None:
        # Core, not the ORM: this runs for every hook call, and one INSERT is all it needs.
        insert = self._insert(IssuedCard.__table__).on_conflict_do_nothing()
        with self.engine.begin() as connection:
            connection.execute(insert, rows)

    def submit(
        self,
        service_id: str,
        items: Sequence[FeedbackItem],
        issuer: str | None,
        tenant: str,
    ) -> Submitted:
        self.issued.flush()  # a card this worker just issued is in the database first
        try:
            return self._submit(service_id, items, issuer, tenant)
        except FeedbackRejected as exc:
            if not (exc.unknown_cards and self.issued.background):
                raise
        # Another worker may still hold the card's record for its next batch.
        time.sleep(2 * self.issued.delay)
        return self._submit(service_id, items, issuer, tenant)

    def _submit(
        self,
        service_id: str,
        items: Sequence[FeedbackItem],
        issuer: str | None,
        tenant: str,
    ) -> Submitted:
        now = datetime.now(UTC)
        with Session(self.engine) as session, session.begin():
            wanted = {item.card for item in items}
            cards = {
                card.uuid: card
                for card in session.scalars(
                    select(IssuedCard).where(
                        IssuedCard.uuid.in_(wanted),
                        IssuedCard.service_id == service_id,
                        IssuedCard.issuer.is_(None) if issuer is None
                        else IssuedCard.issuer == issuer,
                    )
                )
            }
            problems: dict[str, str] = {}
            for index, item in enumerate(items):
                problems.update(_mismatches(index, item, cards.get(item.card), service_id))
            if problems:
                unknown = any(item.card not in cards for item in items)
                raise FeedbackRejected(problems, unknown)  # rolls back: nothing stored
            # One row per answer: a repeated answer (an EHR's retry, a resend with a new
            # time) is stored once, keeping the latest time it was given.
            rows: dict[tuple[str, str], dict[str, Any]] = {}
            for item in items:
                key = answer_key(
                    item.outcome, item.reason_system, item.reason_code, item.accepted_suggestions
                )
                row = rows.get((item.card, key))
                if row is None or item.outcome_timestamp > row["outcome_timestamp"]:
                    rows[(item.card, key)] = {
                        "card_uuid": item.card,
                        "outcome": item.outcome,
                        "answer_key": key,
                        "accepted_suggestions": list(item.accepted_suggestions),
                        "override_reason_system": item.reason_system,
                        "override_reason_code": item.reason_code,
                        "user_comment": item.user_comment,
                        "outcome_timestamp": item.outcome_timestamp,
                        "received_at": now,
                        "issuer": issuer,
                        "tenant": tenant,
                    }
            # The unique (card, answer) index decides, not a read first: two workers storing
            # the same answer at once store it once.
            inserted = session.execute(
                self._insert(CardFeedback)
                .on_conflict_do_nothing(index_elements=["card_uuid", "answer_key"])
                .returning(CardFeedback.card_uuid, CardFeedback.answer_key),
                list(rows.values()),
            ).all()
            stored = len(inserted)
            new = {(card, key) for card, key in inserted}
            for (card, key), row in rows.items():
                if (card, key) not in new:  # given before: it now answers as of this time
                    session.execute(
                        update(CardFeedback)
                        .where(
                            CardFeedback.card_uuid == card,
                            CardFeedback.answer_key == key,
                            CardFeedback.outcome_timestamp < row["outcome_timestamp"],
                        )
                        .values(outcome_timestamp=row["outcome_timestamp"])
                    )
            if self.quieting is not None:
                self.quieting.record_answers(session, [cards[i.card] for i in items])
        return Submitted(received=len(items), stored=stored)

    def _insert(self, table: type[Any]) -> Any:
        """INSERT with ON CONFLICT support on both backends."""
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        statement: Insert = dialect.insert(table)
        return statement


def _mismatches(
    index: int, item: FeedbackItem, card: IssuedCard | None, service_id: str
) -> dict[str, str]:
    where = f"feedback.{index}"
    if card is None:
        return {
            f"{where}.card": f"no card {item.card} was issued by service {service_id} "
            "to this client"
        }
    problems: dict[str, str] = {}
    if item.outcome == "accepted":
        if not card.suggestion_uuids:
            problems[f"{where}.outcome"] = "this card has no suggestions to accept"
        offered = set(card.suggestion_uuids)
        for n, suggestion in enumerate(item.accepted_suggestions):
            if suggestion not in offered:
                problems[f"{where}.acceptedSuggestions.{n}.id"] = (
                    f"suggestion {suggestion[:64]} is not on card {item.card}"
                )
    if item.reason_code is not None:
        offered_reasons = {(r.get("system"), r.get("code")) for r in card.override_reasons}
        if (item.reason_system, item.reason_code) not in offered_reasons:
            problems[f"{where}.overrideReason.reason"] = (
                "not one of the override reasons this card offered"
            )
    return problems

"""Quiet once answered: a suggestion a clinician overrode with a quieting reason is not shown
again for that patient until the period in the quieting policy has passed.

`init_quieting` puts a `Quieting` in `app.extensions["cds_quieting"]` (or nothing, when the
deployment turned quieting off). The API calls `Quieting.quiet` once, after the decision and
before the cards are rendered; the feedback store calls `record_answers` in the transaction
that stores the feedback. Only info cards can be quieted: the policy is checked against the
card templates at start-up, so a warning or critical card (bleeding, allergy, data quality)
is never suppressed whatever the policy file says. A database error while looking up shows the
card: quieting fails towards showing, never towards hiding.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from flask import Flask
from sqlalchemy import Engine, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from cards.render import kinds as card_kinds
from cards.render import template
from cds_service.config import ConfigError, Settings
from cds_service.db.driver_query import DriverQuery
from cds_service.decisions import CardDecision
from cds_service.feedback.models import CardFeedback, IssuedCard
from cds_service.hook_call import HookCall
from cds_service.knowledge.base import KnowledgeError
from cds_service.knowledge.quieting import QuietingPolicy, load_quieting_policy
from cds_service.quieting.models import QuietedCard
from cds_service.quieting.patient_key import MIN_SECRET_LENGTH, patient_key

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
SECRET_SETTING = "CDS_PATIENT_KEY_SECRET"
# Development mode only (synthetic patients): a published secret, so never one to deploy.
DEVELOPMENT_SECRET = b"development-only: quieting keys are not secret in development mode"


_QUIETED = QuietedCard.__table__.c
# The kinds quiet now for one patient key (a handful of rows at most); which of them the
# call could show is picked in Python, so the statement has one shape and compiles once.
QUIETED_KINDS = (
    select(_QUIETED.kind)
    .where(
        _QUIETED.patient_key == bindparam("key", type_=_QUIETED.patient_key.type),
        _QUIETED.quiet_until > bindparam("now", type_=_QUIETED.quiet_until.type),
    )
    .distinct()
)


def utc_now() -> datetime:
    return datetime.now(UTC)


class AnsweredCard(Protocol):
    """What `record_answers` reads of an issued card (feedback's IssuedCard row)."""

    uuid: str
    kind: str
    patient_key: str | None
    tenant: str


def _insert(session: Session) -> Any:
    """INSERT with ON CONFLICT on both backends."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(QuietedCard)


def check_against_cards(policy: QuietingPolicy) -> None:
    """Refuses a policy that names an unknown card, a non-info card or a reason not offered."""
    known = set(card_kinds())
    for kind in policy.kinds:
        if kind not in known:
            raise KnowledgeError(f"quieting policy names an unknown card kind {kind!r}")
        spec = template(kind)
        if spec["indicator"] != "info":
            raise KnowledgeError(
                f"quieting policy names {kind!r}, a {spec['indicator']} card: only info cards "
                "may be quieted, safety cards are always shown"
            )
        offered = {r["code"] for r in spec.get("override_reasons") or ()}
        named = set(policy.periods[kind]) | policy.not_quieting.get(kind, frozenset())
        if named - offered:
            raise KnowledgeError(
                f"quieting policy names reasons {sorted(named - offered)} that card {kind!r} "
                "does not offer"
            )


class Quieting:
    def __init__(
        self, engine: Engine, policy: QuietingPolicy, secret: bytes, clock: Clock = utc_now
    ) -> None:
        self.engine = engine
        self._lookup = DriverQuery(engine, QUIETED_KINDS)
        self.policy = policy
        self._secret = secret
        self.clock = clock

    def key_for(self, call: HookCall, tenant: str) -> str:
        return patient_key(self._secret, tenant, call.fhir_server, call.patient_id)

    def quiet(self, decisions: Sequence[CardDecision], key: str) -> list[CardDecision]:
        """The decisions without the kinds this patient's answers quieted (the one filter)."""
        kinds = {d.kind for d in decisions} & self.policy.kinds
        if not kinds:
            return list(decisions)
        quiet = self.quieted_kinds(kinds, key)
        if quiet:
            log.info("quieted on an earlier answer: %s", ",".join(sorted(quiet)))
        return [d for d in decisions if d.kind not in quiet]

    def quieted_kinds(self, kinds: Iterable[str], key: str) -> set[str]:
        """Which of `kinds` this patient's answers quiet now; none when the lookup fails."""
        # On the driver (db/driver_query.py): the lookup runs on every call that could show
        # a quietable card.
        try:
            rows = self._lookup.rows({"key": key, "now": self.clock()})
        except (SQLAlchemyError, self._lookup.driver_error) as exc:
            log.error("quieting lookup failed (%s): every card is shown", type(exc).__name__)
            return set()
        return {kind for (kind,) in rows} & set(kinds)

    def keys_to_store(self, cards: Iterable[Mapping[str, Any]], key: str) -> dict[str, str]:
        """Card uuid -> patient key, for the kinds that can be quieted only: no other card
        row carries even the keyed hash."""
        return {
            str(c["uuid"]): key
            for c in cards
            if ((c.get("source") or {}).get("topic") or {}).get("code") in self.policy.kinds
        }

    def record_answers(self, session: Session, cards: Iterable[AnsweredCard]) -> None:
        """In the feedback's transaction, for each card just answered: its latest answer (as
        the feedback report counts it) sets or lifts its quiet."""
        for card in {c.uuid: c for c in cards}.values():
            if card.patient_key is None or card.kind not in self.policy.kinds:
                continue
            outcome, reason, answered_at = session.execute(
                select(
                    CardFeedback.outcome,
                    CardFeedback.override_reason_code,
                    CardFeedback.outcome_timestamp,
                )
                .where(CardFeedback.card_uuid == card.uuid)
                .order_by(CardFeedback.outcome_timestamp.desc(), CardFeedback.id.desc())
                .limit(1)
            ).one()
            period = self.policy.period(card.kind, reason) if outcome == "overridden" else None
            if period is None:
                session.execute(delete(QuietedCard).where(QuietedCard.card_uuid == card.uuid))
                continue
            row = {
                "patient_key": card.patient_key,
                "kind": card.kind,
                "reason_code": str(reason),
                "answered_at": answered_at,
                "quiet_until": answered_at + period,
                "tenant": card.tenant,
            }
            # An upsert: two workers storing answers to one card at once both succeed.
            insert = _insert(session).values(card_uuid=card.uuid, **row)
            session.execute(insert.on_conflict_do_update(index_elements=["card_uuid"], set_=row))
        self._forget_old(session)

    def _forget_old(self, session: Session) -> None:
        """Keep the keyed hash no longer than it can matter: expired quiets go, and a card
        older than the longest period loses its hash (an answer to it could quiet nothing
        that is not already over)."""
        now = self.clock()
        session.execute(delete(QuietedCard).where(QuietedCard.quiet_until <= now))
        longest = max(
            (p for periods in self.policy.periods.values() for p in periods.values()),
            default=None,
        )
        if longest is not None:
            session.execute(
                update(IssuedCard)
                .where(IssuedCard.issued_at < now - longest, IssuedCard.patient_key.is_not(None))
                .values(patient_key=None)
            )


def init_quieting(
    app: Flask, engine: Engine, settings: Settings, clock: Clock = utc_now
) -> Quieting | None:
    """Refuses to start (ConfigError) outside development mode without a secret, unless the
    deployment turned quieting off: no patient key is ever made with a guessable secret. A
    policy that is malformed or would quiet a safety card stops start-up too."""
    if not settings.quieting:
        log.warning("quieting is off (CDS_QUIETING=off): every suggestion is shown every time")
        return None
    secret = settings.patient_key_secret
    if not secret:
        if not settings.dev_mode:
            raise ConfigError(
                f"{SECRET_SETTING} is not set: set a random secret of at least "
                f"{MIN_SECRET_LENGTH} characters (python -c 'import secrets; "
                "print(secrets.token_hex(32))'), or turn quieting off with CDS_QUIETING=off"
            )
        log.warning(
            "%s is not set: development mode uses a published secret for patient keys",
            SECRET_SETTING,
        )
        secret_bytes = DEVELOPMENT_SECRET
    elif len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(f"{SECRET_SETTING} must be at least {MIN_SECRET_LENGTH} characters")
    else:
        secret_bytes = secret.encode("utf-8")
    try:
        policy = load_quieting_policy(settings.quieting_policy)
        check_against_cards(policy)
    except KnowledgeError as exc:
        raise ConfigError(str(exc)) from exc
    quieting = Quieting(engine, policy, secret_bytes, clock)
    app.extensions["cds_quieting"] = quieting
    return quieting

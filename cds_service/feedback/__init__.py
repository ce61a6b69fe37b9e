"""Clinicians' feedback on cards (CDS Hooks 2.0 "Feedback"), and the cards it refers to.

`init_feedback(app, engine)` registers the feedback endpoint and puts a `FeedbackStore` in
`app.extensions["cds_feedback"]`. Every card a service call returns is recorded through the
`cards_issued` signal, so feedback can be tied to what was shown and to whom.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from flask import Flask, g
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from cds_service.api.routes import cards_issued
from cds_service.feedback.routes import bp
from cds_service.feedback.store import FeedbackStore

if TYPE_CHECKING:
    from cds_service.quieting import Quieting

log = logging.getLogger(__name__)


def init_feedback(app: Flask, engine: Engine, quieting: Quieting | None = None) -> None:
    app.extensions["cds_feedback"] = FeedbackStore(engine, quieting)
    app.register_blueprint(bp)


@cards_issued.connect
def record_issued_cards(
    sender: Flask,
    service: Any,
    call: Any,
    cards: list[dict[str, Any]],
    patient_keys: dict[str, str] | None = None,
    **_: Any,
) -> None:
    store: FeedbackStore | None = sender.extensions.get("cds_feedback")
    if store is None or not cards:
        return
    try:
        store.record_cards(
            service.id,
            call.hook_instance,
            cards,
            issuer=g.get("cds_issuer"),
            tenant=g.get("cds_tenant") or "unknown",
            patient_keys=patient_keys,
        )
    except SQLAlchemyError as exc:
        # The clinician still gets the cards; feedback on them will be refused as unknown.
        log.error(
            "could not record %d issued card(s) of service %s: %s",
            len(cards), service.id, type(exc).__name__,
        )

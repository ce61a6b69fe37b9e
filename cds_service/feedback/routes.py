"""`POST /cds-services/{id}/feedback` (CDS Hooks 2.0 "Feedback").

The caller was verified by the security check before this view runs; feedback is tied to the
cards issued to the same caller. The body is small by nature, so it gets a smaller size limit
than a hook call and a nesting limit; a rejected request stores nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, g, request
from marshmallow import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from cds_service.api.errors import CdsError
from cds_service.api.json_body import read_json_body
from cds_service.api.routes import lookup_service
from cds_service.api.schemas import flatten
from cds_service.feedback.schemas import FeedbackRequestSchema
from cds_service.feedback.store import FeedbackRejected, FeedbackStore

log = logging.getLogger(__name__)
bp = Blueprint("cds_feedback", __name__)

MAX_DEPTH = 8  # {"feedback": [{"overrideReason": {"reason": {...}}}]} is 5 deep


def too_deep(value: Any, limit: int) -> bool:
    """True when JSON `value` nests deeper than `limit` (iterative: no recursion to exhaust)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > limit:
                return True
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return False


@bp.post("/cds-services/<service_id>/feedback")
def feedback(service_id: str) -> dict[str, Any]:
    service = lookup_service(service_id)
    settings = current_app.config["CDS_SETTINGS"]
    request.max_content_length = settings.feedback_max_body_bytes
    body = read_json_body()
    if not isinstance(body, dict):
        raise CdsError(400, "The request body must be a JSON object with a feedback array.")
    if too_deep(body, MAX_DEPTH):
        raise CdsError(400, f"The feedback request nests deeper than {MAX_DEPTH} levels.")
    try:
        items = FeedbackRequestSchema().load(body)["feedback"]
    except ValidationError as exc:
        raise CdsError(400, "The feedback is invalid.", flatten(exc.messages)) from None
    store: FeedbackStore = current_app.extensions["cds_feedback"]
    try:
        result = store.submit(service.id, items, g.cds_issuer, g.cds_tenant)
    except SQLAlchemyError as exc:
        log.error("feedback not stored: database error %s", type(exc).__name__)
        raise CdsError(503, "Feedback cannot be stored right now; send it again later.") from None
    except FeedbackRejected as exc:
        log.info(
            "feedback refused: service=%s tenant=%s items=%d problems=%d",
            service.id, g.cds_tenant, len(items), len(exc.problems),
        )
        raise CdsError(
            400, "The feedback does not match the cards this service issued.", exc.problems
        ) from None
    # Counts and outcomes only: never the comment a clinician typed.
    log.info(
        "feedback: service=%s tenant=%s received=%d stored=%d outcomes=%s",
        service.id,
        g.cds_tenant,
        result.received,
        result.stored,
        ",".join(sorted({i.outcome for i in items})),
    )
    return {"received": result.received, "stored": result.stored}

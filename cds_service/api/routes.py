"""CDS Hooks endpoints: discovery and service calls. Services come from the registry, so a new
service or a new drug needs no change here."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from flask import Blueprint, current_app, g, request
from flask.signals import Namespace
from marshmallow import ValidationError

from cards.reasons import reason_words
from cards.render import render_or_plain
from cds_service import services
from cds_service.api.errors import CdsError
from cds_service.api.json_body import read_json_body
from cds_service.api.schemas import HOOK_REQUEST, flatten
from cds_service.data.loader import DataUnavailable, RecordFetcher, load_record
from cds_service.knowledge import Knowledge
from cds_service.metrics import CARDS

if TYPE_CHECKING:
    from cds_service.quieting import Quieting

log = logging.getLogger(__name__)
bp = Blueprint("cds_hooks", __name__)

# Sent after a service call with the cards returned: the feedback store records them.
cards_issued = Namespace().signal("cards-issued")


def lookup_service(service_id: str) -> services.CdsService:
    service = services.BY_ID.get(service_id)
    if service is None:
        raise CdsError(404, f"No CDS service with id {service_id[:64]!r}.")
    return service


def links_base_url() -> str:
    """CDS_PUBLIC_URL, else the scheme and host the call came to, as a URI (werkzeug's
    `host_url` is an IRI, and converting to it cost a fortieth of a typical call)."""
    return current_app.config["CDS_SETTINGS"].public_url or f"{request.scheme}://{request.host}/"


@bp.get("/cds-services")
def discovery() -> dict[str, Any]:
    return {"services": [s.discovery() for s in services.ALL]}


@bp.route("/cds-services/<service_id>", methods=["GET", "PUT", "PATCH", "DELETE"])
@bp.route("/cds-services/<service_id>/feedback", methods=["GET", "PUT", "PATCH", "DELETE"])
def wrong_method(service_id: str) -> None:
    """An unknown service is 404 whatever the method; a known one is called with POST only."""
    lookup_service(service_id)
    raise CdsError(405, "Call this endpoint with POST.", headers={"Allow": "POST"})


@bp.post("/cds-services/<service_id>")
def call_service(service_id: str) -> dict[str, Any]:
    arrived = time.monotonic()
    service = lookup_service(service_id)
    body = read_json_body()
    if not isinstance(body, dict):
        raise CdsError(400, "The request body must be a JSON object.")
    try:
        call = replace(
            HOOK_REQUEST.load(body),
            arrived=arrived,
            received_at=current_app.extensions["cds_clock"](),
        )
    except ValidationError as exc:
        raise CdsError(400, "The hook request is invalid.", flatten(exc.messages)) from None
    if call.hook != service.hook:
        raise CdsError(
            400,
            f"Service {service.id} answers the {service.hook} hook, not {call.hook[:64]!r}.",
            {"hook": f"must be {service.hook}"},
        )
    fetcher: RecordFetcher | None = current_app.extensions.get("cds_record_fetcher")
    try:
        record = load_record(service.prefetch, service.required, call, fetcher)
    except DataUnavailable as exc:
        raise CdsError(
            412,
            "Required data could not be obtained from prefetch or the FHIR server.",
            {where: reason_words(reason) for where, reason in exc.problems.items()},
        ) from None
    # The release, with the clinic's protocol checked at start-up where one is configured.
    knowledge: Knowledge = current_app.extensions["cds_knowledge"]
    decisions = service.decide(call, record, knowledge)
    quieting: Quieting | None = current_app.extensions.get("cds_quieting")
    if quieting is not None:
        patient_key = quieting.key_for(call, g.get("cds_tenant") or "unknown")
        decisions = quieting.quiet(decisions, patient_key)
    base = links_base_url()
    cards = [render_or_plain(d, base, knowledge.version) for d in decisions]
    for card in cards:
        CARDS.labels(card["source"]["topic"]["code"]).inc()
    cards_issued.send(
        current_app._get_current_object(),
        service=service,
        call=call,
        cards=cards,
        patient_keys=quieting.keys_to_store(cards, patient_key) if quieting else None,
    )
    log.info(
        "service=%s hook_instance=%s cards=%s",
        service.id,
        call.hook_instance,
        ",".join(c["source"]["topic"]["code"] for c in cards) or "none",
    )
    return {"cards": cards}

"""CDS Hooks endpoints: discovery and service calls. Services come from the registry, so a new
service or a new drug needs no change here."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Any

from flask import Blueprint, current_app, request
from flask.signals import Namespace
from marshmallow import ValidationError

from cards import render_card
from cds_service import services
from cds_service.api.errors import CdsError
from cds_service.api.schemas import HookRequestSchema, flatten
from cds_service.data.loader import DataUnavailable, RecordFetcher, load_record
from cds_service.knowledge import load_knowledge

log = logging.getLogger(__name__)
bp = Blueprint("cds_hooks", __name__)

# Sent after a service call with the cards returned: the feedback store records them.
cards_issued = Namespace().signal("cards-issued")

JSON_TYPES = ("application/json", "application/fhir+json")


def read_json_body() -> Any:
    if request.mimetype not in JSON_TYPES:
        raise CdsError(415, "Send the request as application/json.")
    raw = request.get_data(cache=False)  # over MAX_CONTENT_LENGTH: 413 before this line
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        message = "The request body is not valid JSON"
        if isinstance(exc, json.JSONDecodeError):
            message += f" (line {exc.lineno}, column {exc.colno})"
        raise CdsError(400, message + ".") from None


def lookup_service(service_id: str) -> services.CdsService:
    service = services.BY_ID.get(service_id)
    if service is None:
        raise CdsError(404, f"No CDS service with id {service_id[:64]!r}.")
    return service


def links_base_url() -> str:
    return current_app.config["CDS_SETTINGS"].public_url or request.host_url


@bp.get("/cds-services")
def discovery() -> dict[str, Any]:
    return {"services": [s.discovery() for s in services.ALL]}


@bp.post("/cds-services/<service_id>")
def call_service(service_id: str) -> dict[str, Any]:
    service = lookup_service(service_id)
    body = read_json_body()
    if not isinstance(body, dict):
        raise CdsError(400, "The request body must be a JSON object.")
    try:
        call = HookRequestSchema().load(body)
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
            exc.problems,
        ) from None
    # The release, with the clinic's protocol checked at start-up where one is configured.
    knowledge = load_knowledge().with_protocol(current_app.extensions.get("cds_protocol"))
    call = replace(call, received_at=current_app.extensions["cds_clock"]())
    decisions = service.decide(call, record, knowledge)
    base = links_base_url()
    cards = [render_card(d, base, knowledge.version) for d in decisions]
    cards_issued.send(current_app._get_current_object(), service=service, call=call, cards=cards)
    log.info(
        "service=%s hook_instance=%s cards=%s",
        service.id,
        call.hook_instance,
        ",".join(c["source"]["topic"]["code"] for c in cards) or "none",
    )
    return {"cards": cards}

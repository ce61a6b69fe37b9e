"""Runs the hook-call pipeline once per service before the server takes traffic.

Schemas, FHIR models (`fhir.resources` builds its validators on first use), card templates and
the knowledge's matching caches are loaded lazily; done here, in the arbiter before the fork,
the first call to each worker costs what any other call costs. The synthetic patient is built
from the knowledge release itself (an indication, a drug, the block's order code), so no code
is written here, and nothing is stored or counted: no HTTP request, no issued-card record.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from itertools import product
from typing import Any

from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from cards import render_card
from cards.render import kinds as card_kinds
from cds_service import services
from cds_service.api.schemas import HOOK_REQUEST
from cds_service.data.loader import load_record
from cds_service.knowledge import Knowledge
from cds_service.metrics import open_series
from cds_service.quieting import Quieting

log = logging.getLogger(__name__)
PATIENT = "warm-up"
WARM_UP_SERVER = "https://fhir.warm-up.invalid/r4"


def _coding(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _bundle(resource: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": resource}]}


def synthetic_call(
    kn: Knowledge, hook: str, keys: Iterable[str], block_ordered: bool, now: datetime
) -> dict[str, Any]:
    """The block itself among the draft orders (`block_ordered`), or an opioid: the two ways a
    call reaches the cards. For appointment-book, the block booked a day or a month from `now`:
    too soon for a hold, and in time."""
    indication = next(k for k, v in kn.indication_by_code.items() if v.lsb == "indicated")
    drug = next(iter(kn.drugs.by_code))
    subject = {"reference": f"Patient/{PATIENT}"}
    condition = {
        "resourceType": "Condition",
        "id": "warm-up-condition",
        "clinicalStatus": _coding(
            "http://terminology.hl7.org/CodeSystem/condition-clinical", "active"
        ),
        "code": _coding(*indication),
        "subject": subject,
    }
    statement = {
        "resourceType": "MedicationStatement",
        "id": "warm-up-statement",
        "status": "active",
        "medicationCodeableConcept": _coding(*drug),
        "subject": subject,
    }
    if block_ordered:
        order = kn.procedure.order_codes[0]
        draft = {
            "resourceType": "ServiceRequest",
            "id": "warm-up-order",
            "status": "draft",
            "intent": "order",
            "code": _coding(order.system, order.code),
            "subject": subject,
        }
    else:
        draft = {
            "resourceType": "MedicationRequest",
            "id": "warm-up-order",
            "status": "draft",
            "intent": "order",
            "medicationCodeableConcept": _coding(*sorted(kn.opioids.codes)[0]),
            "subject": subject,
        }
    context: dict[str, Any] = {
        "userId": "Practitioner/warm-up",
        "patientId": PATIENT,
        "draftOrders": {"resourceType": "Bundle", "type": "collection",
                        "entry": [{"resource": draft}]},
    }
    if hook == "order-select":
        context["selections"] = [f"{draft['resourceType']}/warm-up-order"]
    if hook == "appointment-book":
        order = kn.procedure.order_codes[0]
        start = now + timedelta(days=1 if block_ordered else 30)
        appointment = {
            "resourceType": "Appointment",
            "id": "warm-up-appointment",
            "status": "proposed",
            "serviceType": [_coding(order.system, order.code)],
            "start": start.isoformat(timespec="seconds"),
            "end": (start + timedelta(hours=1)).isoformat(timespec="seconds"),
            "participant": [{"actor": subject, "status": "accepted"}],
        }
        del context["draftOrders"]
        context["appointments"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": appointment}],
        }
    return {
        "hook": hook,
        "hookInstance": "00000000-0000-4000-8000-000000000000",
        "context": context,
        # Never fetched from (every key is in prefetch), but checked: marshmallow compiles its
        # URL pattern on first use, 40 ms, on the first call of each worker an EHR makes.
        "fhirServer": WARM_UP_SERVER,
        "fhirAuthorization": {
            "access_token": "warm-up",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "warm-up",
        },
        # Every key answered: the two the decision reads, the rest "nothing found".
        "prefetch": {
            **dict.fromkeys(keys),
            "conditions": _bundle(condition),
            "medicationStatements": _bundle(statement),
        },
    }


def warm_up(app: Flask) -> list[str]:
    """Runs each service on the synthetic patient; returns the kinds of the cards rendered."""
    kn: Knowledge = app.extensions["cds_knowledge"]
    rendered: list[str] = []
    with app.test_request_context("/"):
        for service, block_ordered in product(services.ALL, (True, False)):
            now = app.extensions["cds_clock"]()
            body = synthetic_call(kn, service.hook, service.prefetch, block_ordered, now)
            call = replace(HOOK_REQUEST.load(body), received_at=now)
            record = load_record(service.prefetch, service.required, call, None)
            for decision in service.decide(call, record, kn):
                card = render_card(decision, "http://localhost/", kn.version)
                rendered.append(card["source"]["topic"]["code"])
    log.info("warmed up: %d services, %d cards", len(services.ALL), len(rendered))
    return rendered


def warm_worker(app: Flask) -> None:
    """In each worker after the fork, before it accepts: what a process opens for itself (its
    database connections) and what it builds lazily on first use."""
    open_series([s.id for s in services.ALL], card_kinds())
    warm_up(app)
    app.extensions["cds_record_fetcher"].warm()
    try:
        with app.extensions["cds_db"].connect() as connection:
            connection.execute(text("SELECT 1"))
        # The quieting lookup every call makes: its statement compiled, its connection open.
        quieting: Quieting | None = app.extensions.get("cds_quieting")
        if quieting is not None:
            quieting.quieted_kinds(quieting.policy.kinds, PATIENT)
    except SQLAlchemyError as exc:  # /readyz reports it; calls still get their cards
        log.warning("worker start: database not reachable: %s", type(exc).__name__)

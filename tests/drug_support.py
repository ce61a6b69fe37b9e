"""Building hook calls whose medication records a test sets: one record per drug, with its
status, dates, intent and dosage; and reading the drug lines of the cards they get."""

from __future__ import annotations

import copy
from typing import Any

from flask.testing import FlaskClient

from fixture_files import card_kind, fixture_request, service_for

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
BLOCK_SELECTED = "16-lsb-selected-aspirin"  # CRPS of the left leg, the block selected
OPIOID_SELECTED = "01-crps-left-apixaban"  # CRPS of the left leg, an opioid selected


def concept(code: str, text: str, system: str = RXNORM) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}], "text": text}


def statement(
    drug: dict[str, Any], status: str = "active", ident: str = "t-ms", **fields: Any
) -> dict[str, Any]:
    """A MedicationStatement for `drug` (a concept); `fields` add or replace its fields."""
    record = {
        "resourceType": "MedicationStatement",
        "id": ident,
        "status": status,
        "medicationCodeableConcept": drug,
        "effectivePeriod": {"start": "2026-06-01"},
        "dateAsserted": "2026-11-20",
        **fields,
    }
    return record


def request(
    drug: dict[str, Any], status: str = "active", ident: str = "t-mr", **fields: Any
) -> dict[str, Any]:
    record = {
        "resourceType": "MedicationRequest",
        "id": ident,
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": drug,
        "authoredOn": "2026-11-10",
        **fields,
    }
    return record


def call_with(fixture: str, *records: dict[str, Any]) -> dict[str, Any]:
    """`fixture`'s request with these medication records instead of its own."""
    body = copy.deepcopy(fixture_request(fixture))
    patient = body["context"]["patientId"]
    for key, kind in (
        ("medicationStatements", "MedicationStatement"),
        ("medicationRequests", "MedicationRequest"),
    ):
        chosen = [r for r in records if r["resourceType"] == kind]
        for record in chosen:
            record["subject"] = {"reference": f"Patient/{patient}"}
        bundle = body["prefetch"][key]
        bundle["entry"] = [{"resource": r, "search": {"mode": "match"}} for r in chosen]
        bundle["total"] = len(chosen)
    return body


def cards_of(client: FlaskClient, body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    response = client.post(f"/cds-services/{service_for(body)}", json=body)
    assert response.status_code == 200, response.get_json()
    return {card_kind(c): c for c in response.get_json()["cards"]}


def drug_line(card: dict[str, Any], name: str) -> str:
    """The card's line about `name` (as the card capitalises it)."""
    return next(x for x in card["detail"].splitlines() if f"**{name}**" in x)

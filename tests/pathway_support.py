"""Building hook requests for the pathway rules: fixture patients with records added."""

from __future__ import annotations

import copy
from typing import Any

from flask.testing import FlaskClient

from fixture_files import card_kind, fixture_request, service_for

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
CPT = "http://www.ama-assn.org/go/cpt"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"


def request(name: str) -> dict[str, Any]:
    return copy.deepcopy(fixture_request(name))


def add(body: dict[str, Any], key: str, resource: dict[str, Any]) -> None:
    """Adds `resource` to the prefetch list `key` (a searchset, created if it was null)."""
    patient = f"Patient/{body['context']['patientId']}"
    field = "patient" if resource["resourceType"] == "AllergyIntolerance" else "subject"
    resource.setdefault(field, {"reference": patient})
    bundle = body["prefetch"].get(key) or {"resourceType": "Bundle", "type": "searchset"}
    bundle.setdefault("entry", []).append({"resource": resource, "search": {"mode": "match"}})
    body["prefetch"][key] = bundle


def concept(system: str | None, code: str | None, text: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if system and code:
        out["coding"] = [{"system": system, "code": code}]
    if text:
        out["text"] = text
    return out


def condition(rid: str, system: str, code: str) -> dict[str, Any]:
    return {"resourceType": "Condition", "id": rid, "code": concept(system, code)}


def procedure(rid: str, code: dict[str, Any], when: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "id": rid,
        "status": "completed",
        "code": code,
        "performedDateTime": when,
        **extra,
    }


def allergy(rid: str, code: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"resourceType": "AllergyIntolerance", "id": rid, "code": code, **extra}


def post(client: FlaskClient, body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    response = client.post(f"/cds-services/{service_for(body)}", json=body)
    assert response.status_code == 200, response.get_json()
    return {card_kind(c): c for c in response.get_json()["cards"]}


def text(card: dict[str, Any]) -> str:
    return f"{card['summary']}\n{card.get('detail', '')}".replace("\\", "")

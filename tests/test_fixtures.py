"""Every fixture patient through the HTTP API: the cards it must get, and only those."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from fhir.resources.R4B.servicerequest import ServiceRequest
from flask.testing import FlaskClient

from cds_service.api.schemas import ResponseSchema

from fixture_files import NAMES, card_kind, fixture_expected, fixture_request, service_for


def post(client: FlaskClient, body: dict[str, Any]) -> Any:
    return client.post(f"/cds-services/{service_for(body)}", json=body)


def test_there_are_enough_fixtures() -> None:
    assert len(NAMES) >= 20


@pytest.mark.parametrize("name", NAMES)
def test_fixture_gets_its_expected_cards(client: FlaskClient, name: str) -> None:
    body = fixture_request(name)
    expected = fixture_expected(name)
    response = post(client, body)
    assert response.status_code == expected["status"], response.get_json()
    if expected["status"] != 200:
        assert response.get_json()["resourceType"] == "OperationOutcome"
        return
    payload = response.get_json()
    assert ResponseSchema().validate(payload) == {}
    cards = payload["cards"]
    got = Counter((card_kind(c), c["indicator"]) for c in cards)
    want = Counter((c["kind"], c["indicator"]) for c in expected["cards"])
    assert got == want
    for card_spec in expected["cards"]:
        card = next(c for c in cards if card_kind(c) == card_spec["kind"])
        text = f"{card['summary']}\n{card.get('detail', '')}".lower()
        for mention in card_spec.get("mentions", []):
            assert mention.lower() in text, f"{card_spec['kind']} should mention {mention!r}"


@pytest.mark.parametrize("name", NAMES)
def test_suggested_orders_are_valid_fhir(client: FlaskClient, name: str) -> None:
    body = fixture_request(name)
    response = post(client, body)
    for card in (response.get_json() or {}).get("cards", []):
        for suggestion in card.get("suggestions", []):
            for action in suggestion["actions"]:
                if action["type"] == "create":
                    order = ServiceRequest.model_validate(action["resource"])
                    assert order.status == "draft"
                    codes = {c.code for c in order.code.coding}
                    # the block itself (CPT 64520) or a referral to pain medicine (SNOMED CT)
                    assert codes & {"64520", "306109009"}
                    assert order.subject.reference == f"Patient/{body['context']['patientId']}"
                    assert order.reasonReference, "the order must point at its indication"

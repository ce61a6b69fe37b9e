"""Every fixture patient through the HTTP API: the cards it must get, and only those."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import pytest
from fhir.resources.R4B.servicerequest import ServiceRequest
from flask.testing import FlaskClient

from cds_service import create_app
from cds_service.api.schemas import ResponseSchema

from fixture_files import (
    FIXTURE_NOW,
    NAMES,
    ROOT,
    card_kind,
    fixture_clock,
    fixture_expected,
    fixture_request,
    matched_cards,
    service_for,
)


def post(client: FlaskClient, body: dict[str, Any]) -> Any:
    return client.post(f"/cds-services/{service_for(body)}", json=body)


def test_there_are_enough_fixtures() -> None:
    assert len(NAMES) >= 20
    booking = [n for n in NAMES if fixture_request(n)["hook"] == "appointment-book"]
    assert len(booking) >= 6


def test_fixtures_with_date_rules_share_the_browser_tests_clock() -> None:
    """The app of the tests and the browser tests' live server run at FIXTURE_NOW: every
    stated time must be it."""
    stated = {n: fixture_expected(n)["now"] for n in NAMES if "now" in fixture_expected(n)}
    assert stated and {datetime.fromisoformat(t) for t in stated.values()} == {FIXTURE_NOW}
    for name in NAMES:
        if fixture_request(name)["hook"] == "appointment-book":
            assert name in stated, f"{name}: its cards depend on the time of the call"


@pytest.mark.parametrize("name", NAMES)
def test_fixture_gets_its_expected_cards(client: FlaskClient, name: str) -> None:
    body = fixture_request(name)
    expected = fixture_expected(name)
    if protocol := expected.get("protocol"):  # the clinic protocol this patient's clinic has
        client = create_app(
            dev_mode=True, clock=fixture_clock, local_protocol=str(ROOT / protocol)
        ).test_client()
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
    for card_spec, card in matched_cards(cards, expected["cards"], card_kind):
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
                if action["type"] == "create" and card_kind(card) == "booking-preparation":
                    follow_up = ServiceRequest.model_validate(action["resource"])
                    assert follow_up.status == "draft"
                    assert follow_up.occurrencePeriod is not None
                    assert follow_up.occurrencePeriod.start < follow_up.occurrencePeriod.end
                    assert follow_up.subject.reference == (
                        f"Patient/{body['context']['patientId']}"
                    )
                elif action["type"] == "create":
                    order = ServiceRequest.model_validate(action["resource"])
                    assert order.status == "draft"
                    codes = {c.code for c in order.code.coding}
                    # the block itself (CPT 64520) or a referral to pain medicine (SNOMED CT)
                    assert codes & {"64520", "306109009"}
                    assert order.subject.reference == f"Patient/{body['context']['patientId']}"
                    assert order.reasonReference, "the order must point at its indication"

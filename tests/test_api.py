"""The CDS Hooks API contract: discovery, request validation and errors (never a 500)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from cds_service.api.schemas import DiscoverySchema

from fixture_files import fixture_request

SELECT = "/cds-services/lsb-order-select"
SIGN = "/cds-services/lsb-order-sign"


def outcome(response: Any, status: int) -> list[dict[str, Any]]:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    assert "Traceback" not in response.get_data(as_text=True)
    return body["issue"]


def expressions(issues: list[dict[str, Any]]) -> set[str]:
    return {e for i in issues for e in i.get("expression", [])}


def test_discovery_lists_both_hooks_with_prefetch(client: FlaskClient) -> None:
    body = client.get("/cds-services").get_json()
    assert DiscoverySchema().validate(body) == {}
    by_hook = {s["hook"]: s for s in body["services"]}
    assert set(by_hook) == {"order-select", "order-sign", "appointment-book"}
    for service in body["services"]:
        if service["hook"] != "appointment-book":  # booking reads no problem list
            assert service["prefetch"]["conditions"] == "Condition?patient={{context.patientId}}"
        assert service["prefetch"]["medicationStatements"].startswith(
            "MedicationStatement?patient={{context.patientId}}"
        )
        assert service["prefetch"]["medicationRequests"].startswith(
            "MedicationRequest?patient={{context.patientId}}"
        )
        assert service["title"] and service["description"]


def test_unknown_service_is_404(client: FlaskClient) -> None:
    issues = outcome(client.post("/cds-services/nope", json={}), 404)
    assert "nope" in issues[0]["diagnostics"]


def test_wrong_content_type_is_415(client: FlaskClient) -> None:
    body = json.dumps(fixture_request("01-crps-left-apixaban"))
    outcome(client.post(SELECT, data=body, content_type="text/plain"), 415)


def test_malformed_json_is_400_with_position(client: FlaskClient) -> None:
    issues = outcome(client.post(SELECT, data='{"hook": ', content_type="application/json"), 400)
    assert "not valid JSON" in issues[0]["diagnostics"]
    assert "line 1" in issues[0]["diagnostics"]


def test_non_object_body_is_400(client: FlaskClient) -> None:
    outcome(client.post(SELECT, json=[1, 2, 3]), 400)


def test_deeply_nested_body_is_400_not_500(client: FlaskClient) -> None:
    body = "[" * 100_000 + "]" * 100_000
    outcome(client.post(SELECT, data=body, content_type="application/json"), 400)


def test_oversized_body_is_413(client: FlaskClient, app: Any) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 1000
    body = fixture_request("01-crps-left-apixaban")
    outcome(client.post(SELECT, json=body), 413)


def test_missing_fields_are_named(client: FlaskClient) -> None:
    issues = outcome(client.post(SELECT, json={"hook": "order-select"}), 400)
    assert {"hookInstance", "context"} <= expressions(issues)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b.update(hookInstance="not-a-uuid"), "hookInstance"),
        (lambda b: b["context"].pop("userId"), "context.userId"),
        (lambda b: b["context"].pop("patientId"), "context.patientId"),
        (lambda b: b["context"].pop("selections"), "context.selections"),
        (lambda b: b["context"].update(selections=[]), "context.selections"),
        (lambda b: b["context"].pop("draftOrders"), "context.draftOrders"),
        (
            lambda b: b["context"].update(draftOrders={"resourceType": "Patient"}),
            "context.draftOrders",
        ),
        (
            lambda b: b["context"].update(selections=["MedicationRequest/elsewhere"]),
            "context.selections",
        ),
        (lambda b: b["context"].update(userId="Dr Who"), "context.userId"),
        (
            lambda b: b.update(
                fhirAuthorization={
                    "access_token": "x",
                    "token_type": "Bearer",
                    "expires_in": 1,
                    "scope": "s",
                    "subject": "c",
                }
            ),
            "fhirAuthorization",
        ),
        (lambda b: b["prefetch"].update(conditions="oops"), "prefetch.conditions"),
    ],
)
def test_invalid_request_is_400_naming_the_field(
    client: FlaskClient, mutate: Any, field: str
) -> None:
    body = copy.deepcopy(fixture_request("01-crps-left-apixaban"))
    mutate(body)
    issues = outcome(client.post(SELECT, json=body), 400)
    assert any(e == field or e.startswith(field) for e in expressions(issues)), issues


def test_hook_must_match_the_service(client: FlaskClient) -> None:
    body = fixture_request("01-crps-left-apixaban")
    issues = outcome(client.post(SIGN, json=body), 400)
    assert "hook" in expressions(issues)


def test_order_sign_does_not_need_selections(client: FlaskClient) -> None:
    body = fixture_request("03-crps-bilateral-sign")
    assert "selections" not in body["context"]
    assert client.post(SIGN, json=body).status_code == 200


def test_omitted_prefetch_without_fhir_server_is_412(client: FlaskClient) -> None:
    body = fixture_request("01-crps-left-apixaban")
    del body["prefetch"]["medicationRequests"]
    issues = outcome(client.post(SELECT, json=body), 412)
    assert "prefetch.medicationRequests" in expressions(issues)


def test_operation_outcome_for_conditions_is_412(client: FlaskClient) -> None:
    body = fixture_request("01-crps-left-apixaban")
    body["prefetch"]["conditions"] = {"resourceType": "OperationOutcome", "issue": []}
    issues = outcome(client.post(SELECT, json=body), 412)
    assert "prefetch.conditions" in expressions(issues)


def test_null_prefetch_means_no_data_not_missing(client: FlaskClient) -> None:
    body = fixture_request("01-crps-left-apixaban")
    body["prefetch"]["medicationStatements"] = None
    cards = client.post(SELECT, json=body).get_json()["cards"]
    assert [c["indicator"] for c in cards] == ["info"]  # the suggestion; apixaban is gone


def test_unknown_fields_are_ignored(client: FlaskClient) -> None:
    body = fixture_request("01-crps-left-apixaban")
    body["extension"] = {"com.example.thing": 1}
    body["context"]["somethingNew"] = True
    assert client.post(SELECT, json=body).status_code == 200


def test_get_on_a_service_is_405_with_outcome(client: FlaskClient) -> None:
    outcome(client.get(SELECT), 405)


def test_a_prefetch_bundle_with_junk_entries_is_a_gap_not_a_crash(client: FlaskClient) -> None:
    body = fixture_request("01-crps-left-apixaban")
    body["prefetch"]["medicationStatements"] = {"resourceType": "Bundle", "entry": "junk"}
    cards = client.post(SELECT, json=body).get_json()["cards"]
    kinds = [c["source"]["topic"]["code"] for c in cards]
    assert "data-quality" in kinds

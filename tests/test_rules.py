"""Clinical rules through the HTTP API, one variation of a fixture patient at a time.

Fixture 02 is a patient with causalgia of the right leg, a physical-therapy order selected and
no medications; each test adds or changes one record and checks the cards.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from flask.testing import FlaskClient

from fixture_files import card_kind, fixture_request

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
BASE = "02-causalgia-right-pt"


def patient() -> dict[str, Any]:
    return copy.deepcopy(fixture_request(BASE))


def add(body: dict[str, Any], key: str, resource: dict[str, Any], mode: str = "match") -> None:
    resource.setdefault("subject", {"reference": f"Patient/{body['context']['patientId']}"})
    entry = {"resource": resource, "search": {"mode": mode}}
    body["prefetch"][key].setdefault("entry", []).append(entry)


def statement(concept: dict[str, Any] | None = None, status: str = "active", **extra: Any) -> dict:
    resource: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "id": "t-ms",
        "status": status,
    }
    if concept is not None:
        resource["medicationCodeableConcept"] = concept
    resource.update(extra)
    return resource


def coded(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def cards(client: FlaskClient, body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    response = client.post("/cds-services/lsb-order-select", json=body)
    assert response.status_code == 200, response.get_json()
    return {card_kind(c): c for c in response.get_json()["cards"]}


def drug_records(found: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Drug id -> the records the card names, from the card's extension (for integrators)."""
    card = found.get("lsb-suggestion") or found.get("lsb-bleeding-risk") or {}
    evidence = (card.get("extension") or {}).get("urn:lsb-cds-service:evidence", {})
    return {d["drug"]: d["records"] for d in evidence.get("drugs", [])}


def set_condition_code(body: dict[str, Any], system: str, code: str) -> None:
    condition = body["prefetch"]["conditions"]["entry"][0]["resource"]
    condition["code"] = coded(system, code)


def test_base_patient_gets_only_the_suggestion(client: FlaskClient) -> None:
    assert set(cards(client, patient())) == {"lsb-suggestion"}


@pytest.mark.parametrize(
    ("concept", "drug", "matched_by"),
    [
        (coded(ATC, "B01AF01"), "rivaroxaban", "ATC"),
        (coded(RXNORM, "1364430"), "apixaban", "RxNorm ingredient"),
        (coded(RXNORM, "855332", "warfarin sodium 5 MG Oral Tablet"), "warfarin", "RxNorm product"),
        ({"text": "Xarelto 20mg daily"}, "rivaroxaban", "name in text"),
        (coded("urn:oid:2.16.840.1.113883.6.88", "1364445"), "apixaban", "RxNorm product"),
    ],
)
def test_each_matching_route_finds_the_drug(
    client: FlaskClient, concept: dict, drug: str, matched_by: str
) -> None:
    body = patient()
    add(body, "medicationStatements", statement(concept))
    found = cards(client, body)
    suggestion = found["lsb-suggestion"]
    assert drug in suggestion["detail"].lower()
    # How it was matched is for integrators, in the extension; never in what a clinician reads.
    assert [r["matchedBy"] for r in drug_records(found)[drug]] == [matched_by]
    assert "matched by" not in suggestion["detail"] and "t-ms" not in suggestion["detail"]


def test_unknown_drug_in_an_antithrombotic_atc_class_still_warns(client: FlaskClient) -> None:
    body = patient()
    add(body, "medicationStatements", statement(coded(ATC, "B01AF99")))
    detail = cards(client, body)["lsb-suggestion"]["detail"]
    assert "ATC B01AF99" in detail
    assert "no interval confirmed here" in detail


@pytest.mark.parametrize("status", ["active", "intended", "on-hold", "unknown", "bogus"])
def test_statement_statuses_that_count(client: FlaskClient, status: str) -> None:
    body = patient()
    add(body, "medicationStatements", statement(coded(RXNORM, "1364445"), status=status))
    assert "apixaban" in drug_records(cards(client, body))


@pytest.mark.parametrize("status", ["stopped", "completed", "entered-in-error", "not-taken"])
def test_statement_statuses_that_do_not_count(client: FlaskClient, status: str) -> None:
    body = patient()
    add(body, "medicationStatements", statement(coded(RXNORM, "1364445"), status=status))
    assert drug_records(cards(client, body)) == {}


@pytest.mark.parametrize(
    ("status", "warns"),
    [
        ("active", True),
        ("on-hold", True),
        ("draft", True),
        ("stopped", False),
        ("cancelled", False),
        ("completed", False),
        ("entered-in-error", False),
    ],
)
def test_request_statuses(client: FlaskClient, status: str, warns: bool) -> None:
    body = patient()
    request = {
        "resourceType": "MedicationRequest",
        "id": "t-mr",
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": coded(RXNORM, "1232086"),
    }
    add(body, "medicationRequests", request)
    assert ("rivaroxaban" in drug_records(cards(client, body))) is warns


def test_unresolvable_medication_reference_is_a_data_quality_warning(client: FlaskClient) -> None:
    body = patient()
    add(
        body,
        "medicationStatements",
        statement(medicationReference={"reference": "Medication/not-sent"}),
    )
    found = cards(client, body)
    assert drug_records(found) == {}
    detail = found["data-quality"]["detail"]
    assert "MedicationStatement/t-ms" in detail
    assert "could not be read" in detail


def test_invalid_record_with_an_anticoagulant_warns_and_flags(client: FlaskClient) -> None:
    body = patient()
    bad = statement(coded(RXNORM, "1364445"))
    bad["effectiveDateTime"] = "yesterday-ish"  # invalid FHIR dateTime
    add(body, "medicationStatements", bad)
    found = cards(client, body)
    assert "apixaban" in found["lsb-suggestion"]["summary"].lower()
    assert "effectiveDateTime" in found["data-quality"]["detail"]


def test_an_unread_next_page_is_a_data_quality_warning(client: FlaskClient) -> None:
    body = patient()
    body["prefetch"]["medicationStatements"]["link"] = [
        {"relation": "next", "url": "http://ehr.example.org/fhir/MedicationStatement?page=2"}
    ]
    found = cards(client, body)
    assert "first page" in found["data-quality"]["detail"]


@pytest.mark.parametrize(
    ("system", "code", "kind"),
    [
        (ICD10CM, "G57.71", "lsb-suggestion"),
        (ICD10CM, "G5771", "lsb-suggestion"),  # no dot, as some EHRs send it
        ("urn:oid:2.16.840.1.113883.6.90", "G57.71", "lsb-suggestion"),
        (SNOMED, "5771000119106", "lsb-limb-unconfirmed"),  # phantom pain, no amputation
        (SNOMED, "735935009", "lsb-confirm-indication"),  # cancer pain, no site: confirm it
        (SNOMED, "128200000", "lsb-confirm-indication"),  # CRPS, no site
        ("http://hl7.org/fhir/sid/icd-10", "G90.5", "lsb-confirm-indication"),  # WHO ICD-10
        (ICD10CM, "G56.41", None),  # causalgia of the right upper limb
        (ICD10CM, "G54.7", None),  # phantom limb without pain
        ("http://example.org/local", "G57.71", None),  # right code, wrong system
    ],
)
def test_indication_codes(client: FlaskClient, system: str, code: str, kind: str | None) -> None:
    body = patient()
    set_condition_code(body, system, code)
    found = set(cards(client, body))
    assert found == ({kind} if kind else set())


def test_display_text_alone_is_not_an_indication(client: FlaskClient) -> None:
    body = patient()
    condition = body["prefetch"]["conditions"]["entry"][0]["resource"]
    condition["code"] = {"text": "Complex regional pain syndrome I of left lower limb"}
    assert cards(client, body) == {}


def test_supporting_evidence_lists_treatments_tried_and_opioids(client: FlaskClient) -> None:
    body = patient()
    add(body, "medicationStatements", statement({"text": "gabapentin 300 mg"}, status="stopped"))
    opioid = statement(coded(RXNORM, "1049621", "oxycodone hydrochloride 5 MG Oral Tablet"))
    opioid["id"] = "t-ms-2"
    add(body, "medicationStatements", opioid)
    detail = cards(client, body)["lsb-suggestion"]["detail"]
    assert "Neuropathic pain agent: before gabapentin 300 mg" in detail
    assert "Opioid: now oxycodone hydrochloride 5 MG Oral Tablet" in detail
    assert "No conservative treatment" not in detail


def test_lsb_named_only_in_text_is_recognised(client: FlaskClient) -> None:
    body = fixture_request("16-lsb-selected-aspirin")
    order = body["context"]["draftOrders"]["entry"][0]["resource"]
    order["code"] = {"text": "Left lumbar sympathetic block under fluoroscopy"}
    assert set(cards(client, body)) == {"lsb-bleeding-risk"}


def test_an_unread_page_of_the_problem_list_is_not_silent(client: FlaskClient) -> None:
    body = patient()
    conditions = body["prefetch"]["conditions"]
    conditions["entry"] = []  # the indication would have been on the page not read
    conditions["link"] = [
        {"relation": "next", "url": "http://ehr.example.org/fhir/Condition?page=2"}
    ]
    found = cards(client, body)
    assert set(found) == {"data-quality"}
    assert "the problem list" in found["data-quality"]["detail"]
    assert "indication" in found["data-quality"]["detail"]


def test_an_invalid_condition_with_an_indication_code_is_reported(client: FlaskClient) -> None:
    body = patient()
    condition = body["prefetch"]["conditions"]["entry"][0]["resource"]
    condition["onsetDateTime"] = "last spring"
    found = cards(client, body)
    assert set(found) == {"data-quality"}
    assert "onsetDateTime" in found["data-quality"]["detail"]


@pytest.mark.parametrize("status", [["active"], {"code": "active"}, 3, None])
def test_a_malformed_status_warns_and_flags_the_record(client: FlaskClient, status: Any) -> None:
    body = patient()
    add(body, "medicationStatements", statement(coded(RXNORM, "1364445"), status=status))
    found = cards(client, body)
    assert "apixaban" in found["lsb-suggestion"]["summary"].lower()
    assert "MedicationStatement/t-ms" in found["data-quality"]["detail"]

"""The block's pathway from the record, through the HTTP API: anatomy, past procedures,
allergies, lab results and the block series. The clinic protocol is in test_protocol.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from pathway_support import (
    CPT,
    ICD10CM,
    LOINC,
    SNOMED,
    add,
    allergy,
    concept,
    condition,
    post,
    procedure,
    request,
    text,
)

from cds_service import create_app
from cds_service.services import BY_ID

PHANTOM = "04-phantom-pain-amputation"  # G54.6 with a right below-knee amputation (Z89.511)
LSB = concept(CPT, "64520", "Lumbar sympathetic block")


def phantom_without_amputation() -> dict[str, Any]:
    body = request(PHANTOM)
    entries = body["prefetch"]["conditions"]["entry"]
    entries[:] = [e for e in entries if e["resource"]["code"]["coding"][0]["code"] == "G54.6"]
    return body


def client_on(day: str) -> FlaskClient:
    moment = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return create_app(dev_mode=True, clock=lambda: moment).test_client()


# ---------------------------------------------------------------- anatomy
def test_phantom_pain_without_a_recorded_amputation_asks_for_the_limb(
    client: FlaskClient,
) -> None:
    found = post(client, phantom_without_amputation())
    assert set(found) == {"lsb-limb-unconfirmed"}
    assert "G54.6" in text(found["lsb-limb-unconfirmed"])


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (condition("t-amp", ICD10CM, "Z89.211"), set()),  # upper limb only: not a lumbar block
        (condition("t-amp", ICD10CM, "Z89.611"), {"lsb-suggestion"}),  # above knee
        (procedure("t-amp", concept(CPT, "27880"), "2020-01-05"), {"lsb-suggestion"}),
        (
            procedure("t-amp", concept(None, None, "Below-knee amputation"), "2020-01-05"),
            {"lsb-suggestion"},
        ),
        (procedure("t-amp", concept(None, None, "Amputation of hand"), "2020-01-05"), set()),
    ],
)
def test_phantom_pain_follows_the_amputated_limb(
    client: FlaskClient, record: dict[str, Any], expected: set[str]
) -> None:
    body = phantom_without_amputation()
    key = "conditions" if record["resourceType"] == "Condition" else "procedures"
    add(body, key, record)
    assert set(post(client, body)) == expected


def test_a_lower_limb_amputation_beside_an_upper_one_still_suggests(client: FlaskClient) -> None:
    body = request("29-phantom-upper-limb-only")
    assert post(client, body) == {}
    add(body, "procedures", procedure("t-bka", concept(CPT, "27880"), "2019-04-01"))
    assert set(post(client, body)) == {"lsb-suggestion"}


def test_phantom_pain_coded_as_lower_limb_needs_no_amputation_record(client: FlaskClient) -> None:
    body = phantom_without_amputation()
    body["prefetch"]["conditions"]["entry"][0]["resource"]["code"] = concept(SNOMED, "711057003")
    assert set(post(client, body)) == {"lsb-suggestion"}


# ---------------------------------------------------------------- treatments tried
def test_therapy_recorded_as_procedures_counts_as_tried(client: FlaskClient) -> None:
    card = post(client, request("31-crps-therapy-tried"))["lsb-suggestion"]
    assert "No conservative treatment" not in text(card)
    base = post(client, request("02-causalgia-right-pt"))["lsb-suggestion"]
    assert "No conservative treatment" in text(base)


def test_a_procedure_not_done_is_not_a_treatment_tried(client: FlaskClient) -> None:
    body = request("02-causalgia-right-pt")
    pt = procedure("t-pt", concept(CPT, "97161"), "2026-01-01", status="not-done")
    add(body, "procedures", pt)
    assert "No conservative treatment" in text(post(client, body)["lsb-suggestion"])


# ---------------------------------------------------------------- series
def series_body(*days: str) -> dict[str, Any]:
    body = request("18-lsb-sign-no-antithrombotics")
    for i, day in enumerate(days):
        add(body, "procedures", procedure(f"t-lsb-{i}", LSB, day))
    return body


def test_a_block_before_the_last_ones_follow_up_gets_the_series_card() -> None:
    found = post(client_on("2026-11-25"), series_body("2026-11-15"))
    assert set(found) == {"lsb-series"}
    assert "10 days ago" in found["lsb-series"]["summary"]


def test_a_third_block_after_the_follow_up_gets_no_card() -> None:
    assert post(client_on("2026-11-25"), series_body("2026-10-01", "2026-10-29")) == {}


def test_a_full_series_asks_to_review_the_response() -> None:
    found = post(client_on("2026-12-20"), series_body("2026-10-01", "2026-10-29", "2026-11-26"))
    card = found["lsb-series"]
    assert "3 lumbar sympathetic blocks in this series" in card["summary"]
    assert "longer-acting" in text(card)


def test_blocks_long_ago_start_a_new_series() -> None:
    assert (
        post(client_on("2027-06-01"), series_body("2026-10-01", "2026-10-29", "2026-11-26")) == {}
    )


def test_a_completed_order_counts_once_beside_its_procedure() -> None:
    body = series_body("2026-10-01", "2026-10-29")
    order = {
        "resourceType": "ServiceRequest",
        "id": "t-sr-done",
        "status": "completed",
        "intent": "order",
        "code": LSB,
        "occurrenceDateTime": "2026-11-20",
    }
    add(body, "completedServiceRequests", order)
    found = post(client_on("2026-12-10"), body)
    assert "3 lumbar sympathetic blocks" in found["lsb-series"]["summary"]
    # The same request fulfilled by a Procedure: the Procedure is the record, counted once.
    add(
        body,
        "procedures",
        procedure(
            "t-lsb-done", LSB, "2026-11-20", basedOn=[{"reference": "ServiceRequest/t-sr-done"}]
        ),
    )
    found = post(client_on("2026-12-10"), body)
    assert "3 lumbar sympathetic blocks" in found["lsb-series"]["summary"]


def test_the_suggestion_says_how_many_blocks_and_when(client: FlaskClient) -> None:
    body = request("02-causalgia-right-pt")
    add(body, "procedures", procedure("t-lsb-1", LSB, "2026-11-01"))
    card = post(client, body)["lsb-suggestion"]
    assert "Earlier lumbar sympathetic blocks: 1 (2026-11-01)" in text(card)


# ---------------------------------------------------------------- allergies
def test_contrast_allergy_warns_when_the_block_is_selected(client: FlaskClient) -> None:
    card = post(client, request("32-lsb-contrast-allergy"))["allergy-warning"]
    assert card["indicator"] == "warning"
    assert "Allergy to contrast media" in text(card) and "criticality high" in text(card)
    assert "AllergyIntolerance/" not in text(card)  # no FHIR ids in what a clinician reads


def test_a_local_anaesthetic_allergy_in_text_only_is_named_and_labelled(
    client: FlaskClient,
) -> None:
    body = request("16-lsb-selected-aspirin")
    add(body, "allergies", allergy("t-lido", concept(None, None, "Lidocaine"), criticality="low"))
    card = post(client, body)["allergy-warning"]
    assert "Amide local anaesthetic" in text(card)
    assert "a name in free text, not a code" in text(card)


def test_a_refuted_allergy_is_not_shown(client: FlaskClient) -> None:
    body = request("32-lsb-contrast-allergy")
    record = body["prefetch"]["allergies"]["entry"][0]["resource"]
    record["verificationStatus"]["coding"][0]["code"] = "refuted"
    assert post(client, body) == {}


def test_an_allergy_record_that_cannot_be_read_is_a_data_quality_item(
    client: FlaskClient,
) -> None:
    body = request("18-lsb-sign-no-antithrombotics")
    add(body, "allergies", {"resourceType": "AllergyIntolerance", "id": "t-blank"})
    card = post(client, body)["data-quality"]
    assert "AllergyIntolerance/t-blank" in text(card)
    assert "Allergies in these records were not checked" in text(card)


def test_an_omitted_allergy_list_without_a_fhir_server_is_412(client: FlaskClient) -> None:
    body = request("32-lsb-contrast-allergy")
    del body["prefetch"]["allergies"]
    response = client.post("/cds-services/lsb-order-select", json=body)
    assert response.status_code == 412
    assert "prefetch.allergies" in response.get_data(as_text=True)


def test_the_suggestion_names_an_allergy_in_one_line(client: FlaskClient) -> None:
    body = request("02-causalgia-right-pt")
    add(body, "allergies", allergy("t-cm", concept(SNOMED, "293637006"), criticality="high"))
    card = post(client, body)["lsb-suggestion"]
    lines = [line for line in text(card).splitlines() if "Allergy (" in line]
    assert len(lines) == 1 and "iodinated contrast media" in lines[0]


# ---------------------------------------------------------------- labs
def test_the_latest_inr_is_shown_as_the_lab_reported_it(client: FlaskClient) -> None:
    card = post(client, request("33-lsb-warfarin-inr"))["lsb-bleeding-risk"]
    assert "INR: 1.1 on 2026-11-20" in text(card) and "INR: 2.6" not in text(card)
    # The UCUM annotation {INR} names no unit; the platelet count keeps its unit.
    assert "Platelet count: 245 10" in text(card)
    assert "Observation/" not in text(card)


def test_no_inr_on_record_says_so_and_invents_nothing(client: FlaskClient) -> None:
    body = request("33-lsb-warfarin-inr")
    body["prefetch"]["observations"] = None
    card = post(client, body)["lsb-bleeding-risk"]
    assert "INR: no result in the record" in text(card)
    assert "Platelet count: no result in the record" in text(card)


def test_an_entered_in_error_result_is_ignored(client: FlaskClient) -> None:
    body = request("33-lsb-warfarin-inr")
    for entry in body["prefetch"]["observations"]["entry"]:
        if entry["resource"]["id"] == "f33-inr":
            entry["resource"]["status"] = "entered-in-error"
    assert "INR: 2.6" in text(post(client, body)["lsb-bleeding-risk"])


def test_a_latest_result_that_is_not_valid_fhir_is_passed_over_for_the_one_before(
    client: FlaskClient,
) -> None:
    body = request("33-lsb-warfarin-inr")
    for entry in body["prefetch"]["observations"]["entry"]:
        if entry["resource"]["id"] == "f33-inr":
            entry["resource"]["effectiveDateTime"] = "2026-11-20T25:00:00Z"  # no such hour
    card = post(client, body)["lsb-bleeding-risk"]
    assert "INR: 2.6" in text(card) and "INR: 1.1" not in text(card)


def test_inr_is_shown_only_for_drugs_whose_hold_asks_for_it(client: FlaskClient) -> None:
    body = request("16-lsb-selected-aspirin")
    add(
        body,
        "observations",
        {
            "resourceType": "Observation",
            "id": "t-inr",
            "status": "final",
            "code": concept(LOINC, "6301-6"),
            "effectiveDateTime": "2026-11-20",
            "valueQuantity": {"value": 1.0},
        },
    )
    card = post(client, body)["lsb-bleeding-risk"]
    assert "INR" not in text(card)
    assert "Platelet count: no result in the record" in text(card)


# ---------------------------------------------------------------- discovery
def test_discovery_declares_the_new_prefetch_keys(client: FlaskClient) -> None:
    services = client.get("/cds-services").get_json()["services"]
    for service in services:
        # appointment-book reads the series and allergies, not the lab results
        wanted = {"procedures", "completedServiceRequests", "allergies", "observations"}
        if service["hook"] == "appointment-book":
            wanted.discard("observations")
        assert wanted <= set(service["prefetch"])
    observations = BY_ID["lsb-order-sign"].prefetch["observations"]
    assert "http://loinc.org|6301-6" in observations and "http://loinc.org|777-3" in observations

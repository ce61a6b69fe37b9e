"""Searchset entries that cannot be read are counted and said on the data-quality card, on
every hook: an entry without a resource or a match of another type never reads as "no
anticoagulant" or "no indication"."""

from __future__ import annotations

from typing import Any

import pytest
from booking_support import BOOK, set_clock
from entries_support import a_patient, card_texts, misfiled, no_resource, with_entries
from flask import Flask
from flask.testing import FlaskClient

from fixture_files import fixture_request, service_for

APIXABAN = "01-crps-left-apixaban"  # CRPS left leg, opioid selected, apixaban
NOW = "2026-11-25T12:00:00+00:00"


def post(client: FlaskClient, body: dict[str, Any]) -> Any:
    return client.post(f"/cds-services/{service_for(body)}", json=body)


def test_unreadable_statements_are_counted_where_the_apixaban_line_was(
    client: FlaskClient,
) -> None:
    body = fixture_request("68-crps-statement-entries-unreadable")
    cards = card_texts(post(client, body))
    assert set(cards) == {"lsb-suggestion", "data-quality"}
    assert "apixaban" not in cards["lsb-suggestion"].lower()  # not read: not shown as known
    quality = cards["data-quality"]
    assert "2 entries of the medication list could not be read" in quality
    assert "anticoagulant and antiplatelet check could not be completed" in quality
    assert "2 items not checked" in quality


def test_a_readable_list_with_one_bad_entry_keeps_its_drug_and_says_the_rest(
    client: FlaskClient,
) -> None:
    body = with_entries(APIXABAN, "medicationStatements", no_resource("MedicationStatement", "x"))
    cards = card_texts(post(client, body))
    assert "Apixaban" in cards["lsb-suggestion"]
    assert "1 entry of the medication list could not be read" in cards["data-quality"]


def test_an_included_medication_is_expected_and_another_include_is_ignored(
    client: FlaskClient,
) -> None:
    medication = {"resourceType": "Medication", "id": "f01-extra-med", "code": {"text": "x"}}
    body = with_entries(
        APIXABAN,
        "medicationStatements",
        misfiled(medication, mode="include"),
        misfiled(a_patient("f01-included-patient"), mode="include"),
    )
    assert set(card_texts(post(client, body))) == {"lsb-suggestion"}


def test_an_error_outcome_entry_counts_and_a_warning_one_does_not(client: FlaskClient) -> None:
    def outcome(severity: str) -> dict[str, Any]:
        issue = {"severity": severity, "code": "incomplete"}
        return {"resourceType": "OperationOutcome", "id": f"oo-{severity}", "issue": [issue]}

    warned = with_entries(APIXABAN, "medicationStatements", misfiled(outcome("warning"), "outcome"))
    assert set(card_texts(post(client, warned))) == {"lsb-suggestion"}
    failed = with_entries(APIXABAN, "medicationStatements", misfiled(outcome("error"), "outcome"))
    assert "1 entry of the medication list" in card_texts(post(client, failed))["data-quality"]


def test_an_unreadable_problem_list_entry_is_never_silence(client: FlaskClient) -> None:
    cards = card_texts(post(client, fixture_request("69-problem-list-entry-unreadable")))
    assert set(cards) == {"data-quality"}
    assert "1 entry of the problem list could not be read" in cards["data-quality"]
    assert "check for an indication" in cards["data-quality"]


def test_at_order_sign_a_problem_entry_of_another_type_is_not_no_indication(
    client: FlaskClient,
) -> None:
    cards = card_texts(post(client, fixture_request("73-lsb-sign-problem-entry-other-type")))
    assert set(cards) == {"data-quality"}  # no "no indication" from a list not read
    assert "1 entry of the problem list could not be read" in cards["data-quality"]


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("allergies", "1 entry of the allergy list could not be read"),
        ("procedures", "1 entry of the procedure history could not be read"),
        ("observations", "1 entry of the laboratory results could not be read"),
    ],
)
def test_every_safety_list_counts_its_entries_as_it_reports_the_whole_list(
    client: FlaskClient, key: str, words: str
) -> None:
    body = fixture_request(APIXABAN)
    body["prefetch"][key] = {"resourceType": "Bundle", "type": "searchset", "entry": []}
    body["prefetch"][key]["entry"].append(misfiled(a_patient("f01-misfiled")))
    entry = card_texts(post(client, body))
    assert words in entry["data-quality"]
    body["prefetch"][key] = {"resourceType": "OperationOutcome", "issue": [{"severity": "error"}]}
    assert set(card_texts(post(client, body))) == set(entry)  # said where the whole list is


def test_booking_counts_unreadable_prescriptions_and_schedule_entries(app: Flask) -> None:
    set_clock(app, NOW)
    response = app.test_client().post(BOOK, json=fixture_request("72-book-entries-unreadable"))
    cards = card_texts(response)
    assert "warfarin" in cards["booking-hold-plan"]
    quality = cards["data-quality"]
    assert "1 entry of the prescriptions could not be read" in quality
    assert "1 entry of the appointments already in the schedule could not be read" in quality


def test_booking_names_unreadable_service_requests_for_an_order_not_found(app: Flask) -> None:
    set_clock(app, NOW)
    body = fixture_request("42-book-apixaban-no-interval")  # known as a block by its order only
    body["prefetch"]["serviceRequests"]["entry"] = [no_resource("ServiceRequest", "x")]
    cards = card_texts(app.test_client().post(BOOK, json=body))
    quality = cards["data-quality"]
    assert "1 of the patient's service requests could not be read" in quality
    assert "whether it books a lumbar sympathetic block is not known" in quality
    assert "anticoagulant" not in quality.lower()  # the drugs were checked: not a drug problem


def test_a_damaged_resource_type_is_an_unreadable_entry_not_a_500(client: FlaskClient) -> None:
    body = fixture_request(APIXABAN)
    body["prefetch"]["conditions"]["entry"][0]["resource"]["resourceType"] = []
    cards = card_texts(post(client, body))
    assert "1 entry of the problem list could not be read" in cards["data-quality"]


def test_a_damaged_appointment_status_is_not_a_500(app: Flask) -> None:
    set_clock(app, NOW)
    body = fixture_request("40-book-warfarin-in-time")
    body["context"]["appointments"]["entry"][0]["resource"]["status"] = []
    assert app.test_client().post(BOOK, json=body).status_code < 500

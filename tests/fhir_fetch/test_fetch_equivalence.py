"""With no prefetch, the service fetches from the FHIR server and gives the very same cards."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from cds_service import services

from .conftest import MakeClient
from .support import card, cards_seen, fetching, kinds, post, requests_for, text_of
from fhir_server.harness import FhirTestServer
from fixture_files import NAMES, fixture_request, service_for

# The prefetch itself is the test subject in these: an OperationOutcome (19, 26, 47, 51) or an
# omitted key (25) yields cards that a complete fetch rightly does not. Tested on their own below.
PREFETCH_ODDITIES = {
    "19-crps-statements-operationoutcome",
    "25-conditions-key-omitted",
    "26-lsb-selected-statements-operationoutcome",
    "47-book-unreadable-order",
    "51-book-scheduled-unreadable",
    # Unreadable searchset entries (68, 69, 72, 73): the server's own searches have none.
    "68-crps-statement-entries-unreadable",
    "69-problem-list-entry-unreadable",
    "72-book-entries-unreadable",
    "73-lsb-sign-problem-entry-other-type",
}
HEAVY = "27-heavy-patient"
SAME = [n for n in NAMES if n not in PREFETCH_ODDITIES and n != HEAVY]


@pytest.mark.parametrize("name", SAME)
def test_fetch_gives_the_cards_of_prefetch(
    make_client: MakeClient, ehr: FhirTestServer, name: str
) -> None:
    client = make_client()
    from_prefetch = post(client, fixture_request(name))
    from_server = post(client, fetching(name, ehr.base_url))
    assert cards_seen(from_server) == cards_seen(from_prefetch)
    log = ehr.requests_log()
    templates = services.BY_ID[service_for(fixture_request(name))].prefetch.values()
    assert {r["path"].split("?")[0] for r in log} >= {
        "/fhir/" + t.split("?")[0] for t in templates
    }
    assert all(r["has_authorization"] and r["status"] == 200 for r in log)


def test_heavy_patient_fetched_page_by_page_gives_the_cards_of_prefetch(
    make_client: MakeClient, ehr: FhirTestServer
) -> None:
    # 1,500 conditions and 1,500 statements in pages of 500: three pages per list.
    client = make_client(fhir_page_size=500)
    from_prefetch = post(client, fixture_request(HEAVY))
    from_server = post(client, fetching(HEAVY, ehr.base_url))
    assert cards_seen(from_server) == cards_seen(from_prefetch)
    assert len(requests_for(ehr.requests_log(), "MedicationStatement")) == 3


def test_an_operation_outcome_key_is_fetched_again(
    client: FlaskClient, ehr: FhirTestServer
) -> None:
    name = "19-crps-statements-operationoutcome"
    body = fixture_request(name)
    assert kinds(post(client, body)) == ["data-quality", "lsb-suggestion"]
    body["fhirServer"] = ehr.base_url
    body["fhirAuthorization"] = fetching(name, ehr.base_url)["fhirAuthorization"]
    # The server holds no statement for this patient: once asked, the list is known empty.
    assert kinds(post(client, body)) == ["lsb-suggestion"]
    assert [r["path"].split("?")[0] for r in ehr.requests_log()] == ["/fhir/MedicationStatement"]


def test_an_omitted_conditions_key_is_fetched_instead_of_412(
    client: FlaskClient, ehr: FhirTestServer
) -> None:
    name = "25-conditions-key-omitted"
    assert post(client, fixture_request(name)).status_code == 412
    body = fixture_request(name)
    body["fhirServer"] = ehr.base_url
    body["fhirAuthorization"] = fetching(name, ehr.base_url)["fhirAuthorization"]
    assert post(client, body).status_code == 200
    assert [r["path"].split("?")[0] for r in ehr.requests_log()] == ["/fhir/Condition"]


def test_complete_prefetch_sends_no_request(client: FlaskClient, ehr: FhirTestServer) -> None:
    body = fixture_request("01-crps-left-apixaban")
    body["fhirServer"] = ehr.base_url
    assert cards_seen(post(client, body)) == cards_seen(
        post(client, fixture_request("01-crps-left-apixaban"))
    )
    assert ehr.requests_log() == []


def test_a_medication_missing_from_prefetch_is_read(
    client: FlaskClient, ehr: FhirTestServer
) -> None:
    """10 refers to its clopidogrel Medication by reference; drop the included copy."""
    name = "10-causalgia-left-clopidogrel-included"
    body = fixture_request(name)
    statements = body["prefetch"]["medicationStatements"]
    statements["entry"] = [
        e for e in statements["entry"] if e["resource"]["resourceType"] != "Medication"
    ]
    without_server = post(client, body)
    assert "data-quality" in kinds(without_server)  # cannot be read: never "no clopidogrel"

    body["fhirServer"] = ehr.base_url
    body["fhirAuthorization"] = fetching(name, ehr.base_url)["fhirAuthorization"]
    assert cards_seen(post(client, body)) == cards_seen(post(client, fixture_request(name)))
    assert [r["path"] for r in ehr.requests_log()] == ["/fhir/Medication/f10-med-clopidogrel"]


def test_an_order_an_appointment_is_based_on_is_read_when_missing(
    client: FlaskClient, ehr: FhirTestServer
) -> None:
    """36 is recognised as a block only through its ServiceRequest: leave it out of prefetch."""
    name = "42-book-apixaban-no-interval"
    body = fixture_request(name)
    body["prefetch"]["serviceRequests"]["entry"] = []
    without_server = post(client, body)
    assert kinds(without_server) == ["data-quality"]  # never "not a block"

    body["fhirServer"] = ehr.base_url
    body["fhirAuthorization"] = fetching(name, ehr.base_url)["fhirAuthorization"]
    assert cards_seen(post(client, body)) == cards_seen(post(client, fixture_request(name)))
    assert [r["path"] for r in ehr.requests_log()] == ["/fhir/ServiceRequest/f42-sr-lsb"]


def test_an_unreadable_schedule_is_fetched_again(client: FlaskClient, ehr: FhirTestServer) -> None:
    """49's block already in the schedule makes the booked one too close: it is found on the
    server when the EHR's own search of the appointments failed."""
    name = "49-book-scheduled-block-too-close"
    body = fixture_request(name)
    body["prefetch"]["scheduledAppointments"] = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "exception"}],
    }
    assert kinds(post(client, body)) == ["booking-preparation", "data-quality"]
    body["fhirServer"] = ehr.base_url
    body["fhirAuthorization"] = fetching(name, ehr.base_url)["fhirAuthorization"]
    assert cards_seen(post(client, body)) == cards_seen(post(client, fixture_request(name)))
    [search] = ehr.requests_log()
    assert search["path"].startswith(
        "/fhir/Appointment?patient=lsb-49&status=proposed,pending,booked,arrived,checked-in"
    )


def test_a_schedule_the_server_cannot_give_is_said_on_a_card(
    client: FlaskClient, ehr: FhirTestServer
) -> None:
    name = "49-book-scheduled-block-too-close"
    ehr.behave(status=500, path_contains="/fhir/Appointment", times=-1)
    response = post(client, fetching(name, ehr.base_url))
    assert kinds(response) == ["booking-preparation", "data-quality"]  # never silence
    quality = text_of(card(response, "data-quality"))
    assert "the appointments already in the schedule" in quality
    assert "could not be checked" in quality

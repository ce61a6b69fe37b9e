"""Searchsets in pages: fetched ones and prefetched ones (`link` relation `next`) are followed
up to the page cap; beyond it the list is partial, and the card says so."""

from __future__ import annotations

import copy
from typing import Any

from flask.testing import FlaskClient

from .conftest import MakeClient
from .support import (
    card,
    cards_seen,
    fetching,
    kinds,
    post,
    requests_for,
    statements_page_1,
    text_of,
)
from fhir_server.harness import FhirTestServer
from fixture_files import fixture_request

DUAL = "24-crps-dual-antiplatelet"  # two statements: aspirin, then ticagrelor


def test_fetched_searchsets_are_followed_page_by_page(
    make_client: MakeClient, ehr: FhirTestServer
) -> None:
    client = make_client(fhir_page_size=1)
    response = post(client, fetching(DUAL, ehr.base_url))
    assert cards_seen(response) == cards_seen(post(client, fixture_request(DUAL)))
    paths = [r["path"] for r in requests_for(ehr.requests_log(), "MedicationStatement")]
    assert len(paths) == 2 and "_count=1" in paths[0] and "_offset=1" in paths[1]


def test_a_prefetched_page_with_a_next_link_is_followed(
    client: FlaskClient, ehr: FhirTestServer
) -> None:
    body = fixture_request(DUAL)
    body["prefetch"]["medicationStatements"] = statements_page_1(ehr)
    ehr.reset()
    body["fhirServer"] = ehr.base_url
    body["fhirAuthorization"] = fetching(DUAL, ehr.base_url)["fhirAuthorization"]
    response = post(client, body)
    assert cards_seen(response) == cards_seen(post(client, fixture_request(DUAL)))
    log = ehr.requests_log()
    assert len(log) == 1 and "_offset=1" in log[0]["path"] and log[0]["has_authorization"]


def test_a_prefetched_page_without_fhir_server_stays_partial(
    client: FlaskClient, ehr: FhirTestServer
) -> None:
    body = fixture_request(DUAL)
    body["prefetch"]["medicationStatements"] = statements_page_1(ehr)
    response = post(client, body)
    assert "data-quality" in kinds(response)
    assert "only its first page was provided" in text_of(card(response, "data-quality"))


def test_pages_beyond_the_cap_leave_the_list_partial(
    make_client: MakeClient, ehr: FhirTestServer
) -> None:
    client = make_client(fhir_page_size=1, fhir_max_pages=1)
    response = post(client, fetching(DUAL, ehr.base_url))
    # aspirin was on the page read; ticagrelor was not, and the card says the list is partial
    assert kinds(response) == ["data-quality", "lsb-suggestion"]
    assert "Aspirin" in text_of(card(response, "lsb-suggestion"))
    assert "the medication list: only its first page could be read: the service reads at most" \
        " 1 page of a list" in text_of(card(response, "data-quality"))
    assert len(requests_for(ehr.requests_log(), "MedicationStatement")) == 1


def lsb_ordered_for_heavy_patient() -> dict[str, Any]:
    """Fixture 16's block order (selected), for the heavy patient 27 (1,500 statements)."""
    body = copy.deepcopy(fixture_request("16-lsb-selected-aspirin"))
    body["context"]["patientId"] = "lsb-27"
    for entry in body["context"]["draftOrders"]["entry"]:
        entry["resource"]["subject"] = {"reference": "Patient/lsb-27"}
    return body


def test_heavy_patient_at_the_servers_default_page_size_stops_at_the_cap(
    make_client: MakeClient, ehr: FhirTestServer
) -> None:
    """Pages of 20 (the server's default, no `_count` sent): 75 pages, the cap is 20. The
    active apixaban is statement 750, beyond the cap: the block order must get the
    'check could not be completed' card, not silence."""
    client = make_client(fhir_page_size=0, fhir_max_pages=20)
    body = lsb_ordered_for_heavy_patient()
    body.pop("prefetch")
    body["fhirServer"] = ehr.base_url
    body["fhirAuthorization"] = fetching(DUAL, ehr.base_url)["fhirAuthorization"]
    response = post(client, body)
    assert kinds(response) == ["data-quality"]
    text = text_of(card(response, "data-quality"))
    assert "anticoagulant and antiplatelet check could not be completed" in text
    assert "the medication list: only its first 20 pages could be read" in text
    statements = requests_for(ehr.requests_log(), "MedicationStatement")
    assert len(statements) == 20
    assert "_count" not in statements[0]["path"]  # the server's own page size

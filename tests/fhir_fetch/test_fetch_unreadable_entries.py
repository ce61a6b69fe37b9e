"""Entries the FHIR server sends that cannot be read are counted as in prefetch: the fetch
path and the prefetch path give the same data-quality card."""

from __future__ import annotations

from entries_support import a_patient, misfiled, no_resource, searchset
from flask.testing import FlaskClient

from .support import card, fetching, kinds, post, text_of
from fhir_server.harness import FhirTestServer
from fixture_files import fixture_request

TYPICAL = "01-crps-left-apixaban"


def test_unreadable_fetched_statements_are_said_as_in_prefetch(
    client: FlaskClient, ehr: FhirTestServer
) -> None:
    answer = searchset(
        no_resource("MedicationStatement", "f01-ms-apixaban"),
        misfiled(a_patient("lsb-01")),
    )
    ehr.behave(status=200, body=answer, path_contains="/MedicationStatement", times=-1)
    fetched = post(client, fetching(TYPICAL, ehr.base_url))
    assert kinds(fetched) == ["data-quality", "lsb-suggestion"]
    said = text_of(card(fetched, "data-quality"))
    assert "2 entries of the medication list could not be read" in said
    prefetched = post(client, fixture_request("68-crps-statement-entries-unreadable"))
    assert card(prefetched, "data-quality")["detail"] == card(fetched, "data-quality")["detail"]

"""A FHIR server that is slow, down, refusing or failing: the service answers in bounded time
and says what it could not check; it never reads a failure as "no anticoagulant".

The budget is tested against a server held back far longer than it (SLOW_MS): an answer that
came before the server's would be the budget at work, whatever the machine's speed. No test
asserts how fast the service itself is (that is what `make bench-fetch` measures)."""

from __future__ import annotations

import socket
import time

import pytest
from flask.testing import FlaskClient

from cds_service.data.fetcher import GRACE_S, _request_time
from cds_service.data.fhir_client import Deadline

from .conftest import MakeClient
from .support import (
    card,
    cards_seen,
    diagnostics,
    fetching,
    kinds,
    post,
    requests_for,
    text_of,
)
from fhir_server.harness import FhirTestServer
from fixture_files import fixture_request

TYPICAL = "01-crps-left-apixaban"  # CRPS left leg, apixaban: the suggestion
BUDGET_MS = 400  # the default CDS_FHIR_BUDGET_MS
# Where the lists the server answers at once must arrive within the budget (only one is held
# back), a budget a busy machine cannot outlast: with 400 ms, a loaded machine could time out
# the conditions too, and the answer would be a 412 instead of the warning under test.
ROOMY_BUDGET_MS = 5000
SLOW_MS = 30_000  # the held-back server: far beyond either budget


def timed_post(client: FlaskClient, body: dict) -> tuple[object, float]:
    started = time.monotonic()
    response = post(client, body)
    return response, time.monotonic() - started


@pytest.fixture()
def budget_client(make_client: MakeClient) -> FlaskClient:
    """An app with the default budget, for tests of the budget itself whose outcome does not
    depend on what else arrived in time (the conditions held back: a 412 either way)."""
    return make_client(fhir_budget_ms=BUDGET_MS)


@pytest.fixture()
def roomy_client(make_client: MakeClient) -> FlaskClient:
    """An app whose budget the held-back list outlasts but no other list can."""
    return make_client(fhir_budget_ms=ROOMY_BUDGET_MS)


def answered_before_the_server(elapsed: float) -> bool:
    return elapsed < SLOW_MS / 1000


def assert_medications_unchecked(response: object, why: str) -> None:
    """The suggestion may show; the anticoagulant check is said to be incomplete, and why."""
    assert kinds(response) == ["data-quality", "lsb-suggestion"]
    text = text_of(card(response, "data-quality"))
    assert "anticoagulant and antiplatelet check could not be completed" in text
    assert "does **not** mean there is no anticoagulant" in text
    assert why in text


def test_slow_medication_list_gives_the_warning_within_the_budget(
    roomy_client: FlaskClient, ehr: FhirTestServer
) -> None:
    ehr.behave(delay_ms=SLOW_MS, path_contains="/fhir/MedicationStatement", times=-1)
    response, elapsed = timed_post(roomy_client, fetching(TYPICAL, ehr.base_url))
    assert answered_before_the_server(elapsed)
    assert_medications_unchecked(
        response, "the medication list: the EHR's FHIR server did not answer in time"
    )


def test_slow_problem_list_is_412_within_the_budget(
    budget_client: FlaskClient, ehr: FhirTestServer
) -> None:
    ehr.behave(delay_ms=SLOW_MS, path_contains="/fhir/Condition", times=-1)
    response, elapsed = timed_post(budget_client, fetching(TYPICAL, ehr.base_url))
    assert answered_before_the_server(elapsed)
    assert "did not answer in time" in diagnostics(response, 412)
    assert response.get_json()["issue"][1]["expression"] == ["prefetch.conditions"]


def test_a_configured_budget_is_kept(make_client: MakeClient, ehr: FhirTestServer) -> None:
    client = make_client(fhir_budget_ms=150)
    ehr.behave(delay_ms=SLOW_MS, times=-1)
    response, elapsed = timed_post(client, fetching(TYPICAL, ehr.base_url))
    assert answered_before_the_server(elapsed)
    assert "did not answer in time" in diagnostics(response, 412)


def test_a_slow_page_is_waited_for_inside_a_larger_budget(
    make_client: MakeClient, ehr: FhirTestServer
) -> None:
    """No per-request timeout shorter than the budget: a page slower than the default budget
    (here 1.5 s, inside a 60 s budget) is read, and the cards are those of prefetch."""
    ehr.behave(delay_ms=1500, path_contains="/fhir/MedicationStatement", times=-1)
    response, elapsed = timed_post(make_client(), fetching(TYPICAL, ehr.base_url))
    assert elapsed >= 1.5
    assert cards_seen(response) == cards_seen(post(make_client(), fixture_request(TYPICAL)))


def test_server_down_is_412_saying_it_could_not_be_reached(make_client: MakeClient) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{s.getsockname()[1]}/fhir"
    client = make_client(allowed_fhir_servers=(down,))
    assert "could not be reached" in diagnostics(post(client, fetching(TYPICAL, down)), 412)


def test_connection_dropped_mid_request(client: FlaskClient, ehr: FhirTestServer) -> None:
    ehr.behave(drop=True, path_contains="/fhir/MedicationStatement")
    response = post(client, fetching(TYPICAL, ehr.base_url))
    assert_medications_unchecked(response, "could not be reached")


def test_401_is_reported_as_refused_access_not_as_no_data(
    client: FlaskClient, ehr: FhirTestServer
) -> None:
    response = post(client, fetching(TYPICAL, ehr.base_url, token="not-the-token"))
    assert "refused access (HTTP 401)" in diagnostics(response, 412)
    assert {r["status"] for r in ehr.requests_log()} == {401}


def test_401_on_the_medication_list_only(client: FlaskClient, ehr: FhirTestServer) -> None:
    ehr.behave(status=401, path_contains="/fhir/MedicationStatement")
    response = post(client, fetching(TYPICAL, ehr.base_url))
    assert_medications_unchecked(response, "refused access (HTTP 401)")


def test_403_on_prescriptions(client: FlaskClient, ehr: FhirTestServer) -> None:
    ehr.behave(status=403, path_contains="/fhir/MedicationRequest")
    response = post(client, fetching(TYPICAL, ehr.base_url))
    # apixaban is on the medication list, which was read: its line stays in the suggestion.
    assert kinds(response) == ["data-quality", "lsb-suggestion"]
    assert "Apixaban" in text_of(card(response, "lsb-suggestion"))
    assert "the prescriptions: the EHR's FHIR server denied access (HTTP 403)" in text_of(
        card(response, "data-quality")
    )


def test_429_with_retry_after_0_is_retried(client: FlaskClient, ehr: FhirTestServer) -> None:
    ehr.behave(status=429, retry_after="0", times=2, path_contains="/fhir/MedicationStatement")
    response = post(client, fetching(TYPICAL, ehr.base_url))
    assert cards_seen(response) == cards_seen(post(client, fixture_request(TYPICAL)))
    statuses = [r["status"] for r in requests_for(ehr.requests_log(), "MedicationStatement")]
    assert statuses == [429, 429, 200]


def test_429_whose_retry_after_outlasts_the_budget_is_not_waited_for(
    roomy_client: FlaskClient, ehr: FhirTestServer
) -> None:
    wait_s = SLOW_MS // 1000
    ehr.behave(
        status=429, retry_after=str(wait_s), times=-1, path_contains="/fhir/MedicationStatement"
    )
    response, elapsed = timed_post(roomy_client, fetching(TYPICAL, ehr.base_url))
    assert elapsed < wait_s
    assert_medications_unchecked(response, "too busy to answer (HTTP 429)")
    assert len(requests_for(ehr.requests_log(), "MedicationStatement")) == 1


def test_429_retry_after_is_respected_inside_a_larger_budget(
    make_client: MakeClient, ehr: FhirTestServer
) -> None:
    client = make_client()
    ehr.behave(status=429, retry_after="1", times=1, path_contains="/fhir/MedicationStatement")
    response, elapsed = timed_post(client, fetching(TYPICAL, ehr.base_url))
    assert elapsed >= 1.0
    assert cards_seen(response) == cards_seen(post(client, fixture_request(TYPICAL)))


def test_503_is_retried_a_bounded_number_of_times(
    client: FlaskClient, ehr: FhirTestServer
) -> None:
    ehr.behave(status=503, times=2, path_contains="/fhir/MedicationStatement")
    response = post(client, fetching(TYPICAL, ehr.base_url))
    assert cards_seen(response) == cards_seen(post(client, fixture_request(TYPICAL)))

    ehr.reset()
    ehr.behave(status=503, times=-1, path_contains="/fhir/MedicationStatement")
    response = post(client, fetching(TYPICAL, ehr.base_url))
    assert_medications_unchecked(response, "failed to answer (HTTP 503)")
    assert len(requests_for(ehr.requests_log(), "MedicationStatement")) == 3  # 1 + 2 retries


def test_an_answer_that_is_not_a_bundle(client: FlaskClient, ehr: FhirTestServer) -> None:
    ehr.behave(
        status=200,
        body={"resourceType": "Patient", "id": "x"},
        path_contains="/fhir/MedicationStatement",
    )
    response = post(client, fetching(TYPICAL, ehr.base_url))
    assert_medications_unchecked(response, "not a FHIR search result")


def test_a_server_that_ignores_the_patient_filter_is_not_believed(
    client: FlaskClient, ehr: FhirTestServer
) -> None:
    other_patient = fixture_request("02-causalgia-right-pt")["prefetch"]["conditions"]
    ehr.behave(status=200, body=other_patient, path_contains="/fhir/Condition")
    response = post(client, fetching(TYPICAL, ehr.base_url))
    assert "returned records of another patient" in diagnostics(response, 412)


def test_the_budget_counts_from_when_the_call_arrived() -> None:
    """Time spent before the fetch (reading and parsing the body, waiting for the worker) is
    part of the budget: a call that arrived a budget ago has no time left to fetch."""
    now = time.monotonic()
    assert Deadline(0.4, start=now - 1.0).remaining() == 0
    assert Deadline(0.4, start=now - 0.1).end == pytest.approx(now + 0.3)


def test_requests_end_a_grace_before_the_budget_so_collecting_them_fits_in_it() -> None:
    assert _request_time(0.400) == pytest.approx(0.400 - GRACE_S)
    assert _request_time(2 * GRACE_S) == pytest.approx(GRACE_S)
    assert _request_time(0.060) == pytest.approx(0.030)  # a tiny budget: half for requests

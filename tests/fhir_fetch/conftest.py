"""A real FHIR server on loopback holding every fixture patient, and apps that may query it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from cds_service import create_app

from .support import TOKEN
from fhir_server.harness import FhirTestServer
from fixture_files import fixture_bundles, fixture_clock

MakeClient = Callable[..., FlaskClient]
GENEROUS_BUDGET_MS = 60_000


def load_fixture_patients(server: FhirTestServer) -> None:
    """What each fixture prefetched (matches and included Medications), under its own ids."""
    for bundle in fixture_bundles():
        server.load(bundle)


@pytest.fixture(scope="session")
def ehr_server() -> Iterator[FhirTestServer]:
    server = FhirTestServer()  # installs its npm packages on first use (npm ci)
    server.start(token=TOKEN)
    try:
        load_fixture_patients(server)
        yield server
    finally:
        server.stop()


@pytest.fixture()
def ehr(ehr_server: FhirTestServer) -> Iterator[FhirTestServer]:
    """The session's server with no fault rules and an empty request log (data kept)."""
    ehr_server.reset()
    yield ehr_server
    ehr_server.reset()


@pytest.fixture()
def make_client(ehr: FhirTestServer) -> MakeClient:
    """An app that may contact `ehr` (by the allowlist, not by dev mode's loopback rule).

    Its budget is generous: a test that compares cards must not race the time budget on a busy
    machine (seven searches per call reach one single-threaded test server at once; on a loaded
    machine the last waits behind the others). Tests of the budget itself set it, against a
    server delayed far beyond it."""

    def make(**overrides: Any) -> FlaskClient:
        settings: dict[str, Any] = {
            "dev_mode": True,
            "fhir_allow_loopback": False,
            "allowed_fhir_servers": (ehr.base_url,),
            "fhir_budget_ms": GENEROUS_BUDGET_MS,
            "clock": fixture_clock,
        }
        settings.update(overrides)
        return create_app(**settings).test_client()

    return make


@pytest.fixture()
def client(make_client: MakeClient) -> FlaskClient:
    return make_client()

"""A real FHIR server on loopback holding every fixture patient, and apps that may query it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from cds_service import create_app

from .support import TOKEN
from fhir_server.harness import FhirTestServer
from fixture_files import NAMES, fixture_clock, fixture_request

MakeClient = Callable[..., FlaskClient]


def load_fixture_patients(server: FhirTestServer) -> None:
    """What each fixture prefetched (matches and included Medications), under its own ids."""
    for name in NAMES:
        for value in (fixture_request(name).get("prefetch") or {}).values():
            if isinstance(value, dict) and value.get("resourceType") == "Bundle":
                server.load(value)


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
    """An app that may contact `ehr` (by the allowlist, not by dev mode's loopback rule)."""

    def make(**overrides: Any) -> FlaskClient:
        settings: dict[str, Any] = {
            "dev_mode": True,
            "fhir_allow_loopback": False,
            "allowed_fhir_servers": (ehr.base_url,),
            "clock": fixture_clock,
        }
        settings.update(overrides)
        return create_app(**settings).test_client()

    return make


@pytest.fixture()
def client(make_client: MakeClient) -> FlaskClient:
    return make_client()

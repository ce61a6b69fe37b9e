"""Fixtures for tests in this folder (pytest applies a conftest.py to the tests below it).

Tests elsewhere can reuse them by importing in their own conftest.py:

    from fhir_server.conftest import fhir_server, fhir  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .harness import FhirTestServer, fhir_server_fixture


@pytest.fixture(scope="session")
def fhir_server() -> Iterator[FhirTestServer]:
    """One FHIR test server for the session, requiring the bearer token ``DEFAULT_TEST_TOKEN``."""
    yield from fhir_server_fixture()


@pytest.fixture()
def fhir(fhir_server: FhirTestServer) -> Iterator[FhirTestServer]:
    """The session server with no data, no fault rules and an empty request log."""
    fhir_server.reset(data=True)
    yield fhir_server
    fhir_server.reset(data=True)

"""Loopback FHIR R4 test server (Medplum in-memory engine) and its Python harness."""

from .harness import (
    DEFAULT_TEST_TOKEN,
    FhirTestServer,
    FhirTestServerError,
    ensure_installed,
    fhir_server_fixture,
    to_put_transaction,
)

__all__ = [
    "DEFAULT_TEST_TOKEN",
    "FhirTestServer",
    "FhirTestServerError",
    "ensure_installed",
    "fhir_server_fixture",
    "to_put_transaction",
]

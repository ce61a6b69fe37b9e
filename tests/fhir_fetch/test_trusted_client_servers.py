"""A verified client can make the service contact only the FHIR servers its entry in the
trusted-clients file lists — not the deployment-wide CDS_ALLOWED_FHIR_SERVERS, and not
another client's servers. Signed calls against the real FHIR test server on loopback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask
from jwt_helpers import PUBLIC_URL, TestIssuer, write_trusted_clients

from .support import diagnostics, fetching, kinds
from fhir_server.harness import FhirTestServer

TYPICAL = "01-crps-left-apixaban"
SELECT = "/cds-services/lsb-order-select"


def signed_post(app: Flask, issuer: TestIssuer, body: dict) -> object:
    return app.test_client().post(SELECT, json=body, headers=issuer.auth(PUBLIC_URL + SELECT))


def test_each_client_reaches_only_its_own_fhir_servers(
    make_app: Callable[..., Flask], tmp_path: Path, ehr: FhirTestServer
) -> None:
    hospital = TestIssuer()
    clinic = TestIssuer(issuer="https://clinic.test.invalid", kid="clinic", slot=1)
    trusted = write_trusted_clients(
        tmp_path / "trusted.yaml",
        hospital.entry(fhir_servers=(ehr.base_url,)),
        clinic.entry(tenant="clinic", fhir_servers=("https://fhir.clinic.test.invalid/r4",)),
    )
    app = make_app(
        trusted_clients=str(trusted),
        allowed_fhir_servers=(ehr.base_url,),  # deployment-wide: must not apply to clients
    )
    body = fetching(TYPICAL, ehr.base_url)

    response = signed_post(app, hospital, body)
    assert kinds(response) == ["lsb-suggestion"]
    assert ehr.requests_log()

    ehr.reset()
    assert "not one this service may contact" in diagnostics(signed_post(app, clinic, body), 412)
    assert ehr.requests_log() == []

"""Only allowed FHIR servers are contacted, links elsewhere are refused, TLS is verified, and
the access token never appears in a log line or an error body."""

from __future__ import annotations

import json
import logging
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from flask import g

from cds_service import create_app
from cds_service.data.fhir_servers import G_ALLOWED_FHIR_SERVERS

from .conftest import GENEROUS_BUDGET_MS, MakeClient
from .support import (
    TOKEN,
    card,
    cards_seen,
    diagnostics,
    fetching,
    kinds,
    post,
    statements_page_1,
    text_of,
)
from fhir_server.harness import FhirTestServer
from fixture_files import fixture_request

TYPICAL = "01-crps-left-apixaban"
NOT_ALLOWED = "not one this service may contact"


def test_unknown_server_is_not_needed_when_prefetch_is_complete(
    make_client: MakeClient, ehr: FhirTestServer
) -> None:
    client = make_client(allowed_fhir_servers=("https://ehr.example.org/fhir",))
    body = fixture_request(TYPICAL)
    body["fhirServer"] = ehr.base_url
    assert cards_seen(post(client, body)) == cards_seen(post(client, fixture_request(TYPICAL)))
    assert ehr.requests_log() == []


def test_unknown_server_with_data_to_fetch_is_412_naming_it(
    make_client: MakeClient, ehr: FhirTestServer
) -> None:
    client = make_client(allowed_fhir_servers=("https://ehr.example.org/fhir",))
    response = post(client, fetching(TYPICAL, ehr.base_url))
    assert NOT_ALLOWED in diagnostics(response, 412)
    assert ehr.requests_log() == []


def test_unknown_server_for_a_failed_medication_list_gives_the_warning(
    make_client: MakeClient, ehr: FhirTestServer
) -> None:
    client = make_client(allowed_fhir_servers=())
    body = fixture_request("19-crps-statements-operationoutcome")
    body["fhirServer"] = ehr.base_url
    response = post(client, body)
    assert kinds(response) == ["data-quality", "lsb-suggestion"]
    assert NOT_ALLOWED in text_of(card(response, "data-quality"))
    assert ehr.requests_log() == []


def test_a_server_under_an_allowed_base_is_allowed(
    make_client: MakeClient, ehr: FhirTestServer
) -> None:
    client = make_client(allowed_fhir_servers=(f"{ehr.root_url}/",))
    assert post(client, fetching(TYPICAL, ehr.base_url)).status_code == 200
    client = make_client(allowed_fhir_servers=(f"{ehr.base_url}/tenant-a",))
    assert NOT_ALLOWED in diagnostics(post(client, fetching(TYPICAL, ehr.base_url)), 412)


def test_dev_mode_allows_loopback_servers(ehr: FhirTestServer) -> None:
    client = create_app(dev_mode=True).test_client()
    assert post(client, fetching(TYPICAL, ehr.base_url)).status_code == 200


def test_the_clients_own_allowlist_replaces_the_deployments(
    make_client: MakeClient, ehr: FhirTestServer
) -> None:
    """Request authentication (the trust issue) puts the issuer's servers in flask.g."""
    client = make_client()  # the deployment list allows ehr
    per_client: list[str] = []

    @client.application.before_request
    def authenticate() -> None:
        setattr(g, G_ALLOWED_FHIR_SERVERS, per_client)

    assert NOT_ALLOWED in diagnostics(post(client, fetching(TYPICAL, ehr.base_url)), 412)
    per_client.append(ehr.base_url)
    assert post(client, fetching(TYPICAL, ehr.base_url)).status_code == 200


def test_credentials_in_the_server_url_are_refused_and_not_echoed(
    make_client: MakeClient, ehr: FhirTestServer
) -> None:
    client = make_client(fhir_allow_loopback=True)
    server = ehr.base_url.replace("http://", "http://admin:pa55word@")
    response = post(client, fetching(TYPICAL, server))
    assert NOT_ALLOWED in diagnostics(response, 412)
    assert "pa55word" not in response.get_data(as_text=True)
    assert ehr.requests_log() == []


def test_a_server_url_that_is_not_a_url_is_400(make_client: MakeClient) -> None:
    response = post(make_client(), fetching(TYPICAL, "javascript:alert(1)"))
    assert response.status_code == 400
    issues = response.get_json()["issue"]
    assert any("fhirServer" in i.get("expression", []) for i in issues)


@pytest.fixture()
def listener() -> Iterator[socket.socket]:
    """A loopback port that records whether anything connects to it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        s.setblocking(False)
        yield s


def nothing_connected(s: socket.socket) -> bool:
    try:
        s.accept()[0].close()
    except BlockingIOError:
        return True
    return False


@pytest.mark.parametrize("elsewhere", ["other port", "other base on the same server"])
def test_a_prefetched_next_link_to_another_host_or_base_is_refused(
    make_client: MakeClient, ehr: FhirTestServer, listener: socket.socket, elsewhere: str
) -> None:
    name = "24-crps-dual-antiplatelet"
    page_1 = statements_page_1(ehr)
    port = listener.getsockname()[1]
    target = f"http://127.0.0.1:{port}/fhir" if elsewhere == "other port" else (
        f"{ehr.root_url}/admin/fhir"
    )
    for link in page_1["link"]:
        if link["relation"] == "next":
            link["url"] = link["url"].replace(ehr.base_url, target)
    ehr.reset()
    body = fixture_request(name)
    body["prefetch"]["medicationStatements"] = page_1
    body["fhirServer"] = ehr.base_url
    body["fhirAuthorization"] = fetching(name, ehr.base_url)["fhirAuthorization"]
    response = post(make_client(fhir_allow_loopback=True), body)
    assert "data-quality" in kinds(response)
    assert "next page is at an address this service may not contact" in text_of(
        card(response, "data-quality")
    )
    assert nothing_connected(listener)
    assert ehr.requests_log() == []


def test_the_token_is_never_logged_nor_echoed(
    make_client: MakeClient, ehr: FhirTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(fhir_budget_ms=400)  # the delayed answer times out
    bodies = []
    for fault in (
        None,
        {"status": 401},
        {"status": 403, "path_contains": "/fhir/MedicationRequest"},
        {"status": 429, "retry_after": "0", "path_contains": "/fhir/MedicationStatement"},
        {"delay_ms": 1000, "path_contains": "/fhir/Condition"},
        {"drop": True},
    ):
        ehr.reset()
        if fault:
            ehr.behave(**fault)
        bodies.append(post(client, fetching(TYPICAL, ehr.base_url)).get_data(as_text=True))
    refused = make_client(allowed_fhir_servers=())
    bodies.append(post(refused, fetching(TYPICAL, ehr.base_url)).get_data(as_text=True))
    assert "fhir fetch" in caplog.text  # the fetch did log: and only this
    for text in (caplog.text, *bodies):
        assert TOKEN not in text
        assert "Bearer" not in text
    assert "lsb-01" not in caplog.text  # nor the patient


# ---------------------------------------------------------------------------------- TLS
@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True, timeout=60,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"openssl could not make a test certificate: {exc}")
    return cert, key


class EmptySearchset(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        payload = json.dumps({"resourceType": "Bundle", "type": "searchset", "total": 0})
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload.encode())

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture()
def https_server(certificate: tuple[Path, Path]) -> Iterator[str]:
    """An HTTPS endpoint on loopback whose certificate no public CA signed."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), EmptySearchset)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/fhir"
    finally:
        server.shutdown()
        server.server_close()


def test_tls_is_verified_and_a_hospital_ca_bundle_can_be_configured(
    https_server: str, certificate: tuple[Path, Path]
) -> None:
    # A generous budget: on a busy machine the handshake may outlast the default 400 ms, and
    # the answer would be the budget's, not the certificate's.
    settings = {
        "dev_mode": True,
        "allowed_fhir_servers": (https_server,),
        "fhir_budget_ms": GENEROUS_BUDGET_MS,
    }
    unknown_ca = create_app(**settings)
    response = post(unknown_ca.test_client(), fetching(TYPICAL, https_server))
    assert "certificate could not be verified" in diagnostics(response, 412)

    hospital_ca = create_app(**settings, fhir_ca_bundle=str(certificate[0]))
    assert post(hospital_ca.test_client(), fetching(TYPICAL, https_server)).status_code == 200


def test_a_missing_ca_bundle_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="CDS_FHIR_CA_BUNDLE"):
        create_app(fhir_ca_bundle=str(tmp_path / "missing.pem"))

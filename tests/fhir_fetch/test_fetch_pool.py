"""The fetcher keeps its connections to a FHIR server open and reuses them, and dials a server
named by an IP address without a name lookup."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from cds_service import create_app

from .counting_server import CountingFhirServer
from .support import fetching, post
from fixture_files import fixture_clock

TYPICAL = "01-crps-left-apixaban"


@pytest.fixture()
def fhir() -> Iterator[CountingFhirServer]:
    with CountingFhirServer() as server:
        yield server


@pytest.fixture()
def client(fhir: CountingFhirServer) -> FlaskClient:
    app = create_app(
        dev_mode=True, fhir_allow_loopback=False, allowed_fhir_servers=(fhir.base_url,),
        fhir_budget_ms=60_000, clock=fixture_clock,
    )
    return app.test_client()


def test_calls_reuse_the_open_connections(
    client: FlaskClient, fhir: CountingFhirServer
) -> None:
    body = fetching(TYPICAL, fhir.base_url)
    assert post(client, body).status_code in (200, 412)
    asked = fhir.requests  # the call's searches, sent side by side
    for _ in range(4):
        post(client, body)
    assert fhir.requests == 5 * asked  # every search asked again
    # Never more connections than one call's searches at once: the rest were reused.
    assert 0 < fhir.connections <= asked


def test_an_ip_address_is_dialled_without_a_name_lookup(
    client: FlaskClient, fhir: CountingFhirServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookups: list[Any] = []
    real = socket.getaddrinfo

    def counting(*args: Any, **kwargs: Any) -> Any:
        lookups.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", counting)
    post(client, fetching(TYPICAL, fhir.base_url))
    assert fhir.requests > 0
    assert "127.0.0.1" not in lookups

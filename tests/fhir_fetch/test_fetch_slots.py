"""A FHIR server that hangs holds no more than its own slots (CDS_FHIR_SERVER_CONCURRENCY): the
requests beyond them are not sent and count as not answered in time, and calls naming another
server are fetched meanwhile. No test depends on the machine's speed: the hanging server holds
each request for a minute, far beyond every budget here."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from cds_service import create_app
from cds_service.data.fhir_servers import parse_url
from cds_service.data.server_slots import ServerSlots

from .counting_server import CountingFhirServer
from .support import diagnostics, fetching, post
from fixture_files import fixture_clock

TYPICAL = "01-crps-left-apixaban"  # seven searches a call
BUDGET_MS = 2000  # how long a call waits on the hanging server: the test's own length
LONG_BUDGET_MS = 30_000  # never reached: the hanging server is released by the test


@pytest.fixture()
def hanging() -> Iterator[CountingFhirServer]:
    with CountingFhirServer(hold=True) as server:
        yield server


@pytest.fixture()
def answering() -> Iterator[CountingFhirServer]:
    with CountingFhirServer() as server:
        yield server


def client_for(*servers: CountingFhirServer, **settings: Any) -> FlaskClient:
    app = create_app(
        dev_mode=True, fhir_allow_loopback=False,
        allowed_fhir_servers=tuple(s.base_url for s in servers), clock=fixture_clock,
        **{"fhir_budget_ms": BUDGET_MS, **settings},
    )
    return app.test_client()


def test_a_server_that_hangs_is_sent_no_more_requests_at_once_than_its_slots(
    hanging: CountingFhirServer,
) -> None:
    client = client_for(hanging, fhir_server_concurrency=3)
    response = post(client, fetching(TYPICAL, hanging.base_url))
    assert hanging.most_held == 3  # of the call's seven searches
    # The problem list was among those never sent: not answered in time, as if it had been.
    assert "did not answer in time" in diagnostics(response, 412)


def test_calls_naming_another_server_are_fetched_while_one_hangs(
    hanging: CountingFhirServer, answering: CountingFhirServer
) -> None:
    # Four fetch threads in the worker: without a limit per server, the hanging server's call
    # would take all four until its budget ended, and the other call's searches would wait.
    client = client_for(
        hanging, answering, fhir_concurrency=4, fhir_server_concurrency=2,
        fhir_budget_ms=LONG_BUDGET_MS,  # however slow the machine, the other call has time
    )
    stuck = threading.Thread(target=post, args=(client, fetching(TYPICAL, hanging.base_url)))
    stuck.start()
    try:
        for _ in range(500):  # bounded: until the hanging server holds what it can
            if hanging.held >= 2:
                break
            time.sleep(0.01)
        response = post(client, fetching(TYPICAL, answering.base_url))
        still_hanging = hanging.held
    finally:
        hanging.release()
        stuck.join()
    assert response.status_code == 200, response.get_data(as_text=True)
    assert answering.requests >= 7  # every search of the call
    assert "did not answer in time" not in response.get_data(as_text=True)
    assert still_hanging == hanging.most_held == 2  # held all along, two at most


def test_slots_are_per_server_and_come_back_when_released() -> None:
    slots = ServerSlots(per_server=1, servers=2)
    a, b = parse_url("https://a.example/fhir"), parse_url("https://b.example:8443/r4")
    assert a is not None and b is not None
    held = slots.take(a, timeout=0)
    assert held is not None
    assert slots.take(a, timeout=0) is None  # its one slot is taken
    assert slots.take(b, timeout=0) is not None  # another server has its own
    held.release()
    assert slots.take(a, timeout=0) is not None

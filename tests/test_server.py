"""The server model (cds_service/server.py) over real connections: slow and idle peers are cut
off after the configured timeouts, a hanging FHIR server does not hold up other calls, and the
metrics listener is apart from the service port."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from jwt_helpers import TestIssuer, write_trusted_clients
from server_support import (
    connect,
    connections_per_process,
    fetching_call,
    listening_sockets,
    read_until_closed,
    silent_fhir_server,
    worker_pids,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from cds_service.db import make_engine
from cds_service.feedback.models import IssuedCard
from cds_service.server import let_other_connections_go
from cds_service.testing import free_port, served

from fixture_files import fixture_request

pytestmark = pytest.mark.slow

HOOK = "/cds-services/lsb-order-select"


def test_a_connection_whose_request_arrives_later_is_served_within_one_round() -> None:
    """Four connections whose next requests are already read keep a worker busy; a fifth, whose
    request arrives meanwhile, is served after one round of theirs, not after all of them."""
    import gevent
    from gevent import socket as gsocket

    served: list[str] = []
    waiting_side, client_side = gsocket.socketpair()

    def waiting_connection() -> None:
        waiting_side.recv(1)
        served.append("waiting")

    def busy_connection(name: str) -> None:
        for _ in range(20):
            let_other_connections_go()  # as a worker does after each request
            served.append(name)

    waiting = gevent.spawn(waiting_connection)
    gevent.sleep(0)  # it now waits for its socket
    client_side.send(b"x")
    busy = [gevent.spawn(busy_connection, f"busy-{n}") for n in range(4)]
    try:
        done = gevent.joinall([waiting, *busy], timeout=10, raise_error=True)
    finally:
        waiting_side.close()
        client_side.close()
    assert len(done) == 1 + len(busy)
    assert served.index("waiting") <= len(busy)


def test_a_burst_of_connections_is_spread_evenly_over_the_workers(tmp_path: Path) -> None:
    """Left to the kernel, the worker already running takes every connection of a burst, or a
    hash of the addresses puts them all on one worker one time in eight; keep-alive connections
    then stay there while the other cores idle."""
    port = free_port()
    log = tmp_path / "service.log"
    with served({"CDS_DEV_MODE": "1"}, port=port, workers=2, log_path=log) as url:
        deadline = time.monotonic() + 60  # a bound for a hung start, not a speed to meet
        while log.read_text(encoding="utf-8").count("accepting in turn") < 2:
            assert time.monotonic() < deadline, log.read_text(encoding="utf-8")[-3000:]
            time.sleep(0.05)
        clients = [connect(url) for _ in range(4)]  # opened at once, before any is served
        try:
            for sock in clients:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: cds\r\n\r\n")
            for sock in clients:
                assert sock.recv(4096).startswith(b"HTTP/1.1 200")  # each accepted, kept open
            held = connections_per_process(port)
            assert set(held) == worker_pids(port)
            assert sorted(held.values()) == [2, 2]
        finally:
            for sock in clients:
                sock.close()


def test_a_second_copy_on_a_port_in_use_refuses_to_start(tmp_path: Path) -> None:
    port = free_port()
    with served({"CDS_DEV_MODE": "1"}, port=port) as url:
        second = subprocess.run(
            [sys.executable, "-m", "cds_service.cli", "serve", "--port", str(port),
             "--metrics-port", "0"],
            env={**os.environ, "CDS_DEV_MODE": "1",
                 "CDS_DATABASE_URL": f"sqlite:///{tmp_path}/second.sqlite3"},
            capture_output=True, text=True, timeout=120,
        )
        assert second.returncode == 2
        assert f"cannot start: cannot listen on 127.0.0.1:{port}" in second.stderr
        assert listening_sockets(port) == 1  # the first copy's socket, alone
        assert requests.get(url + "/healthz", timeout=10).status_code == 200


def test_a_call_the_kernel_queued_when_a_sigterm_arrives_is_answered_not_reset() -> None:
    """The kernel completes a connection before the worker accepts it. One still queued when
    the worker stops must be answered: reset, its call already sent is lost (a proxy does not
    resend a POST). The worker is paused so that the connection waits in the queue."""
    port = free_port()
    with served({"CDS_DEV_MODE": "1"}, port=port) as url:
        (worker,) = worker_pids(port)
        os.kill(worker, signal.SIGSTOP)
        try:
            sock = connect(url)
            sock.sendall(b"GET /cds-services HTTP/1.1\r\nHost: cds\r\n\r\n")
            os.kill(worker, signal.SIGTERM)
        finally:
            os.kill(worker, signal.SIGCONT)
        answer = read_until_closed(sock)
        sock.close()
    assert answer.startswith(b"HTTP/1.1 200")
    assert b'"services"' in answer


def test_an_idle_connection_is_closed_after_the_keepalive_timeout() -> None:
    with served({"CDS_DEV_MODE": "1"}, server_args=["--keepalive", "1"]) as url:
        sock = connect(url)  # sends nothing
        assert read_until_closed(sock) == b""  # closed by the server, no answer
        sock.close()
        assert requests.get(url + "/healthz", timeout=10).status_code == 200


def test_a_body_that_stops_arriving_gets_408_and_the_connection_is_closed() -> None:
    with served({"CDS_DEV_MODE": "1"}, server_args=["--read-timeout", "1"]) as url:
        sock = connect(url)
        head = (
            f"POST {HOOK} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 1000\r\n\r\n"
        )
        sock.sendall(head.encode() + b'{"hook": "order-')  # then silence
        answer = read_until_closed(sock)
        sock.close()
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert b'"resourceType":"OperationOutcome"' in answer.replace(b" ", b"")


def test_calls_waiting_on_a_silent_fhir_server_do_not_hold_up_a_prefetch_call() -> None:
    """One worker; calls whose FHIR server never answers wait out their (long) budget while a
    call with complete prefetch is answered: it finishes before any of them."""
    finished: list[str] = []
    with silent_fhir_server() as fhir, served(
        {
            "CDS_DEV_MODE": "1",
            "CDS_FHIR_BUDGET_MS": "3000",
            "CDS_FHIR_CONNECT_TIMEOUT_MS": "3000",
            "CDS_FHIR_READ_TIMEOUT_MS": "3000",
        },
        workers=1,
    ) as url:

        def fetching() -> None:
            response = requests.post(url + HOOK, json=fetching_call(fhir), timeout=30)
            finished.append(f"fetch {response.status_code}")

        waiting = [threading.Thread(target=fetching) for _ in range(12)]
        for thread in waiting:
            thread.start()
        requests.get(url + "/healthz", timeout=10)  # the waiting calls have been accepted
        response = requests.post(url + HOOK, json=fixture_request("01-crps-left-apixaban"),
                                 timeout=30)
        finished.append(f"prefetch {response.status_code}")
        for thread in waiting:
            thread.join()
    assert finished[0] == "prefetch 200"
    # The conditions could not be read: 412, never a hang or a 500.
    assert finished[1:] == ["fetch 412"] * 12


def test_metrics_are_served_on_their_own_port_and_add_up_the_workers(tmp_path: Path) -> None:
    metrics_port = free_port()
    env = {"CDS_DEV_MODE": "1", "CDS_DATABASE_URL": f"sqlite:///{tmp_path}/m.sqlite3"}
    with silent_fhir_server() as fhir, served(
        env, workers=2, metrics_port=metrics_port
    ) as url:
        kinds: dict[str, int] = {}
        for _ in range(6):
            r = requests.post(url + HOOK, json=fixture_request("01-crps-left-apixaban"),
                              timeout=10)
            assert r.status_code == 200
            for issued in r.json()["cards"]:
                kind = issued["source"]["topic"]["code"]
                kinds[kind] = kinds.get(kind, 0) + 1
        card = next(c for c in r.json()["cards"] if c.get("suggestions"))
        feedback = {"feedback": [{
            "card": card["uuid"], "outcome": "accepted",
            "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
            "outcomeTimestamp": "2026-01-01T00:00:00Z",
        }]}
        assert requests.post(url + HOOK + "/feedback", json=feedback, timeout=10).ok
        refused = requests.post(url + HOOK, json={}, headers={"Authorization": "Basic x"},
                                timeout=10)
        assert refused.status_code == 401
        assert requests.post(url + HOOK, json=fetching_call(fhir), timeout=10).status_code == 412

        assert requests.get(url + "/metrics", timeout=10).status_code == 404  # not public
        text = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text

    def value(series: str) -> float:
        match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
        assert match, f"{series} not in /metrics"
        return float(match.group(1))

    calls = "cds_hook_call_duration_seconds_count"
    assert value(f'{calls}{{service="lsb-order-select",status="200"}}') == 6
    assert value(f'{calls}{{service="lsb-order-select",status="401"}}') == 1
    assert kinds.get("lsb-suggestion") == 6
    for kind, count in kinds.items():
        assert value(f'cds_cards_issued_total{{kind="{kind}"}}') == count
    assert value('cds_feedback_total{outcome="accepted"}') == 1
    assert value('cds_token_refusals_total{reason="missing"}') == 1
    assert value('cds_fhir_fetch_total{outcome="timeout",resource="conditions"}') == 1


def test_health_probes_need_no_token_and_say_nothing_of_the_configuration(
    tmp_path: Path, issuer: TestIssuer
) -> None:
    trusted = write_trusted_clients(tmp_path / "trusted.yaml", issuer.entry())
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
    env.update(
        CDS_TRUSTED_CLIENTS=str(trusted),
        CDS_PUBLIC_URL="https://cds.example.org",
        CDS_DATABASE_URL=f"sqlite:///{tmp_path}/h.sqlite3",
        CDS_PATIENT_KEY_SECRET=os.environ["CDS_PATIENT_KEY_SECRET"],
    )
    with served(env, inherit_env=False) as url:
        health = requests.get(url + "/healthz", timeout=10)
        ready = requests.get(url + "/readyz", timeout=10)
        hook = requests.post(url + HOOK, json={}, timeout=10)
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "knowledge": "ok"}}
    assert hook.status_code == 401  # the probes are public; the hook endpoints are not
    assert "sqlite" not in ready.text + health.text


def test_feedback_on_a_card_just_issued_is_accepted_and_no_issued_card_is_lost(
    tmp_path: Path,
) -> None:
    """Issued cards are written in batches off the request path; feedback sent the moment a
    card arrives (to either worker) still finds it, and every record is written by the time
    the server has stopped."""
    database = f"sqlite:///{tmp_path}/f.sqlite3"
    issued: list[str] = []
    with served({"CDS_DEV_MODE": "1", "CDS_DATABASE_URL": database}, workers=2) as url:
        for n in range(10):
            cards = requests.post(url + HOOK, json=fixture_request("01-crps-left-apixaban"),
                                  timeout=10).json()["cards"]
            issued += [c["uuid"] for c in cards]
            card = next(c for c in cards if c.get("suggestions"))
            feedback = {"feedback": [{
                "card": card["uuid"], "outcome": "accepted",
                "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
                "outcomeTimestamp": f"2026-01-01T00:00:{n:02d}Z",
            }]}
            response = requests.post(url + HOOK + "/feedback", json=feedback, timeout=10)
            assert response.status_code == 200, response.text
    engine = make_engine(database)
    try:
        with Session(engine) as session:
            stored = set(session.scalars(select(IssuedCard.uuid)))
    finally:
        engine.dispose()
    assert stored == set(issued) and len(issued) >= 10  # every card of the ten calls


def test_after_cooperative_the_database_driver_and_http_client_wait_cooperatively() -> None:
    """What `cds-service serve` does first: psycopg then picks its gevent-aware wait function
    (its C one would block every call of the worker), and sockets and threads are gevent's."""
    probe = (
        "import cds_service.cli\n"
        "from cds_service import server\n"
        "server.cooperative()\n"
        "import socket, threading, psycopg.waiting, requests, gevent.socket, gevent.thread\n"
        "print(psycopg.waiting.wait.__name__, socket.socket is gevent.socket.socket,\n"
        "      threading._start_new_thread is gevent.thread.start_new_thread)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    out = done.stdout.split()
    assert out[0] != "wait_c" and out[1:] == ["True", "True"]
    # Nothing (ssl through requests, say) was imported before the patch.
    assert "MonkeyPatchWarning" not in done.stderr

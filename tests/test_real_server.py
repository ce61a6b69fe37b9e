"""The service as deployed: gunicorn on a loopback port, called over real HTTP."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from fixture_files import FIXTURES, card_kind, fixture_expected, fixture_request

pytestmark = pytest.mark.slow


def test_fixture_over_real_http(live_server: str) -> None:
    body = fixture_request("01-crps-left-apixaban")
    response = requests.post(f"{live_server}/cds-services/lsb-order-select", json=body, timeout=10)
    assert response.status_code == 200
    kinds = sorted(card_kind(c) for c in response.json()["cards"])
    assert kinds == sorted(c["kind"] for c in fixture_expected("01-crps-left-apixaban")["cards"])
    link = response.json()["cards"][0]["links"][0]["url"]
    assert link.startswith(live_server)
    page = requests.get(link, timeout=10)
    assert page.status_code == 200 and "Lumbar sympathetic block" in page.text


def test_errors_over_real_http_are_operation_outcomes(live_server: str) -> None:
    response = requests.post(
        f"{live_server}/cds-services/lsb-order-select",
        data="{oops",
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_replay_prints_the_cards_readably(live_server: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cds_service.cli",
            "replay",
            live_server,
            str(FIXTURES / "requests" / "16-lsb-selected-aspirin.json"),
            str(FIXTURES / "requests" / "25-conditions-key-omitted.json"),
            str(FIXTURES / "requests" / "35-book-warfarin-too-soon.json"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    out = result.stdout
    assert "16-lsb-selected-aspirin.json -> lsb-order-select: HTTP 200" in out
    assert "[CRITICAL] Lumbar sympathetic block ordered while on aspirin" in out
    assert "kind: lsb-bleeding-risk" in out
    assert "25-conditions-key-omitted.json -> lsb-order-select: HTTP 412" in out
    # The live server runs at the fixtures' stated time (CDS_FIXED_NOW).
    assert "35-book-warfarin-too-soon.json -> lsb-appointment-book: HTTP 200" in out
    assert "[CRITICAL] Too soon: the block on Fri 27 Nov 2026" in out
    assert "kind: booking-preparation" in out


def test_log_lines_name_the_call_but_no_patient(live_server: str, live_server_log: Path) -> None:
    body = fixture_request("08-cancer-pain-warfarin")
    service = "lsb-order-select" if body["hook"] == "order-select" else "lsb-order-sign"
    response = requests.post(f"{live_server}/cds-services/{service}", json=body, timeout=10)
    assert response.status_code == 200
    deadline = time.monotonic() + 5
    while body["hookInstance"] not in live_server_log.read_text():
        assert time.monotonic() < deadline, "the call was not logged"
        time.sleep(0.05)
    log = live_server_log.read_text()
    assert f"service={service} hook_instance={body['hookInstance']}" in log
    assert "DEVELOPMENT MODE" in log  # loud, as it must be
    patient = body["context"]["patientId"]
    assert patient not in log
    for resource in (e["resource"] for e in body["prefetch"]["conditions"]["entry"]):
        assert resource["id"] not in log

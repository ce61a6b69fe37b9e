"""The service as deployed: gunicorn on a loopback port, called over real HTTP."""

from __future__ import annotations

import re
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


def replay(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cds_service.cli", "replay", *args],
        capture_output=True, text=True, timeout=60, **kwargs,  # type: ignore[call-overload]
    )


def test_replay_prints_the_cards_readably(live_server: str) -> None:
    requests_dir = FIXTURES / "requests"
    result = replay(live_server, str(requests_dir / "16-lsb-selected-aspirin.json"),
                    str(requests_dir / "25-conditions-key-omitted.json"))
    out = result.stdout
    assert "16-lsb-selected-aspirin.json -> lsb-order-select: HTTP 200" in out
    assert "[WARNING] Agree with the prescriber before this lumbar sympathetic block" in out
    assert "kind: lsb-bleeding-risk" in out
    assert "25-conditions-key-omitted.json -> lsb-order-select: HTTP 412" in out
    assert result.returncode == 1  # a call did not answer 200
    assert "1 of 2 call(s) did not answer 200" in result.stderr


def test_replay_sends_a_booking_to_the_booking_service(live_server: str) -> None:
    # The live server runs at the fixtures' "today" (CDS_FIXED_NOW).
    result = replay(live_server, str(FIXTURES / "requests" / "41-book-warfarin-too-soon.json"))
    assert result.returncode == 0, result.stderr
    assert "41-book-warfarin-too-soon.json -> lsb-appointment-book: HTTP 200" in result.stdout
    assert "[CRITICAL] Too soon: the block on Fri 27 Nov 2026" in result.stdout
    assert "kind: booking-preparation" in result.stdout


def test_replay_exit_status(live_server: str) -> None:
    fine = str(FIXTURES / "requests" / "16-lsb-selected-aspirin.json")
    failing = str(FIXTURES / "requests" / "25-conditions-key-omitted.json")
    assert replay(live_server, fine).returncode == 0
    assert replay("--allow-errors", live_server, fine, failing).returncode == 0
    down = replay("http://127.0.0.1:9", fine)  # nothing listens on the discard port
    assert down.returncode == 1 and "no answer" in down.stdout and "Traceback" not in down.stderr


def test_replay_into_a_closed_pipe_stops_quietly(live_server: str) -> None:
    """`cds-service replay ... | head`: the reader goes away; no BrokenPipeError traceback."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "cds_service.cli", "replay", live_server,
         str(FIXTURES / "requests")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `head` after its lines: every write now fails with EPIPE
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr


def test_serve_help_shows_the_defaults() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cds_service.cli", "serve", "--help"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    for default in ("(default: 127.0.0.1)", "(default: 8080)", "(default: 2)", "(default: 1000)"):
        assert default in result.stdout


def test_log_lines_name_the_call_but_no_patient(live_server: str, live_server_log: Path) -> None:
    body = fixture_request("08-cancer-pain-warfarin")
    service = "lsb-order-select" if body["hook"] == "order-select" else "lsb-order-sign"
    response = requests.post(f"{live_server}/cds-services/{service}", json=body, timeout=10)
    assert response.status_code == 200
    deadline = time.monotonic() + 60  # a bound for a hung log, not a speed to meet
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


def test_every_log_line_is_formatted(live_server: str, live_server_log: Path) -> None:
    """The service's logging settings suit gunicorn's formats too: a field a format prints
    but a log record no longer gathers fails each line with a "Logging error"."""
    assert requests.get(f"{live_server}/healthz", timeout=10).status_code == 200
    log = live_server_log.read_text()
    assert re.search(r"\[\d+\] \[INFO\] Starting gunicorn", log)  # gunicorn's, with its pid
    assert "Logging error" not in log

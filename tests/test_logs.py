"""Log lines: a level and a JSON format for the service's lines and gunicorn's, no patient
identifier either way; the client's address from X-Forwarded-For only behind trusted proxies;
gunicorn's start line names the addresses it listens on."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from database_support import production_env, run_command
from flask import Flask
from jwt_helpers import TestIssuer

from cds_service.testing import free_port, served

from fixture_files import fixture_request

CLIENT = "198.51.100.7"  # the address a trusted proxy appends (TEST-NET-2)


def wait_for(path: Path, text: str) -> str:
    deadline = time.monotonic() + 60  # a bound for a hung log, not a speed to meet
    while text not in (log := path.read_text(encoding="utf-8")):
        assert time.monotonic() < deadline, log[-3000:]
        time.sleep(0.05)
    return log


def test_json_lines_at_debug_name_the_client_and_no_patient(tmp_path: Path) -> None:
    log_path = tmp_path / "service.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **production_env(tmp_path, f"sqlite:///{tmp_path / 'cds.sqlite3'}"),
        "CDS_PUBLIC_URL": url,
        "CDS_LOG_FORMAT": "json",
        "CDS_LOG_LEVEL": "debug",
        "CDS_TRUSTED_PROXIES": "1",
    }
    body = fixture_request("08-cancer-pain-warfarin")
    path = "/cds-services/lsb-order-select"
    with served(env, port=port, log_path=log_path, inherit_env=False, access_log=True):
        headers = {
            **TestIssuer().auth(url + path),  # the issuer production_env trusts
            "X-Forwarded-For": f"203.0.113.1, {CLIENT}",  # the first: written by the client
        }
        response = requests.post(url + path, json=body, timeout=30, headers=headers)
        assert response.status_code == 200
        log = wait_for(log_path, f"{CLIENT} \\\"POST")
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    messages = [line["message"] for line in lines]
    assert f"Listening at: http://127.0.0.1:{port} (" in "\n".join(messages)
    [access] = [
        line["message"] for line in lines
        if line["logger"] == "gunicorn.access" and "POST" in line["message"]
    ]
    assert access.startswith(CLIENT)
    assert "203.0.113.1" not in log
    assert body["context"]["patientId"] not in log
    for entry in body["prefetch"]["conditions"]["entry"]:
        assert entry["resource"]["id"] not in log


def test_the_access_line_holds_its_six_fields_and_no_header() -> None:
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config
    from gunicorn.glogging import SafeAtoms

    from cds_service.server import ACCESS_FORMAT, _logger_class

    logger = _logger_class("text")(Config())
    environ = {
        "REMOTE_ADDR": CLIENT,
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/cds-services/lsb-order-select",
        "QUERY_STRING": "patient=secret-query",
        "HTTP_AUTHORIZATION": "Bearer secret-token",
    }
    request = SimpleNamespace(headers=[("AUTHORIZATION", "Bearer secret-token")])
    answer = SimpleNamespace(status="200 OK", sent=4525, headers=[("X-Patient", "p-1")])
    atoms = logger.atoms(answer, request, environ, timedelta(milliseconds=12, microseconds=700))
    line = ACCESS_FORMAT % SafeAtoms(atoms)
    assert line == f'{CLIENT} "POST /cds-services/lsb-order-select" 200 4525 12ms'
    assert not any("secret" in str(value) or "p-1" in str(value) for value in atoms.values())
    nothing_sent = SimpleNamespace(status="400 BAD REQUEST", sent=None, headers=[])
    line = ACCESS_FORMAT % SafeAtoms(logger.atoms(nothing_sent, request, environ, timedelta(0)))
    assert line.endswith('" 400 - 0ms')


@pytest.mark.parametrize(("proxies", "seen"), [(0, "127.0.0.1"), (1, CLIENT), (2, "203.0.113.1")])
def test_x_forwarded_for_counts_only_behind_trusted_proxies(
    make_app: Callable[..., Flask], trusted_file: Path, caplog: pytest.LogCaptureFixture,
    proxies: int, seen: str,
) -> None:
    """The refusal line names the caller: the socket's peer unless proxies are trusted, then
    the address that many hops back."""
    app = make_app(trusted_clients=str(trusted_file), trusted_proxies=proxies)
    response = app.test_client().get(
        "/cds-services", headers={"X-Forwarded-For": f"203.0.113.1, {CLIENT}"}
    )
    assert response.status_code == 401
    [refusal] = [r.getMessage() for r in caplog.records if "call refused" in r.getMessage()]
    assert refusal.endswith(f"from {seen}")


@pytest.mark.parametrize(
    ("name", "value"), [("CDS_LOG_LEVEL", "loud"), ("CDS_LOG_FORMAT", "xml")]
)
def test_a_wrong_log_setting_stops_start_up_in_one_line(
    tmp_path: Path, name: str, value: str
) -> None:
    env = production_env(tmp_path, f"sqlite:///{tmp_path / 'cds.sqlite3'}")
    result = run_command(["serve", "--port", "0", "--metrics-port", "0"], {**env, name: value})
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and name in result.stderr

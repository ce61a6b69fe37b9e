"""`make fhir-server` (tools/fhir_server.py): the suite's FHIR server with every fixture patient,
open, readable by pages served from this machine (the CDS Hooks sandbox built locally)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from cds_service.testing import free_port

from fixture_files import ROOT

pytestmark = pytest.mark.slow


def test_the_fhir_server_tool_serves_the_fixture_patients_with_cors(tmp_path: Path) -> None:
    port = free_port()
    out = tmp_path / "out.txt"
    with open(out, "w") as stdout:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tools" / "fhir_server.py"), "--port", str(port)],
            stdout=stdout, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while "Ctrl-C stops it." not in out.read_text():
            assert proc.poll() is None, out.read_text()
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.2)
        assert f"http://127.0.0.1:{port}/fhir" in out.read_text()
        base = f"http://127.0.0.1:{port}/fhir"
        page = "http://127.0.0.1:8000"
        patient = requests.get(f"{base}/Patient/lsb-01", headers={"Origin": page}, timeout=30)
        assert patient.json()["name"][0]["family"] == "Fixture"
        assert patient.headers["Access-Control-Allow-Origin"] == page
        conditions = requests.get(f"{base}/Condition?patient=lsb-01", timeout=30).json()
        assert [e["resource"]["id"] for e in conditions["entry"]] == ["f01-crps"]
        preflight = requests.options(f"{base}/Condition", timeout=30, headers={
            "Origin": page, "Access-Control-Request-Method": "GET",
        })
        assert preflight.status_code == 204
        elsewhere = requests.get(f"{base}/Patient/lsb-01", timeout=30,
                                 headers={"Origin": "https://evil.invalid"})
        assert "Access-Control-Allow-Origin" not in elsewhere.headers
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0
